"""Files that matter are written whole or not at all: into a temporary file beside the target, then renamed.
A write that fails (a full disk, a read-only folder, a path through a file) is a :class:`GanlabError` that says
why in words and what to do. Nothing is written through a symbolic link: a rename replaces a link, never its
target; a file opened in place (a lock) is opened with ``O_NOFOLLOW``; and :func:`refuse_links` names the links
where a command is about to write."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ganlab.errors import GanlabError

WRITE_FIX = "Choose a path in a folder you may write to (it is made when missing, but not inside a file)."
# the temporary file atomic_write writes beside ``path``: ``.<stem>.<pid>.tmp<suffix>``
_TEMPORARY = re.compile(r"\.(?P<stem>.+)\.(?P<pid>\d+)\.tmp(?P<suffix>\.[^.]*)?")


def write_error(err: OSError, path: Path, fix: str) -> GanlabError:
    """One paragraph for an OSError met writing ``path``: what is wrong, in words, and ``fix``."""
    try:
        folder = path if path.is_dir() or not path.name else path.parent
    except OSError:  # a name too long to look up
        folder = path.parent
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
        raise write_error(err, _named(err) or path, fix) from err


def _named(err: OSError) -> Path | None:
    """The file an OSError names (a str or, from some writers, bytes), if any."""
    return Path(os.fsdecode(err.filename)) if isinstance(err.filename, (str, bytes)) else None


@contextlib.contextmanager
def disk_errors(fix: str, where: Callable[[], Path]) -> Iterator[None]:
    """Turn an OSError that says the disk is full or read-only, or a folder not writable, raised by code that
    writes files of its own (Hydra's), into a GanlabError naming the file (or ``where()``, the folder it wrote
    in, when the error does not say); other OSErrors pass."""
    try:
        yield
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        raise write_error(err, _named(err) or where(), fix) from err


def atomic_write(path: Path, write: Callable[[Path], object], fix: str = WRITE_FIX) -> None:
    """Call ``write(tmp)`` on a temporary file in ``path``'s folder (with ``path``'s suffix, which some writers
    read), then rename it to ``path``: a crash or an error mid-write leaves no partial file and any previous
    ``path`` intact. A folder that cannot be made or written, or a full disk, is a :class:`GanlabError` naming
    it, with ``fix``."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)  # one a killed process of the same PID left (a link there is removed, not followed)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
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


def link_error(link: Path) -> GanlabError:
    """One paragraph for a symbolic link found where ganlab writes: what it points to, and what to do."""
    try:
        target = os.readlink(link)
    except OSError:
        target = "somewhere"
    return GanlabError(
        f"{link} is a symbolic link (to {target}): ganlab writes that file, and writing through the link would "
        "overwrite what it points to (a run dir copied or unpacked from elsewhere?). ganlab does not write "
        "through links in a run dir: replace the link with a copy of its target, or remove it, then run the "
        "command again."
    )


def refuse_links(paths: Iterable[Path]) -> None:
    """Refuse the first of ``paths`` that is a symbolic link (see :func:`link_error`)."""
    for path in paths:
        if path.is_symlink():
            raise link_error(path)


def open_in_place(path: Path, flags: int, fix: str = WRITE_FIX) -> int:
    """``os.open(path, flags)`` for a file written in place (not renamed over), refusing a symbolic link."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP or path.is_symlink():
            raise link_error(path) from err
        raise write_error(err, path, fix) from err


def stale_temporaries(folder: Path) -> list[Path]:
    """The temporary files of :func:`atomic_write` in ``folder`` left by a process that is gone (killed while it
    wrote: SIGKILL, a power cut), to be removed by the process that holds the folder now."""
    found = []
    for path in folder.iterdir() if folder.is_dir() else ():
        match = _TEMPORARY.fullmatch(path.name)
        if match and not path.is_dir() and not _alive(int(match["pid"])):
            found.append(path)
    return found


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
