"""Sweeps beyond one process: parallel jobs (joblib), cluster jobs (submitit) that stop on a signal and continue
exactly, hyperparameter search (Optuna), and what `ganlab report` makes of each."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import FAST, GANLAB, ONE_THREAD, ganlab_cli, read_scalars, run_ganlab, tiny_trainer

from ganlab.commands.config import compose_config
from ganlab.commands.sweep import limit_threads
from ganlab.commands.train import train
from ganlab.training.signals import StopSignals, exit_after


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


def test_a_signal_is_recorded_then_handed_to_the_handler_before(monkeypatch):
    seen = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: seen.append(signum))
    try:
        stop = StopSignals().install()
        os.kill(os.getpid(), signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.received == signal.SIGUSR2 and seen == []  # recorded, the first one kept, nothing else ran
        stop.restore()
        with pytest.raises(SystemExit) as exited:
            exit_after(signal.SIGUSR2)
        assert seen == [signal.SIGUSR2] and exited.value.code == 128 + signal.SIGUSR2
    finally:
        signal.signal(signal.SIGUSR2, previous)


# ------------------------------------------------------------------------------------------------- submitit
# a toy run long enough to be signalled mid-run, logged at every step so that its curves can be compared
RUN = ["data=grid25", "trainer.steps=100", "trainer.log_every=1", "trainer.ckpt_every=20", "trainer.sample_every=100",
       "trainer.batch_size=16", "trainer.progress=false", "model.hidden=32", "model.z_dim=16", "eval.n=200", "eval.at_end=false"]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _submitit_sweep(sweep: Path, sig: int | None = None, to_task: bool = False) -> tuple[int, str]:
    """The sweep command with submitit's local launcher (one job); with ``sig``, the job is sent it once its
    first checkpoint is written: through submitit's controller (which passes SIGTERM on), or to the task
    itself. Returns the command's exit status and the job's log."""
    cmd = [GANLAB, "train", "-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", *RUN,
           f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **ONE_THREAD})
    if sig is not None:
        first = sweep / "0_gan_grid25" / "checkpoints" / "step_0000020.pt"
        deadline = time.monotonic() + 240
        while not first.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        controller = next(int(p.name) for p in (sweep / ".submitit").iterdir() if p.name.isdigit())
        os.kill(_children(controller)[0] if to_task else controller, sig)
    out, _ = proc.communicate(timeout=300)
    logs = "".join(p.read_text() for p in sorted((sweep / ".submitit").rglob("*_log.out")))
    return proc.returncode, out + logs


def _assert_continues_exactly(reference: Path, run: Path, stopped_at: int) -> None:
    ref, got = read_scalars(reference), read_scalars(run)
    for tag in ("Loss/D", "Loss/G"):
        a, b = dict(ref[tag]), dict(got[tag])
        assert sorted(b) == list(range(1, 101)), tag
        for step in range(stopped_at + 1, 101):
            assert b[step] == pytest.approx(a[step], abs=1e-6), (tag, step)
    final = [torch.load(d / "checkpoints" / "last.pt", weights_only=True) for d in (reference, run)]
    assert final[1]["step"] == 100
    for net in ("G", "D"):
        assert all(torch.equal(final[0][net][k], final[1][net][k]) for k in final[0][net]), net


def _stopped_at(log: str, name: str) -> int:
    line = next(x for x in log.splitlines() if f"ganlab: {name}: stopped after step" in x)
    return int(line.split("stopped after step ")[1].split()[0])


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run the stopped jobs must end as: trained in this process, in one thread as the jobs."""
    run = tmp_path_factory.mktemp("reference")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tiny_trainer(run, *RUN).fit()
    finally:
        torch.set_num_threads(threads)
    return run


def test_submitit_job_stopped_by_sigterm_continues_exactly(tmp_path, reference):
    """Real submitit jobs (hydra/launcher=submitit_local). SIGTERM: the job ends its step, saves last.pt there
    and returns; the sweep command lists it as stopped at once (exit 2, no traceback); the same sweep command run
    again continues it, and ends as an uninterrupted run."""
    sweep = tmp_path / "terminated"
    rc, log = _submitit_sweep(sweep, signal.SIGTERM)
    step = _stopped_at(log, "SIGTERM")
    assert rc == 2 and "Traceback" not in log, log
    assert f"0_gan_grid25: stopped: SIGTERM after step {step} (last.pt saved)" in log, log
    assert 20 <= step < 100 and f"hydra.sweep.dir={sweep}" in log
    assert torch.load(sweep / "0_gan_grid25" / "checkpoints" / "last.pt", weights_only=True)["step"] == step
    rc, log = _submitit_sweep(sweep)
    assert rc == 0 and f"resuming at step {step} " in log, log
    _assert_continues_exactly(reference, sweep / "0_gan_grid25", step)


def test_submitit_job_preempted_by_sigusr2_is_requeued_and_continues_exactly(tmp_path, reference, capsys):
    """SIGUSR2 (submitit's preemption signal): the job saves, submitit requeues it, and the requeued job
    continues by itself, ending as an uninterrupted run."""
    sweep = tmp_path / "preempted"
    rc, log = _submitit_sweep(sweep, signal.SIGUSR2, to_task=True)
    assert rc == 0, log
    step = _stopped_at(log, "SIGUSR2")
    assert "Requeued job" in log and f"resuming at step {step} " in log, log
    _assert_continues_exactly(reference, sweep / "0_gan_grid25", step)
    assert "0_gan_grid25" in ganlab_cli(capsys, "report", str(sweep)).stdout


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
    assert "Failed experiment: training diverged" in proc.stdout + proc.stderr
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
