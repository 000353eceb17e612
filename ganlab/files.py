"""Files that matter are written whole or not at all: into a temporary file beside the target, then renamed.
A write that fails (a full disk, a read-only folder, a path through a file) is a :class:`GanlabError` that says
why in words and what to do."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ganlab.errors import GanlabError

WRITE_FIX = "Choose a path in a folder you may write to (it is made when missing, but not inside a file)."


def write_error(err: OSError, path: Path, fix: str) -> GanlabError:
    """One paragraph for an OSError met writing ``path``: what is wrong, in words, and ``fix``."""
    folder = path.parent if path.name else path
    reasons = {
        errno.ENOSPC: f"no space left on {folder}",
        errno.EDQUOT: f"the disk quota is exceeded on {folder}",
        errno.EACCES: f"permission denied: {folder} is not writable",
        errno.EPERM: f"permission denied: {folder} is not writable",
        errno.EROFS: f"{folder} is on a read-only file system",
        errno.EISDIR: f"{path} is a directory",
        errno.ENOTDIR: f"a parent of {path} is a file, not a folder",
        errno.ENAMETOOLONG: f"the name {path} is too long",
        errno.EEXIST: f"{path} is a file, not a folder",
    }
    reason = reasons.get(err.errno or 0, f"{err.strerror or err}")
    return GanlabError(f"cannot write {path}: {reason}. {fix}")


@contextlib.contextmanager
def writing(path: Path, fix: str = WRITE_FIX) -> Iterator[None]:
    """Turn an OSError raised while writing ``path`` (or a file in it) into a GanlabError that says why and what
    to do."""
    try:
        yield
    except OSError as err:
        raise write_error(err, Path(err.filename) if isinstance(err.filename, str) else path, fix) from err


def atomic_write(path: Path, write: Callable[[Path], object], fix: str = WRITE_FIX) -> None:
    """Call ``write(tmp)`` on a temporary file in ``path``'s folder (with ``path``'s suffix, which some writers
    read), then rename it to ``path``: a crash or an error mid-write leaves no partial file and any previous
    ``path`` intact. A folder that cannot be made or written, or a full disk, is a :class:`GanlabError` naming
    it, with ``fix``."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # the usual mode of a new file (safetensors writes its files 0600)
        os.replace(tmp, path)
    except OSError as err:
        kept = f" The previous {path.name} is kept." if path.is_file() else ""
        raise write_error(err, path, fix + kept) from err
    finally:
        with contextlib.suppress(OSError):  # a folder that could not be made holds no temporary file
            tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str, fix: str = WRITE_FIX) -> None:
    """``text`` into ``path`` atomically: readers see the old file or the new one."""
    atomic_write(path, lambda tmp: tmp.write_text(text), fix)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
