"""Small data sets written in the real file formats (IDX, CIFAR-10 pickles, PNG folders), for the tests and for
scripts that need data files without the real ones."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    """Write ``array`` as a uint8 IDX file (to ``path.gz``, compressed, with ``gz``): the inverse of read_idx."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(f"{path}.gz", "wb") as f:
            f.write(header + array.tobytes())
    else:
        path.write_bytes(header + array.tobytes())


def make_mnist(root: Path, n: int = 64, folder: str = "MNIST", gz: bool = False):
    """A small MNIST-format dataset under ``root/<folder>/raw``: digit-like blobs with labels 0..9."""
    import numpy as np

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
