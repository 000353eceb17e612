"""Files that matter are written whole or not at all: into a temporary file beside the target, then renamed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from ganlab.errors import GanlabError


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file in ``path``'s folder (with ``path``'s suffix, which some writers
    read), then rename it to ``path``: a crash or an error mid-write leaves no partial file and any previous
    ``path`` intact. A folder that cannot be made or written is a :class:`GanlabError` naming it."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # the usual mode of a new file (safetensors writes its files 0600)
        os.replace(tmp, path)
    except OSError as err:
        raise GanlabError(f"cannot write {path} ({err.strerror or err}). Choose a path in a folder you may write "
                          "to (it is made when missing, but not inside a file).") from err
    finally:
        with contextlib.suppress(OSError):  # a folder that could not be made holds no temporary file
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
