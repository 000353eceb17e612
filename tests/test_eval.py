"""Evaluation and diagnostics through the `ganlab` command: eval, periodic metrics, best.pt, HParams,
warnings, divergence, Inception weights, Stacked MNIST and sweep reports."""

from __future__ import annotations

import json
import math

import pytest
from conftest import FAST, make_mnist, read_scalars, run_ganlab, train_run

TOY_METRICS = {"modes", "hq_fraction", "reverse_kl"}


def read_json(path):
    return json.loads(path.read_text())


def hparams_of(run_dir) -> dict[str, object]:
    """The hyperparameters a run wrote for TensorBoard's HParams tab, read back with TensorBoard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    assert metadata.SESSION_END_INFO_TAG in content
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    return {k: v.string_value or v.number_value for k, v in start.hparams.items()}


def test_toy_eval_periodic_metrics_best_checkpoint_and_untouched_rng(tmp_path):
    common = ["data=grid25", "trainer.log_every=1", "seed=3"]
    train_run(tmp_path / "plain", *common, "eval.at_end=false")
    train_run(tmp_path / "evaluated", *common, "eval.every=5")
    plain, evaluated = read_scalars(tmp_path / "plain"), read_scalars(tmp_path / "evaluated")
    # evaluating every 5 steps leaves the training stream alone: identical losses at every step
    for tag in ("Loss/D", "Loss/G", "D/real"):
        assert evaluated[tag] == plain[tag], tag
    for name in TOY_METRICS:
        assert [s for s, _ in evaluated[f"Metrics/{name}"]] == [5, 10, 15, 20]
    assert not any(t.startswith("Metrics/") for t in plain) and not (tmp_path / "plain" / "metrics.json").exists()
    gap = dict(evaluated["D/gap"])
    assert gap[7] == pytest.approx(dict(evaluated["D/real"])[7] - dict(evaluated["D/fake"])[7], abs=1e-6)
    assert all(v > 0 for _, v in evaluated["Diversity/pairwise"])

    run = tmp_path / "evaluated"
    final = read_json(run / "metrics.json")
    assert final["step"] == 20 and final.keys() >= TOY_METRICS
    assert final["modes"] == dict(evaluated["Metrics/modes"])[20]
    assert 0 <= final["hq_fraction"] <= 1 and 0 <= final["modes"] <= 25
    if (run / "checkpoints" / "best.pt").exists():  # kept whenever some evaluation had a defined reverse KL
        best = read_json(run / "checkpoints" / "best.json")
        finite = [v for _, v in evaluated["Metrics/reverse_kl"] if math.isfinite(v)]
        assert best["reverse_kl"] == pytest.approx(min(finite))
    hp = hparams_of(run)
    assert hp["model.name"] == "gan" and hp["data.name"] == "grid25" and hp["eval.every"] == 5

    # `ganlab eval` on the same run: the protocol's 2,500 samples by default, n= to change it
    out = run_ganlab("eval", f"run={run}", "n=500").stdout
    assert "2500" not in out and "500 samples" in out and "reverse_kl" in out
    again = read_json(run / "metrics.json")
    assert again["step"] == 20 and again.keys() >= TOY_METRICS
    bad = run_ganlab("eval", f"run={run}", "samples=10", check=False)
    assert bad.returncode == 2 and "samples" in bad.stderr and "run, n" in bad.stderr and "Traceback" not in bad.stderr


def test_image_metrics_with_a_trained_classifier_and_no_inception_weights(tmp_path):
    """cGAN on digits and on Stacked MNIST (built from MNIST-format files): the classifier is trained on the
    real images and cached; Inception metrics are skipped with one line when no weights are at hand."""
    make_mnist(tmp_path / "data", n=200)
    cache = tmp_path / "cache"
    proc = run_ganlab("train", "-m", "model=cgan", "data=digits,stacked_mnist", *FAST,
                      f"data.root={tmp_path / 'data'}", f"eval.cache_dir={cache}", f"hydra.sweep.dir={tmp_path / 'runs'}",
                      env={"TORCH_HOME": str(tmp_path / "torch_home")})
    output = proc.stdout + proc.stderr
    assert output.count("no Inception weights") == 2  # one line per run, and no traceback
    assert "Traceback" not in output and "accuracy" in output
    assert len(list(cache.glob("classifier_digits_1x8x8_*.pt"))) == 1
    assert len(list(cache.glob("classifier_mnist_1x28x28_*.pt"))) == 1
    digits = read_json(tmp_path / "runs" / "0_cgan_digits" / "metrics.json")
    assert {"fid_classifier", "class_kl", "label_accuracy", "classifier_accuracy"} <= digits.keys()
    assert digits["classifier_accuracy"] >= 0.9  # on the held-out sixth of scikit-learn's digits
    assert digits["fid_classifier"] > 0 and 0 <= digits["class_kl"] <= math.log(10) + 1e-9
    assert not {"fid", "kid", "inception_score"} & digits.keys()
    stacked = read_json(tmp_path / "runs" / "1_cgan_stacked_mnist" / "metrics.json")
    assert 1 <= stacked["modes"] <= 200 and 0 <= stacked["reverse_kl"] <= math.log(1000) + 1e-9
    assert 0 <= stacked["label_accuracy"] <= 1
    scalars = read_scalars(tmp_path / "runs" / "1_cgan_stacked_mnist")
    assert "Metrics/modes" in scalars and "Metrics/reverse_kl" in scalars

    # an explicit weights file that is missing, or is not Inception's, is a one-line error, not a traceback
    run = tmp_path / "runs" / "0_cgan_digits"
    missing = run_ganlab("eval", f"run={run}", f"cache_dir={cache}", "inception_weights=/no/such/file.pth", check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "garbage.pth").write_bytes(b"not weights")
    broken = run_ganlab("eval", f"run={run}", "n=64", f"inception_weights={tmp_path / 'garbage.pth'}", check=False,
                        env={"GANLAB_CACHE": str(tmp_path / "empty_cache")})
    assert broken.returncode == 2 and "is not the Inception weights" in broken.stderr and "Traceback" not in broken.stderr
    assert "trained the" not in broken.stdout  # the run's eval.cache_dir was used, and its classifier reused


def test_warnings_then_divergence_keeps_the_last_good_checkpoint(tmp_path):
    """A G too slow to learn against a fast D: D wins outright and the samples stay collapsed, and the console
    says both. Resumed with an absurd learning rate the losses go non-finite: training stops with one clear
    message and the last good checkpoint is left as it was."""
    run = tmp_path / "run"
    proc = train_run(run, "data=grid25", "trainer.steps=30", "trainer.log_every=2", "trainer.ckpt_every=30",
                     "optim.lr=1e-9", "optim.lr_d=3e-2", "eval.warn_window=2", "eval.warn_d_fake=0.1")
    assert "D wins outright" in proc.stdout and "possible mode collapse" in proc.stdout
    good = (run / "checkpoints" / "last.pt").read_bytes()
    diverged = run_ganlab("train", f"resume={run}", "trainer.steps=60", "optim.lr=1e30", "optim.lr_d=1e30", check=False)
    assert diverged.returncode == 2, diverged.stdout + diverged.stderr
    assert "training diverged" in diverged.stderr and "last good checkpoint is kept" in diverged.stderr
    assert "Traceback" not in diverged.stderr
    assert (run / "checkpoints" / "last.pt").read_bytes() == good


def test_report_of_a_four_run_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    run_ganlab("train", "-m", "model=gan,wgan_gp", "optim.lr=1e-4,1e-3", "data=grid25", *FAST, "eval.every=10",
               f"hydra.sweep.dir={sweep}")
    out = run_ganlab("report", str(sweep)).stdout
    assert "reverse_kl" in out and "Every run:" in out
    for name in ("report.md", "report.csv", "report.png"):
        assert (sweep / name).is_file(), name
    import csv

    rows = list(csv.DictReader((sweep / "report.csv").open()))
    assert len(rows) == 4
    assert {(r["model"], float(r["optim.lr"])) for r in rows} == {(m, lr) for m in ("gan", "wgan_gp") for lr in (1e-4, 1e-3)}
    assert "data" not in rows[0]  # a value every run shares is not a column
    kl = [float(r["reverse_kl"]) if r["reverse_kl"] not in ("", "nan") else math.inf for r in rows]
    assert kl == sorted(kl)  # best (lowest reverse KL) first
    for r in rows:
        assert r["step"] == "20" and int(r["best step"] or 10) in (10, 20)
        assert hparams_of(sweep / r["run"])["optim.lr"] == pytest.approx(float(r["optim.lr"]))
    assert (sweep / "report.md").read_text().count("\n| ") == 5  # header and four runs
    png = (sweep / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    missing = run_ganlab("report", str(tmp_path / "nothing"), check=False)
    assert missing.returncode == 2 and "multirun dir" in missing.stderr
