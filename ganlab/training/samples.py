"""Samples from fixed noise: the grids and scatter plots a run draws as it trains."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from ganlab.data import Dataset
from ganlab.figures import image_grid, save_png, scatter_plot
from ganlab.runs import generate
from ganlab.runs.explore import real_points, walk, walk_picture

if TYPE_CHECKING:
    from ganlab.training.tensorboard import RunLogger

POINTS_SHOWN = 1000  # generated points drawn in a 2-D scatter plot
INTERPOLATION_WALKS, INTERPOLATION_STEPS = 8, 10  # Samples/interpolation at the end of training


def class_rows(num_classes: int, per_class: int, device: torch.device | str = "cpu") -> Tensor:
    """Labels 0,0,...,1,1,...: one grid row per class."""
    return torch.arange(num_classes, device=device).repeat_interleave(per_class)


class SampleRenderer:
    """Draws G's samples for a fixed batch of noise (and, for conditional G, one row per class).

    The noise comes from its own generator seeded by the run's seed, so drawing samples never changes the
    training run's random stream.
    """

    def __init__(self, G: nn.Module, data: Dataset, *, num_samples: int, seed: int, device: torch.device):
        self.G, self.kind = G, data.kind
        gen = torch.Generator().manual_seed(seed)
        conditional = getattr(G, "num_classes", None)
        self.nrow: int | None = None
        self.y: Tensor | None = None
        if conditional:
            self.nrow = max(1, num_samples // conditional)
            self.y = class_rows(conditional, self.nrow, device)
            num_samples = len(self.y)
        if data.kind == "points":
            num_samples = max(num_samples, POINTS_SHOWN)
        self.z = torch.randn(num_samples, G.z_dim, generator=gen).to(device)
        self.seed = seed
        self.real = real_points(data, seed, device) if data.kind == "points" else None

    def render(self, step: int) -> np.ndarray:
        x = generate(self.G, self.z, self.y)
        if self.kind == "points":
            return scatter_plot(x, self.real, title=f"step {step}")
        return image_grid(x, self.nrow)

    def interpolation(self, step: int) -> np.ndarray:
        """Slerp walks between the run's own seeded latents (a row each; 2-D data: paths over the real data)."""
        x = walk(self.G, INTERPOLATION_WALKS, INTERPOLATION_STEPS, "slerp", self.seed)
        return walk_picture(x, self.real, title=f"slerp walks, step {step}")

    @staticmethod
    def save(picture: np.ndarray, path: Path) -> None:
        save_png(picture, path)

    @staticmethod
    def relog(logger: RunLogger, folder: Path, after: int, upto: int, every: int) -> None:
        """Log again the sample grids saved at steps ``after`` < step <= ``upto`` (a resumed run purges the
        TensorBoard events of those steps, to continue its last logging window)."""
        from PIL import Image

        for step in range(after - after % every + every, upto + 1, every):
            path = folder / f"step_{step:07d}.png"
            if path.is_file():
                with Image.open(path) as im:
                    logger.image("Samples", np.asarray(im.convert("RGB")), step)
