"""scripts/zoo.py on run folders made by hand: the rows it reads, its table, its target checks, its grids and
the sweep command it runs (no training, no MNIST)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def zoo() -> ModuleType:
    if str(ROOT / "scripts") not in sys.path:  # zoo.py imports sweep_runs.py from beside it, as when run
        sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location("zoo", ROOT / "scripts" / "zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = {"class_kl": 0.004, "fid_classifier": 2.0, "label_accuracy": 0.99}


def fake_job(sweep: Path, name: str, model: str, steps: int, status: dict | None, metrics: dict | None) -> None:
    """A job dir as a ganlab sweep leaves it: the composed config, status.json, metrics.json, a sample grid."""
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "config.yaml").write_text(
        f"model:\n  name: {model}\ndata:\n  name: mnist\ntrainer:\n  steps: {steps}\n")
    (job / "samples").mkdir()
    for step in (5, 10):
        (job / "samples" / f"step_{step:07d}.png").write_bytes(f"grid {model} {step}".encode())
    if status is not None:
        (job / "status.json").write_text(json.dumps(status))
    if metrics is not None:
        (job / "metrics.json").write_text(json.dumps({**metrics, "reference": REFERENCE, "reference_source": "test"}))


def sweep(tmp_path: Path) -> Path:
    out = tmp_path / "zoo" / "mnist"
    fake_job(out, "0_gan_mnist", "gan", 10, {"status": "done", "step": 10, "first_step": 0, "seconds": 120.0,
                                             "cpu_seconds": 60.0}, {"step": 10, "class_kl": 0.02, "fid_classifier": 9.0})
    fake_job(out, "1_cgan_mnist", "cgan", 10, {"status": "done", "step": 10, "first_step": 4, "seconds": 60.0,
                                               "cpu_seconds": 30.0},
             {"step": 10, "class_kl": 0.1, "fid_classifier": 12.0, "label_accuracy": 0.9})
    fake_job(out, "2_dcgan_mnist", "dcgan", 10, {"status": "running", "step": 3}, None)  # no process holds it: stopped
    (out / "multirun.yaml").write_text("hydra: {}\n")
    return out


def test_rows_table_and_targets(tmp_path: Path) -> None:
    z = zoo()
    rows = z.collect(sweep(tmp_path))
    assert [(r["model"], r["status"], r["steps"]) for r in rows] == [
        ("gan", "done", 10), ("cgan", "done", 10), ("dcgan", "stopped", None)]
    assert rows[0]["reference"] == REFERENCE and rows[0]["label_accuracy"] is None
    assert rows[2]["class_kl"] is None and rows[2]["grid"].endswith("step_0000010.png")
    lines = z.table(rows).splitlines()
    assert lines[2] == "| mnist | gan | 10 | 2.0 / 1.0 | 0.020 (0.004) | 9.0 (2.0) | – |"
    assert lines[3] == "| mnist | cgan | 10 | 1.0 / 0.5, from step 4 | 0.100 (0.004) | 12.0 (2.0) | 90.0 % (99.0 %) |"
    assert lines[4] == "| mnist | dcgan | 10 (stopped) | – | – | – | – |"
    assert z.targets(rows) == [
        "gan: class_kl 0.020 <= 0.05 -> met",
        "cgan: class_kl 0.100 > 0.05 -> MISSED",
        "cgan: label_accuracy 90.0 % < 95 % -> MISSED",
        "best fid_classifier: gan 9.0 = 4.5x the real data's 2.0 -> met (<= 5x)",
    ]
    json.dumps(rows)  # what --json writes


def test_grids_of_finished_runs(tmp_path: Path) -> None:
    z = zoo()
    docs = tmp_path / "docs"
    z.copy_grids(z.collect(sweep(tmp_path)), docs)
    assert sorted(p.name for p in docs.iterdir()) == ["mnist_cgan.png", "mnist_gan.png"]
    assert (docs / "mnist_gan.png").read_bytes() == b"grid gan 10"


def test_sweep_command(tmp_path: Path) -> None:
    z = zoo()
    cmd = z.sweep_command("mnist", ["gan", "dcgan"], tmp_path, "../shared/data", 2, None, ["seed=1"])
    assert cmd[1:] == ["train", "-m", "model=gan,dcgan", "data=mnist", "data.root=../shared/data", "eval.at_end=true",
                       "trainer.progress=false", f"hydra.sweep.dir={tmp_path / 'mnist'}", "hydra/launcher=joblib",
                       "hydra.launcher.n_jobs=2", "seed=1"]
    assert "hydra/launcher=joblib" not in z.sweep_command("mnist", ["gan"], tmp_path, "d", 1, 50, [])
    assert z.sweep_command("mnist", ["gan"], tmp_path, "d", 1, 50, [])[-1] == "trainer.steps=50"
