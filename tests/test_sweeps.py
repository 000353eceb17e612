"""Sweeps beyond one process: parallel jobs (joblib), sweeps continued with resume=auto, hyperparameter search
(Optuna), and what `ganlab report` makes of each (submitit's cluster jobs: test_submitit.py)."""

from __future__ import annotations

import functools
import os
import subprocess

import torch
from conftest import FAST, GANLAB, ONE_THREAD, ganlab_cli, run_ganlab, tiny_trainer

from ganlab.commands.compose import compose_config
from ganlab.commands.sweep import limit_threads
from ganlab.commands.train import train


def test_joblib_sweep_runs_jobs_side_by_side_on_their_share_of_the_cores(tmp_path, capsys):
    import joblib

    sweep = tmp_path / "sweep"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # joblib gives each job its share
    proc = subprocess.run([GANLAB, "train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "data=grid25",
                           "seed=0,1", *FAST, f"hydra.sweep.dir={sweep}"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    share = max(joblib.cpu_count() // 2, 1)
    assert proc.stdout.count(f"ganlab: joblib job, {share} torch thread") == 2, proc.stdout
    assert "Joblib.Parallel(n_jobs=2" in proc.stdout + proc.stderr
    assert all((sweep / f"{i}_gan_grid25" / "metrics.json").is_file() for i in (0, 1))
    report = ganlab_cli(capsys, "report", str(sweep)).stdout
    assert "0_gan_grid25" in report and "1_gan_grid25" in report


def test_a_joblib_jobs_threads_follow_n_jobs_unless_omp_num_threads_is_set(monkeypatch):
    import joblib

    before = torch.get_num_threads()
    monkeypatch.setattr(joblib, "cpu_count", lambda: 16)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        assert [limit_threads(n) for n in (4, 3, -1, -13, 32)] == [4, 5, 1, 4, 1]  # -13: 16 + 1 - 13 jobs
        torch.set_num_threads(2)
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert limit_threads(4) == 2  # the user's (or joblib's own) setting stands
    finally:
        torch.set_num_threads(before)


def test_resume_auto_continues_only_the_same_run(tmp_path, capsys):
    """A finished run's dir: resume=auto with its config has nothing to train (in this process); with another
    model it is refused by the command, naming the difference, and the run is kept."""
    run = tmp_path / "run"
    tiny_trainer(run, "data=grid25", "trainer.steps=10").fit()
    capsys.readouterr()
    train(compose_config([*FAST, "device=cpu", "device.precision=fp32", "data=grid25", "trainer.steps=10",
                          "resume=auto"]), run)
    assert "finished at step 10: nothing to train" in capsys.readouterr().out
    kept = (run / "checkpoints" / "last.pt").read_bytes()
    other = run_ganlab("train", *FAST, "device=cpu", "device.precision=fp32", "data=grid25", "model=wgan",
                       "resume=auto", f"hydra.run.dir={run}", check=False)
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert "already holds another run (model.name: gan there, wgan here" in other.stderr
    assert (run / "checkpoints" / "last.pt").read_bytes() == kept


# ------------------------------------------------------------------------------------------------- optuna
def test_optuna_search_minimises_the_headline_metric_past_a_diverged_trial(tmp_path, capsys):
    """Three trials drawn by a seeded sampler: lr 2e-3, then 1e30 (diverges: a failed trial), then 1e-3."""
    sweep = tmp_path / "search"
    proc = run_ganlab("train", "-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=random",
                      "hydra.sweeper.sampler.seed=1", "hydra.sweeper.n_trials=3", "optim.lr=choice(1e30, 2e-3, 1e-3)",
                      "data=grid25", "model.hidden=32", "model.z_dim=8", "penalty=none", "trainer.steps=300",
                      "trainer.log_every=50", "trainer.sample_every=300", "trainer.ckpt_every=300",
                      "trainer.progress=false", f"hydra.sweep.dir={sweep}", env=ONE_THREAD)
    out = proc.stdout + proc.stderr  # the failed trial in one line, without Hydra's "Error executing job" or colours
    said = [line.split("] ", 1)[-1].split(":")[0] for line in out.splitlines() if "training diverged" in line]
    assert said == ["Failed experiment", "  1_gan_grid25"]  # the line as it fails, and the sweep's summary
    assert "Error executing job" not in out and "\x1b[" not in out
    trials = {float(p.read_text().split("optim.lr=")[1].split("\n")[0]): p.parents[1]
              for p in sweep.glob("*/.hydra/overrides.yaml")}
    assert sorted(trials) == [1e-3, 2e-3, 1e30] and trials[1e30].name.startswith("1_")  # the study went on
    assert not (trials[1e30] / "metrics.json").exists()
    import json

    from omegaconf import OmegaConf

    kl = {lr: json.loads((trials[lr] / "metrics.json").read_text())["reverse_kl"] for lr in (1e-3, 2e-3)}
    study = OmegaConf.load(sweep / "optimization_results.yaml")
    best = min(kl, key=kl.get)
    assert study.best_value == kl[best] and study.best_params["optim.lr"] == best
    report = ganlab_cli(capsys, "report", str(sweep)).stdout
    assert f"Optuna search: 3 trials (1 failed or unfinished). Best trial: {trials[best].name} with optim.lr={best:g}" in report
    rows = [line.split()[0] for line in report.splitlines() if line[:1].isdigit()]
    assert rows[0] == trials[best].name and rows[-1] == trials[1e30].name


def test_a_search_whose_every_trial_failed_says_so_in_a_paragraph(tmp_path):
    """Two trials too short to place a sample near a mode (reverse_kl undefined): each failed trial is a line,
    and the study, with no best trial, ends in one paragraph (exit 2), not the sweeper's traceback."""
    proc = run_ganlab("train", "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "optim.lr=choice(1e-3, 2e-3)",
                      "data=grid25", "model.hidden=16", "trainer.steps=3", "trainer.progress=false", "eval.n=200",
                      f"hydra.sweep.dir={tmp_path / 'search'}", env=ONE_THREAD, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (proc.stdout + proc.stderr).count("Failed experiment: the trial ended without a finite headline metric") == 2
    assert "no trial of the search completed" in proc.stderr and "0 of 2 jobs done" in proc.stderr


def test_a_sweep_that_cannot_run_is_refused_before_any_job(tmp_path, capsys):
    """A launcher option or key that does not exist, a search with nothing to optimise, in the wrong direction or
    over a key that does not exist: refused before any job starts (no sweep dir is made), naming the fix. The
    first through the command, the others through its dispatcher in this process (they never reach Hydra's
    launch)."""
    sweep = tmp_path / "sweep"
    cases = [
        (["hydra/launcher=nope", "seed=0,1"], "Available options in 'hydra/launcher':\n\tbasic\n\tjoblib"),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobz=2", "seed=0,1"], "Key 'n_jobz' not in 'JobLibLauncherConf'"),
        (["hparams_search=gan_grid25", "eval.at_end=false"], "eval.at_end=false leaves nothing"),
        (["hparams_search=dcgan_mnist", "hydra.sweeper.direction=maximize"], "must minimize it"),
        (["--config-dir", str(tmp_path / "mine"), "hparams_search=typo"],
         "hydra.sweeper.params (the search space): unknown config key 'optim.lrr'. Did you mean 'optim.lr'?"),
    ]
    search = tmp_path / "mine" / "hparams_search"
    search.mkdir(parents=True)
    (search / "typo.yaml").write_text("# @package _global_\ndefaults:\n  - override /hydra/sweeper: optuna\n"
                                      "hydra:\n  sweeper:\n    params:\n      optim.lrr: interval(0.1, 0.2)\n")
    for i, (args, message) in enumerate(cases):
        run = run_ganlab if i == 0 else functools.partial(ganlab_cli, capsys)
        proc = run("train", "-m", *args, f"hydra.sweep.dir={sweep}", check=False)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
    assert not sweep.exists()
