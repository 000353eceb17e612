"""TensorBoard output of a run: scalars, the Loss/D-vs-Loss/G chart, sample images."""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter

from ganlab.figures import as_chw

# Custom Scalars tab: the two losses in one chart, so their oscillation is visible at a glance
LAYOUT = {
    "GAN": {
        "Loss D vs G": ["Multiline", ["Loss/D", "Loss/G"]],
        "D on real vs fake": ["Multiline", ["D/real", "D/fake"]],
        "Gradient norms": ["Multiline", ["GradNorm/D", "GradNorm/G"]],
        "D gap and sample diversity": ["Multiline", ["D/gap", "Diversity/pairwise"]],
    }
}


class RunLogger:
    """Writes a run's TensorBoard events into its run dir; a resumed run drops events after its checkpoint."""

    def __init__(self, run_dir: Path, resume_step: int | None = None):
        threading.excepthook = _quiet_writer_thread
        fresh = resume_step is None
        if fresh and any(run_dir.glob("events.out.tfevents.*")):
            resume_step = 1  # a run started again in its dir (stopped before its first checkpoint): drop its logs
        self.writer = SummaryWriter(str(run_dir), purge_step=resume_step)
        if fresh:
            self.writer.add_custom_scalars(LAYOUT)

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def image(self, tag: str, picture: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, as_chw(picture), step)

    def hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
        """The run's hyperparameters and final metrics for the HParams tab, which compares the runs of a sweep.

        Only the session's start and end are written (no experiment summary), so TensorBoard builds the table
        from every run under its logdir; the metric columns read the runs' own ``Metrics/...`` scalars.
        """
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        _, start, end = hparams_summary(hparams, {k: v for k, v in metrics.items() if math.isfinite(v)})
        for summary in (start, end):
            self.writer.file_writer.add_summary(summary)

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

    def hparams(self, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
