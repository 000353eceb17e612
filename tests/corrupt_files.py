"""Broken and hostile copies of every file format ganlab reads, for the tests and scripts/bad_inputs.py:
pickles whose loading would run code, truncated and foreign files, images that lie about their size."""

from __future__ import annotations

import gzip
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np


class Payload:
    """Unpickling this creates ``marker`` (``open(marker, "w")``), as a shell command in a crafted file would
    run: a marker that appears proves a loader ran code from the file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def hostile_checkpoint(path: Path, marker: Path, state: dict | None = None) -> None:
    """A checkpoint (``state``'s keys, if given) that also holds a :class:`Payload`."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**(state or {}), "extra": Payload(marker)}, path)


def hostile_weights(path: Path, marker: Path) -> None:
    """A state dict of tensors, plus a :class:`Payload` (where the Inception weights are expected)."""
    import torch

    torch.save({"conv.weight": torch.zeros(2, 2), "extra": Payload(marker)}, path)


def write_cifar_batch(path: Path, batch: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(batch, f)


def cifar_batch(n: int = 4, labels: list[int] | None = None) -> dict:
    """What a CIFAR-10 batch holds: uint8 rows of 3,072 values and one label each."""
    return {"batch_label": "testing", "labels": labels or [i % 10 for i in range(n)],
            "data": np.zeros((n, 3072), np.uint8), "filenames": [f"{i}.png" for i in range(n)]}


def hostile_cifar_batch(path: Path, marker: Path) -> None:
    write_cifar_batch(path, {**cifar_batch(), "filenames": Payload(marker)})


def truncated(path: Path, keep: float = 0.5) -> None:
    """Cut ``path`` to a ``keep`` share of its bytes (a copy interrupted, a download cut short)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def corrupt_gzip(path: Path) -> None:
    """A gzip header followed by bytes that are not a deflate stream."""
    path.write_bytes(gzip.compress(b"x" * 64)[:10] + bytes(range(256)) * 4)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb_png(path: Path, side: int = 30_000) -> None:
    """A tiny PNG whose header claims ``side`` x ``side`` pixels (900 million by default)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + _chunk(b"IEND", b""))


def gray16_png(path: Path, value: int, size: int = 16) -> None:
    """A 16-bit grayscale PNG of one value (0..65535) everywhere."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint16)).save(path)
