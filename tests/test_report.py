"""`ganlab report` on sweep folders made by hand: which rows, in which order, with which columns
(test_train reports a real sweep)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from conftest import ganlab_cli, run_ganlab

from ganlab.commands.report import main as report_main


def fake_run(sweep: Path, name: str, overrides: list[str], final: dict | None, best: dict | None = None) -> None:
    """A run dir as `ganlab train -m` leaves it: its overrides, metrics.json, checkpoints/best.json."""
    run = sweep / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (run / "checkpoints").mkdir()
    if final is not None:
        (run / "metrics.json").write_text(json.dumps(final))
    if best is not None:
        (run / "checkpoints" / "best.json").write_text(json.dumps(best))


def toy_sweep(root: Path) -> Path:
    sweep = root / "sweep"
    runs = {  # name: model, learning rate, final reverse KL (None: undefined), best (reverse KL, step)
        "0_gan_grid25": ("gan", "1e-4", 0.5, (0.4, 10)),
        "1_gan_grid25": ("gan", "1e-3", 0.1, (0.1, 20)),
        "2_wgan_gp_grid25": ("wgan_gp", "1e-4", None, None),
        "3_wgan_gp_grid25": ("wgan_gp", "1e-3", 0.3, (0.2, 10)),
    }
    for name, (model, lr, kl, best) in runs.items():
        fake_run(sweep, name, [f"model={model}", f"optim.lr={lr}", "data=grid25"],
                 {"step": 20, "modes": 25.0, "reverse_kl": kl},
                 {"step": best[1], "modes": 25.0, "reverse_kl": best[0]} if best else None)
    fake_run(sweep, "4_gan_grid25", ["model=gan", "optim.lr=1e-2", "data=grid25"], None)  # never finished
    (sweep / "multirun.yaml").write_text("hydra: {}\n")  # what Hydra leaves beside the runs
    (sweep / "notes").mkdir()  # a folder that is not a run
    return sweep


def test_report_rows_best_first_in_exact_order(tmp_path):
    """Sorted by the final headline metric, lowest reverse KL first; undefined and missing values last, in
    the runs' order; a value all runs share is not a column."""
    sweep = toy_sweep(tmp_path)
    assert report_main([str(sweep)]) == 0
    rows = list(csv.reader((sweep / "report.csv").open()))
    assert rows == [
        ["run", "model", "optim.lr", "step", "modes", "reverse_kl", "best reverse_kl", "best step"],
        ["1_gan_grid25", "gan", "1e-3", "20", "25.0", "0.1", "0.1", "20"],
        ["3_wgan_gp_grid25", "wgan_gp", "1e-3", "20", "25.0", "0.3", "0.2", "10"],
        ["0_gan_grid25", "gan", "1e-4", "20", "25.0", "0.5", "0.4", "10"],
        ["2_wgan_gp_grid25", "wgan_gp", "1e-4", "20", "25.0", "", "", ""],
        ["4_gan_grid25", "gan", "1e-2", "", "", "", "", ""],
    ]
    md = (sweep / "report.md").read_text()
    assert "Every run: `data=grid25`" in md and "Sorted by final `reverse_kl` (lower is better)" in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0][2:] for line in table] == ["run", "1_gan_grid25", "3_wgan_gp_grid25", "0_gan_grid25",
                                                            "2_wgan_gp_grid25", "4_gan_grid25"]
    assert table[1] == "| 1_gan_grid25 | gan | 1e-3 | 20 | 25 | 0.1 | 0.1 | 20 |"
    assert (sweep / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_shows_a_searchs_drawn_values_to_4_digits_and_keeps_them_whole_in_the_csv(tmp_path, capsys):
    sweep = tmp_path / "search"
    for i, (lr, kl) in enumerate((("0.0012304543324217", 0.25), ("0.04567891234", 0.5))):
        fake_run(sweep, f"{i}_gan_grid25", [f"optim.lr={lr}", "penalty.weight=1e-3"], {"step": 20, "reverse_kl": kl})
    out = ganlab_cli(capsys, "report", str(sweep)).stdout
    assert "0_gan_grid25  0.00123   20    0.25" in out and "1_gan_grid25  0.04568   20    0.5" in out
    assert "0.0012304543324217" not in out and "Every run: penalty.weight=1e-3" in out
    assert [r[1] for r in csv.reader((sweep / "report.csv").open())] == ["optim.lr", "0.0012304543324217", "0.04567891234"]


def test_report_without_metrics_says_how_to_get_them(tmp_path):
    sweep = tmp_path / "sweep"
    for i in range(2):
        fake_run(sweep, f"{i}_gan_digits", [f"seed={i}"], None)
    assert report_main([str(sweep), f"out={tmp_path / 'out'}"]) == 0
    assert "No run has metrics" in (tmp_path / "out" / "report.md").read_text()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.csv", "report.md"]
    assert not (sweep / "report.md").exists()


def test_report_command(tmp_path, capsys):
    sweep = toy_sweep(tmp_path)
    out = run_ganlab("report", str(sweep)).stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["run", "model", "optim.lr"] and lines[2].startswith("1_gan_grid25")
    assert "Every run: data=grid25" in out and f"wrote {sweep / 'report.md'}" in out
    missing = ganlab_cli(capsys, "report", str(tmp_path / "nothing"), check=False)
    assert missing.returncode == 2 and "multirun dir" in missing.stderr and "Traceback" not in missing.stderr
