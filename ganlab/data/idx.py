"""The IDX file format of MNIST and Fashion-MNIST: a big-endian header, then the array; plain or gzip-compressed."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ganlab.errors import GanlabError

DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file; a truncated, corrupt or foreign file is a GanlabError naming it."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:  # gzip: bad magic, CRC mismatch, cut short
        raise GanlabError(f"{path} cannot be read ({type(err).__name__}: {err}); the file is corrupt or truncated. "
                          "Replace it with the original file.") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise GanlabError(f"{path} is not an IDX file (bad magic number). Replace it with the original file.")
    if data[2] not in DTYPES:
        raise GanlabError(f"{path} has an unknown IDX element type 0x{data[2]:02x}. Replace it with the original file.")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise GanlabError(f"{path} is truncated inside its header. Replace it with the original file.")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    itemsize = np.dtype(DTYPES[data[2]]).itemsize
    if (len(data) - 4 - 4 * ndim) != int(np.prod(dims)) * itemsize:
        raise GanlabError(f"{path} is truncated or padded: its header says {dims}, the file holds "
                          f"{(len(data) - 4 - 4 * ndim) // itemsize} values. Replace it with the original file.")
    return np.frombuffer(data, dtype=DTYPES[data[2]], offset=4 + 4 * ndim).reshape(dims)
