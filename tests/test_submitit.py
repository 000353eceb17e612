"""Cluster jobs through submitit's local launcher (real processes): a job stopped by SIGTERM, or preempted by
SIGUSR2 and requeued, continues exactly; and the signal handling they rely on. In their own file so that
`pytest -n` runs them beside test_sweeps.py's other launcher tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import GANLAB, ONE_THREAD, ganlab_cli, read_scalars, tiny_trainer

from ganlab.training.signals import StopSignals, exit_after


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
