"""Shared test helpers: run the installed ``ganlab`` command in a subprocess, read a run's TensorBoard events."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# OpenMP threads that sleep while waiting, as the `ganlab` command sets them: in-process tests on a shared
# 2-core machine otherwise spin against the subprocesses they start.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

GANLAB = str(Path(sys.executable).with_name("ganlab"))
# tiny settings that keep one training run to a few seconds on a 2-core CPU
FAST = ["trainer.steps=20", "trainer.batch_size=16", "trainer.log_every=5", "trainer.sample_every=10",
        "trainer.ckpt_every=10", "trainer.progress=false", "model.hidden=32", "model.channels=8", "model.z_dim=16",
        "eval.n=200"]
# env for runs of tiny networks: a second torch thread only adds waiting (3x slower on a busy 2-core machine)
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def single_thread():
    """torch in one thread for a module's in-process work on tiny tensors (restored afterwards)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_ganlab(*args: str, cwd: Path | str | None = None, check: bool = True, timeout: float = 300,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``ganlab *args``; with ``check``, fail the test with the command's output if it exits non-zero."""
    full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", **(env or {})}
    proc = subprocess.run([GANLAB, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        pytest.fail(f"ganlab {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def train_run(run_dir: Path, *overrides: str, fast: bool = True) -> subprocess.CompletedProcess:
    """``ganlab train`` into ``run_dir`` with the tiny settings (later overrides win)."""
    return run_ganlab("train", *(FAST if fast else []), *overrides, f"hydra.run.dir={run_dir}")


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of a run's TensorBoard events, as (step, value) lists, read with TensorBoard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def read_image_tags(run_dir: Path) -> list[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0})
    acc.Reload()
    return acc.Tags()["images"]


from formats import make_cifar10, make_image_folder, make_mnist, write_idx  # noqa: E402,F401 -- shared helpers
