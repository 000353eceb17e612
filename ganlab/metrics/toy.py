"""The 2-D mixture protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018, Sec. 5).

A generated point is *high quality* when it lies within three standard deviations of its nearest mode.
``modes`` counts the modes that received at least one high-quality point, ``hq_fraction`` is the share of
high-quality points, and ``reverse_kl`` is KL(generated mode histogram || uniform) over high-quality points.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganlab.data import Dataset
from ganlab.metrics import METRICS
from ganlab.metrics.base import Headline, Metric, Settings


def mode_histogram(points: Tensor, centers: Tensor, std: float, radius: float = 3.0) -> Tensor:
    """How many points fall within ``radius * std`` of each centre (each point counted at its nearest centre)."""
    dist = torch.cdist(points.double(), centers.double())
    nearest, idx = dist.min(dim=1)
    hq = nearest <= radius * std
    return torch.bincount(idx[hq], minlength=len(centers))


def kl_to_uniform(counts: Tensor) -> float:
    """KL(p || uniform) in nats for the histogram ``counts``; NaN when the histogram is empty."""
    total = float(counts.sum())
    if total == 0:
        return math.nan
    p = counts.double() / total
    p = p[p > 0]
    return float((p * (p * len(counts)).log()).sum())


def mode_metrics(points: Tensor, centers: Tensor, std: float) -> dict[str, float]:
    """``modes``, ``hq_fraction`` and ``reverse_kl`` of generated ``points`` (N, 2) for a mixture at ``centers``."""
    counts = mode_histogram(points, centers, std)
    return {
        "modes": float((counts > 0).sum()),
        "hq_fraction": float(counts.sum()) / len(points),
        "reverse_kl": kl_to_uniform(counts),
    }


@METRICS.register("modes")
class ModeMetrics(Metric):
    """Data with known modes (a Gaussian mixture): the protocol above."""

    headlines = (Headline("reverse_kl", lower_is_better=True, rank=10),)

    @classmethod
    def applies(cls, data: Dataset, settings: Settings) -> bool:
        return data.modes() is not None

    def __call__(self, fake: Tensor, y: Tensor | None) -> dict[str, float]:
        centers, std = self.data.modes()  # type: ignore[misc]
        return mode_metrics(fake, centers, std)
