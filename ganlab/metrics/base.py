"""What every metric family offers the evaluator, and the headline metric that ranks runs (which a family
declares among the metrics it computes)."""

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
    """A metric that can rank runs and keep checkpoints/best.pt: of those a run measures, the one of lowest
    ``rank`` does (the built-in ones: reverse_kl 10, fid_classifier 20, fid 30)."""

    name: str
    lower_is_better: bool
    rank: int = 100

    def better(self, new: float, old: float | None) -> bool:
        if not math.isfinite(new):
            return False
        if old is None or not math.isfinite(old):
            return True
        return new < old if self.lower_is_better else new > old


def headlines() -> tuple[Headline, ...]:
    """Every headline the metric families declare (``Metric.headlines``), by rank."""
    from ganlab.metrics import METRICS

    found: dict[str, Headline] = {}
    for name, family in METRICS.items():
        for h in family.headlines:
            if found.setdefault(h.name, h) != h:
                raise ValueError(f"metric family {name} declares the headline {h} unlike another ({found[h.name]})")
    return tuple(sorted(found.values(), key=lambda h: (h.rank, h.name)))


def headline_for(metrics: Any) -> Headline | None:
    """The headline metric among ``metrics`` (names): the declared headline of lowest rank there (reverse KL for
    mode-counting data, 2-D toys and Stacked MNIST, else the classifier's Fréchet distance, else FID, unless a
    family declares another); None when none is there."""
    return next((h for h in headlines() if h.name in metrics), None)


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
    """One family of metrics: set up once for a data set (``__init__``), then called on each batch of samples.
    ``headlines``: those of its metrics that may rank runs (see :class:`Headline`)."""

    headlines: tuple[Headline, ...] = ()

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
