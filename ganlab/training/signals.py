"""Stop a run cleanly on a signal: the loop finishes its step, saves, and the process exits afterwards.

SLURM sends a signal ahead of a time limit or a preemption (submitit asks for its preemption signal, SIGUSR2
unless ``SUBMITIT_PREEMPT_SIGNAL`` says otherwise, ``signal_delay_s`` before the end), then SIGTERM; a user
presses Ctrl-C (SIGINT); a process manager sends SIGTERM. While :class:`StopSignals` is active each of these
only records that it came; the loop looks after every step. Once the run has saved, :func:`exit_after` hands
the signal to whatever handled it before (submitit's requeue), then exits with ``128 + signal``.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any, NoReturn

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)


class StopSignals:
    """``stop = StopSignals().install()`` … ``stop.received`` is the first signal that came, or None, until
    ``stop.restore()``. A second Ctrl-C while stopping interrupts at once. Outside the main thread (where no
    handler can be set) it does nothing."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._record)
            # one that came before, to the handler this replaces (a sweep's, while a job was set up), counts too
            self.received = next((r for h in self._previous.values()
                                  if (r := getattr(getattr(h, "__self__", None), "received", None)) is not None), None)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.received == signal.SIGINT:
            raise KeyboardInterrupt
        if self.received is None:
            self.received = signum


def name(signum: int) -> str:
    return signal.Signals(signum).name


def exit_after(signum: int) -> NoReturn:
    """Let the handler that was in place before the run (submitit's: requeue the job, then exit) see the
    signal, then exit with ``128 + signum`` as a process killed by it would."""
    handler = signal.getsignal(signum)
    if callable(handler) and handler is not signal.default_int_handler:
        handler(signum, None)
    sys.exit(128 + signum)
