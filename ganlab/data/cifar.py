"""CIFAR-10: the Python pickles under ``<root>/cifar-10-batches-py`` (50,000 32x32 RGB images, 10 classes).

The batches are pickles, and unpickling can run code: they are read with an unpickler that admits only what
the format holds (dicts, lists, strings, bytes, ints and numpy arrays), so a crafted file is refused unread.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from ganlab.data import DATASETS
from ganlab.data.base import FileParams, ImageTensors
from ganlab.data.files import download, missing_files_error
from ganlab.errors import GanlabError

FILES = tuple(f"data_batch_{i}" for i in range(1, 6))


def _numpy_reconstruct() -> Any:
    core = getattr(np, "_core", None) or np.core
    return core.multiarray._reconstruct


# the only globals a CIFAR batch refers to: numpy's array reconstruction, under its old and new module names
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class BatchUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays; any other class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]()
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR-10 batch never holds")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` uint8 and int64 labels of one batch file."""
    try:
        with open(path, "rb") as fh:
            batch = BatchUnpickler(fh, encoding="latin1").load()
        if not isinstance(batch, dict):
            raise ValueError(f"it holds a {type(batch).__name__}, not a dict")
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        data, labels = batch["data"], batch["labels"]
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            raise ValueError("'data' is not a uint8 array of 3,072 values a row")
        y = np.asarray(labels, dtype=np.int64)
        if y.shape != (len(data),) or (y.size and (y.min() < 0 or y.max() > 9)):
            raise ValueError("'labels' are not one class in 0..9 per row")
    except (pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError, AttributeError, IndexError) as err:
        raise GanlabError(f"{path} is not a CIFAR-10 batch ({err}); nothing in it was run. Replace it with the "
                          "original file from the CIFAR-10 python archive.") from err
    return data.reshape(-1, 3, 32, 32), y


@DATASETS.register("cifar10", params=FileParams)
def load_cifar10(cfg: DictConfig) -> ImageTensors:
    root = Path(cfg.root).expanduser()
    folder = root / "cifar-10-batches-py"
    if not all((folder / f).is_file() for f in FILES) and cfg.download:
        import torchvision

        download(lambda: torchvision.datasets.CIFAR10(root, train=True, download=True))
    if not all((folder / f).is_file() for f in FILES):
        raise missing_files_error("cifar10", folder, FILES, root)
    xs, ys = zip(*(read_batch(folder / f) for f in FILES), strict=True)
    return ImageTensors("cifar10", torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)), 10,
                        cache_dir=root / "ganlab")
