"""A run's directory: one run per dir, held by a lock while its process lives, with a status for ``ganlab report``.

- :func:`claim_dir` makes a new dir atomically (``mkdir`` fails if it exists): two runs started in the same
  second get ``<name>`` and ``<name>-2``.
- :class:`RunLock`: an exclusive ``flock`` on ``<run>/.ganlab.lock``, which holds the holder's PID. The kernel
  drops it when the process ends, however it ends, so a lock is never stale. Taking it refuses a run dir where
  a file ganlab writes is a symbolic link (:func:`written_links`), and removes the temporary files a killed
  process left.
- ``status.json``: ``running`` / ``done`` / ``failed`` (with the error), written atomically; ``running`` in a
  dir whose lock nobody holds is a run that was stopped or killed.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
from pathlib import Path
from typing import Any

from ganlab.errors import GanlabError
from ganlab.files import open_in_place, refuse_links, stale_temporaries, write_text, writing

LOCK = ".ganlab.lock"
STATUS = "status.json"
WRITTEN_FILES = (LOCK, STATUS, "metrics.json", "*.log", "events.out.tfevents.*")  # what a run writes in its dir
WRITTEN_FOLDERS = ("checkpoints", "samples", ".hydra")  # and the folders it writes in


def claim_dir(path: Path) -> Path:
    """Create a new directory at ``path``, or at ``path-2``, ``path-3``, ... when that exists: atomically, so
    two processes never get the same one."""
    with writing(path, "Choose a writable place with hydra.run.dir=<dir> (or hydra.sweep.dir=<dir> for -m)."):
        path.parent.mkdir(parents=True, exist_ok=True)
        for i in itertools.count(1):
            candidate = path if i == 1 else path.with_name(f"{path.name}-{i}")
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    raise AssertionError("unreachable")


def run_contents(run_dir: Path) -> list[str]:
    """What in ``run_dir`` shows that a run already wrote there (empty for a new or empty dir)."""
    if not run_dir.is_dir():
        return []
    marks = [p.name for p in run_dir.glob("events.out.tfevents.*")][:1]
    marks += [f"checkpoints/{p.name}" for p in sorted((run_dir / "checkpoints").glob("*.pt"))][:1]
    marks += [name for name in (STATUS, "metrics.json", ".hydra/config.yaml") if (run_dir / name).is_file()]
    return marks


def written_links(run_dir: Path) -> list[Path]:
    """The symbolic links in ``run_dir`` where a run writes: its files, its folders and what they hold."""
    if not run_dir.is_dir():
        return []
    found = [p for pattern in (*WRITTEN_FILES, *WRITTEN_FOLDERS) for p in run_dir.glob(pattern) if p.is_symlink()]
    for name in WRITTEN_FOLDERS:
        folder = run_dir / name
        if folder.is_dir() and not folder.is_symlink():
            found += [p for p in folder.iterdir() if p.is_symlink()]
    return sorted(set(found))


def sweep_links(sweep: Path) -> list[Path]:
    """The symbolic links in a sweep dir where a sweep writes: in it (its files, its job dirs) and in its jobs."""
    if not sweep.is_dir():
        return []
    top = sorted(p for p in sweep.iterdir() if p.is_symlink())
    return top + [p for job in sorted(sweep.iterdir()) if job.is_dir() and not job.is_symlink() for p in written_links(job)]


def remove_stale_temporaries(run_dir: Path) -> None:
    """Remove the temporary files a process killed while it saved left in ``run_dir`` (0 bytes, or cut short)."""
    for folder in (run_dir, *(run_dir / name for name in WRITTEN_FOLDERS)):
        for path in stale_temporaries(folder):
            path.unlink(missing_ok=True)


def _read_pid(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode(errors="replace").strip()
    return text if text.isdigit() else "not yet written"


class RunLock:
    """An exclusive lock on a run dir for as long as this process runs in it."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        fix = "Choose a writable run dir with hydra.run.dir=<dir>."
        with writing(run_dir / LOCK, fix):
            run_dir.mkdir(parents=True, exist_ok=True)
        refuse_links(written_links(run_dir))
        fd = open_in_place(run_dir / LOCK, os.O_RDWR | os.O_CREAT, fix)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            pid = _read_pid(fd)
            os.close(fd)
            raise GanlabError(
                f"{run_dir} is in use by another ganlab process (PID {pid}), which is running there. Two runs in one "
                f"dir would mix their checkpoints and logs: wait for it to end (or stop it: kill {pid}), or give "
                "this run another dir (leave hydra.run.dir out for a new one)."
            ) from err
        self.fd: int | None = fd
        with writing(run_dir / LOCK, fix):  # a full disk
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError:
                self.release()
                raise
        remove_stale_temporaries(run_dir)

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


