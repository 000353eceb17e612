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


# ------------------------------------------------------------------ small datasets in the real file formats
def make_mnist(root: Path, n: int = 64, folder: str = "MNIST", gz: bool = False):
    """A small MNIST-format dataset under ``root/<folder>/raw``: digit-like blobs with labels 0..9."""
    import numpy as np

    from ganlab.data.loaders import write_idx

    rng = np.random.default_rng(0)
    labels = np.arange(n, dtype=np.uint8) % 10
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i, y in enumerate(labels):  # a bar whose position encodes the class, plus noise
        images[i, 4:24, 2 + 2 * y : 5 + 2 * y] = 255
        images[i] |= rng.integers(0, 40, (28, 28), dtype=np.uint8)
    raw = root / folder / "raw"
    write_idx(raw / "train-images-idx3-ubyte", images, gz)
    write_idx(raw / "train-labels-idx1-ubyte", labels, gz)
    return images, labels


def make_cifar10(root: Path, per_batch: int = 8):
    """The CIFAR-10 python layout: ``cifar-10-batches-py/data_batch_1..5`` pickles of uint8 rows + labels."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(1)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    batches = []
    for i in range(1, 6):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump({"batch_label": f"training batch {i} of 5", "labels": labels, "data": data,
                         "filenames": [f"img{j}.png" for j in range(per_batch)]}, f)
        batches.append((data, labels))
    return batches


def make_image_folder(root: Path, classes: tuple[str, ...] = ("cats", "dogs"), per_class: int = 4, size: int = 40):
    """PNG files in class sub-folders (or directly in ``root`` when ``classes`` is empty)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(2)
    for c in classes or ("",):
        (root / c).mkdir(parents=True, exist_ok=True)
        for j in range(per_class):
            pixels = rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / c / f"{j}.png")
    return root
