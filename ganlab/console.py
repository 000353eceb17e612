"""Console output of every command: one function, so a progress bar can take the lines while it is shown."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

_writer: Callable[[str], None] | None = None  # set while a progress bar owns the terminal


def say(message: str) -> None:
    """Print ``message`` as a line of ganlab's output (through the progress bar when one is shown)."""
    if _writer is not None:
        _writer(message)
    else:
        print(message, flush=True)


@functools.cache
def say_once(message: str) -> None:
    """:func:`say` ``message`` the first time this process has it to say: a note that holds for every job of a
    sweep (no Inception weights, ...) is one line, not one per job."""
    say(message)


def warn(message: str) -> None:
    """A line on standard error."""
    print(message, file=sys.stderr, flush=True)


def error(message: str) -> None:
    """An error's paragraph on standard error. Under torchrun only each machine's first process prints it: every
    process of a run meets the same bad config, files or machine."""
    if os.environ.get("LOCAL_RANK", "0") == "0":
        warn(message)


def route_through(writer: Callable[[str], None] | None) -> None:
    """Send :func:`say` lines to ``writer`` (a progress bar's ``write``), or back to stdout with None."""
    global _writer
    _writer = writer
