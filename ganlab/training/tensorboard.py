"""TensorBoard output of a run: scalars and sample images in its run dir, and its hyperparameters and final
metrics for the HParams tab in ``<run dir>/hparams``.

The HParams tab counts every scalar of a session's run (and of the runs below it) as a metric and shows the first
five by name, so the session lives in a run of its own that holds only the final ``Metrics/<name>``: the losses,
rates and speeds a run logs stay out of the table, and its headline metric is among the columns shown at first.
No Custom Scalars layout: TensorBoard colours a chart's lines by run, so two tags of one run in one chart share a
colour; the Scalars tab shows each pair (Loss/D, Loss/G) side by side under its prefix.
"""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter

from ganlab.figures import as_chw
from ganlab.training.tags import METRICS

HPARAMS_RUN = "hparams"  # the sub-folder of a run dir that holds its HParams session


class RunLogger:
    """Writes a run's TensorBoard events into its run dir; a resumed run drops events after its checkpoint."""

    def __init__(self, run_dir: Path, resume_step: int | None = None):
        self.run_dir = run_dir
        threading.excepthook = _quiet_writer_thread
        if resume_step is None and any(run_dir.glob("events.out.tfevents.*")):
            resume_step = 1  # a run started again in its dir (stopped before its first checkpoint): drop its logs
        self.writer = SummaryWriter(str(run_dir), purge_step=resume_step)

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def image(self, tag: str, picture: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, as_chw(picture), step)

    def hparams(self, hparams: dict[str, Any], metrics: dict[str, float], step: int) -> None:
        """The run's hyperparameters and final ``metrics`` (at ``step``) for the HParams tab, which compares the
        runs of a sweep, written anew in ``<run dir>/hparams`` (a resumed run's replace its earlier ones).

        Only the session's start and end are written (no experiment summary), so TensorBoard builds the table
        from every run under its logdir: the columns of all their hyperparameters and metrics.
        """
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        folder = self.run_dir / HPARAMS_RUN
        for old in folder.glob("events.out.tfevents.*"):
            old.unlink()
        finite = {f"{METRICS}{k}": v for k, v in metrics.items() if math.isfinite(v)}
        _, start, end = hparams_summary(hparams, finite)
        with SummaryWriter(str(folder)) as writer:
            writer.file_writer.add_summary(start)
            for tag, value in finite.items():
                writer.add_scalar(tag, value, step)
            writer.file_writer.add_summary(end)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        pending = sys.exc_info()[1]  # closed in a `finally` while an error is on its way: that one is said
        try:
            self.writer.close()
        except OSError:
            if pending is None:
                raise


def _quiet_writer_thread(args: threading.ExceptHookArgs) -> None:
    """TensorBoard's writer thread fails when the run dir can no longer be written (a full disk, a folder made
    read-only): the loop's next log raises that error again, said in one paragraph, so the thread's own
    traceback is not printed."""
    from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread

    if not (isinstance(args.thread, _AsyncWriterThread) and isinstance(args.exc_value, OSError)):
        _EXCEPTHOOK(args)


_EXCEPTHOOK = threading.excepthook


class SilentLogger(RunLogger):
    """What the ranks other than 0 of a data-parallel run log: nothing (rank 0 writes the run's events)."""

    def __init__(self) -> None:
        pass

    def scalars(self, values: dict[str, float], step: int) -> None:
        pass

    def image(self, tag: str, picture: np.ndarray, step: int) -> None:
        pass

    def hparams(self, hparams: dict[str, Any], metrics: dict[str, float], step: int) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
