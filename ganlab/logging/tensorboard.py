"""TensorBoard output of a run: scalars, the Loss/D-vs-Loss/G chart, sample images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.utils.tensorboard import SummaryWriter

from ganlab.logging.figures import as_chw

# Custom Scalars tab: the two losses in one chart, so their oscillation is visible at a glance
LAYOUT = {
    "GAN": {
        "Loss D vs G": ["Multiline", ["Loss/D", "Loss/G"]],
        "D on real vs fake": ["Multiline", ["D/real", "D/fake"]],
        "Gradient norms": ["Multiline", ["GradNorm/D", "GradNorm/G"]],
    }
}


class RunLogger:
    """Writes a run's TensorBoard events into its run dir; a resumed run drops events after its checkpoint."""

    def __init__(self, run_dir: Path, resume_step: int | None = None):
        self.writer = SummaryWriter(str(run_dir), purge_step=resume_step)
        if resume_step is None:
            self.writer.add_custom_scalars(LAYOUT)

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def image(self, tag: str, picture: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, as_chw(picture), step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