_HELD: dict[Path, RunLock] = {}  # the run dirs this process holds


def lock_run_dir(run_dir: Path) -> RunLock:
    """Hold ``run_dir`` for this process (again, if it already does)."""
    key = run_dir.resolve()
    if key not in _HELD:
        _HELD[key] = RunLock(run_dir)
    return _HELD[key]


def release_run_dir(run_dir: Path) -> None:
    lock = _HELD.pop(run_dir.resolve(), None)
    if lock is not None:
        lock.release()


def held() -> list[Path]:
    """The run dirs this process holds."""
    return list(_HELD)


def holder(run_dir: Path) -> str | None:
    """The PID of the process running in ``run_dir``, or None when no process holds it."""
    if run_dir.resolve() in _HELD:
        return str(os.getpid())
    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return _read_pid(fd)
    finally:
        os.close(fd)  # closing drops a lock taken here
    return None


def write_status(run_dir: Path, status: str, **fields: Any) -> None:
    """``status.json``: ``running``, ``done`` or ``failed`` (with ``error``), and the process it concerns."""
    record = {"status": status, "pid": os.getpid(), **fields}
    write_text(run_dir / STATUS, json.dumps(record, indent=2) + "\n",
               "Free some space or choose a writable run dir with hydra.run.dir=<dir>.")


def read_status(run_dir: Path) -> dict[str, Any]:
    """A run's status (``{}`` for a run written before ganlab kept one); ``running`` becomes ``stopped`` when no
    process holds the dir any more."""
    path = run_dir / STATUS
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict) or not isinstance(record.get("status"), str):
            raise ValueError("it holds no status")
    except (ValueError, OSError) as err:
        raise GanlabError(f"{path} is not a ganlab status file ({err}). Delete it; `ganlab report` then shows the "
                          "run without a status.") from err
    if record["status"] == "running" and holder(run_dir) is None:
        record["status"] = "stopped"
    return record


def finished(run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` ended (status ``done``, or no status: a run from before ganlab kept one).
    A run at its last step that did not is finished by ``resume=``: its evaluation, metrics.json, best.pt, its
    hyperparameters in TensorBoard."""
    try:
        return read_status(run_dir).get("status", "done") == "done"
    except GanlabError:
        return False


def unsaved_config(run_dir: Path) -> dict[str, Any] | None:
    """The config of a run that was stopped before its first checkpoint (what Hydra saved in ``.hydra/``), to
    start it again in its dir; None when it saved a checkpoint, or holds no config."""
    from ganlab.config.guard import load_yaml

    path = run_dir / ".hydra" / "config.yaml"
    if list((run_dir / "checkpoints").glob("*.pt")) or not path.is_file():
        return None
    try:
        config = load_yaml(path)
        if not isinstance(config, dict):
            raise GanlabError("it holds no mapping of keys")
    except GanlabError as err:
        raise GanlabError(f"{path} is not the config Hydra saved for the run ({err}: it was stopped while Hydra "
                          f"wrote it?), and the run saved no checkpoint, so nothing in {run_dir} can be continued: "
                          "remove it and run the command again.") from err
    return config
