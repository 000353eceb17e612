"""What every metric family offers the evaluator, and the headline metric that ranks runs."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganlab.data import Dataset


@dataclass(frozen=True)
class Headline:
    """The metric that ranks runs and keeps checkpoints/best.pt."""

    name: str
    lower_is_better: bool

    def better(self, new: float, old: float | None) -> bool:
        if not math.isfinite(new):
            return False
        if old is None or not math.isfinite(old):
            return True
        return new < old if self.lower_is_better else new > old


# the metric that ranks runs: the first of these that a run's metrics have
HEADLINES = (Headline("reverse_kl", True), Headline("fid_classifier", True), Headline("fid", True))


def headline_for(metrics: Any) -> Headline | None:
    """The headline metric among ``metrics`` (names): reverse KL for mode-counting data (2-D toys, Stacked
    MNIST), else the classifier's Fréchet distance, else FID; None when none is there."""
    return next((h for h in HEADLINES if h.name in metrics), None)


@dataclass
class Settings:
    """What an evaluation was asked for: where it runs, how many samples, where files are."""

    device: torch.device
    n: int
    seed: int = 0
    inception_weights: str | None = None
    cache_dir: Path | None = None  # classifiers; None: the data set's own cache folder
    log: Callable[[str], None] = print


class Metric:
    """One family of metrics: set up once for a data set (``__init__``), then called on each batch of samples."""

    @classmethod
    def applies(cls, data: Dataset, settings: Settings) -> bool:
        raise NotImplementedError

    def __init__(self, data: Dataset, settings: Settings):
        self.data, self.settings = data, settings

    def __call__(self, fake: Tensor, y: Tensor | None) -> dict[str, float]:
        raise NotImplementedError

    def reference(self) -> tuple[dict[str, float], str] | None:
        """The same metrics for held-out real data (what a generator of the data itself would score), and what that
        data was; None when the data set holds none out (:meth:`~ganlab.data.Dataset.held_out`)."""
        held = self.data.held_out(self.settings.n)
        if held is None:
            return None
        real, labels = held
        return self(real, labels), f"{len(real)} {'fresh samples' if self.data.generated else 'test-split images'}"
