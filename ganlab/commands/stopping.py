"""A signal to a sweep reaches its jobs, and the sweep still ends with its summary.

``ganlab train -m`` runs its jobs in its own process (Hydra's basic launcher) or in joblib's worker processes
(loky). A signal to the sweep's process (SIGTERM: ``kill <pid>``, a process manager; SIGINT: Ctrl-C) stops
every running job as it stops a single run (the step ends, last.pt is saved), starts no other, and ends the
sweep with its summary and the status ``128 + signal``; the same sweep command run again continues each job
(``resume=auto``).

- :class:`SweepSignals`, in the sweep's process from its start to its end, records the signal in the sweep dir
  (:data:`STOP`, read by each job before it starts) and forwards it, as SIGTERM, to the joblib workers running
  a job: loky's worker processes (``multiprocessing.active_children()``) whose PID holds a job's run dir;
- a worker records the signals that come while it runs jobs (:func:`record_in_worker`), so that one during a
  job's setup is kept for the job's first step (:class:`~ganlab.training.signals.StopSignals` takes it over);
- a job stopped by a signal, or not started, raises :class:`JobStopped`: the job returns (a search's trial
  fails) instead of ending its process, which would leave the sweep without its summary.
(Submitit's jobs run on other machines, not forwarded to; a requeue signal there still ends the job's process.)
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from ganlab.console import say
from ganlab.errors import GanlabError

STOP = ".ganlab.stop"  # in a sweep dir: the sweep was stopped by the signal it holds
FORWARDED = (signal.SIGTERM, signal.SIGINT)


class JobStopped(GanlabError):
    """A sweep's job stopped by a signal (its last.pt saved), or not started because the sweep was stopped."""


def stop_signal(sweep: Path) -> int | None:
    """The signal that stopped the sweep in ``sweep``, or None while it was not stopped."""
    with contextlib.suppress(OSError, ValueError):
        return int((sweep / STOP).read_text().strip())
    return None


def request_stop(sweep: Path, signum: int) -> None:
    """Record in the sweep dir that the sweep was stopped (the first signal is kept)."""
    from ganlab.files import write_text

    if stop_signal(sweep) is None:
        with contextlib.suppress(GanlabError):  # an unwritable sweep dir: the running jobs stop all the same
            write_text(sweep / STOP, f"{signum}\n")


def not_started(sweep: Path) -> None:
    """Before a sweep's job starts: refuse it (:class:`JobStopped`) when the sweep was stopped."""
    from ganlab.training.signals import name

    signum = stop_signal(sweep)
    if signum is not None:
        raise JobStopped(f"not started: the sweep was stopped ({name(signum)}) before this job began; run the same "
                         "sweep command again to train it")


class SweepSignals:
    """The sweep process's handler of SIGTERM and SIGINT (see the module's docstring)."""

    def __init__(self, sweep: Path) -> None:
        self.sweep = sweep
        self.received: int | None = None  # read by a job's StopSignals in this process (basic launcher)
        self._previous: dict[int, Any] = {}

    def install(self) -> SweepSignals:
        if threading.current_thread() is threading.main_thread():
            (self.sweep / STOP).unlink(missing_ok=True)  # from an earlier start of the same sweep
            for sig in FORWARDED:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        (self.sweep / STOP).unlink(missing_ok=True)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT == self.received:
            raise KeyboardInterrupt  # a second Ctrl-C: at once
        if self.received is None:
            self.received = signum
            request_stop(self.sweep, signum)
            say(f"ganlab: {signal.Signals(signum).name}: stopping the sweep's running jobs (each saves its last.pt); "
                "no other job starts.")
        forward(self.sweep)


def forward(sweep: Path) -> list[int]:
    """Send SIGTERM to this process's worker processes that run a job of ``sweep``; returns their PIDs."""
    from ganlab.runs.rundir import holder

    workers = {child.pid for child in multiprocessing.active_children()}
    sent = []
    for job in sweep.iterdir() if sweep.is_dir() else ():
        pid = holder(job) if job.is_dir() and not job.is_symlink() else None
        if pid is not None and pid.isdigit() and int(pid) in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGTERM)
                sent.append(int(pid))
    return sent


_RUNNING: list[SweepSignals] = []  # the sweep this process runs (its handler), if any


def start_sweep(sweep: Path) -> None:
    _RUNNING.append(SweepSignals(sweep).install())


def running_sweep() -> Path | None:
    """The dir of the sweep this process runs, if any."""
    return _RUNNING[-1].sweep if _RUNNING else None


def end_sweep() -> int | None:
    """The signal that stopped the sweep this process ran (None: none), its handler removed."""
    if not _RUNNING:
        return None
    handler = _RUNNING.pop()
    signum = stop_signal(handler.sweep) or handler.received
    handler.restore()
    return signum


def record_in_worker() -> None:
    """In a process that runs a sweep's jobs for another (a joblib worker): record stop signals from now on, for
    the jobs' loops to see (a signal in a job's setup would otherwise end the worker, and with it joblib's pool)."""
    from ganlab.training.signals import StopSignals

    if not _RUNNING and not isinstance(getattr(signal.getsignal(signal.SIGTERM), "__self__", None), StopSignals):
        StopSignals().install()


def note_stopped(run_dir: Path, err: JobStopped) -> None:
    """The status of a job that :class:`JobStopped` ended: ``stopped``, as the job wrote it or with ``err``."""
    from ganlab.runs.rundir import read_status, write_status

    status: dict[str, Any] = {}
    with contextlib.suppress(GanlabError):
        status = read_status(run_dir)
    if status.get("status") != "stopped":
        write_status(run_dir, "stopped", error=str(err))
    say(f"ganlab: job {run_dir.name}: {err}")


def exit_stopped(sweep: Path, signum: int) -> None:
    """End a sweep that a signal stopped, after its summary: how to go on, and the status ``128 + signal``."""
    from ganlab.console import warn
    from ganlab.training.signals import name

    warn(f"ganlab: {name(signum)}: the sweep was stopped. To continue it, run the same sweep command again with "
         f"hydra.sweep.dir={sweep}: each job continues its own run dir (resume=auto).")
    raise SystemExit(128 + signum)
