"""``Evaluator``: every metric family that applies to a run's data, computed from its generator on fixed noise.

Evaluating never draws from the training run's random stream: noise and labels come from the evaluator's own
generator, and everything else runs inside ``torch.random.fork_rng``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from ganlab.data import Dataset
from ganlab.memory import check_fits
from ganlab.metrics import METRICS
from ganlab.metrics.base import Headline, Metric, Settings, headline_for
from ganlab.runs import generate
from ganlab.runs.rundir import write_text_atomic


class Evaluator:
    """Metrics of a generator for ``data``; set up once (classifiers, real features), then called per evaluation."""

    def __init__(self, data: Dataset, settings: Settings):
        self.data, self.settings = data, settings
        self.n = settings.n
        check_fits(self.n * 4 * math.prod(data.shape), f"an evaluation on {self.n:,} samples of {data.name}",
                   "Lower eval.n (n= for `ganlab eval`).", settings.device)
        with torch.random.fork_rng(devices=self._cuda()):
            self.metrics: list[Metric] = [cls(data, settings) for _, cls in METRICS.items() if cls.applies(data, settings)]
        self.headline: Headline | None = None  # known after the first evaluation

    def _cuda(self) -> list[torch.device]:
        return [self.settings.device] if self.settings.device.type == "cuda" else []

    @torch.no_grad()
    def __call__(self, G: nn.Module) -> dict[str, float]:
        """The metrics of ``G`` (a float each), on ``n`` samples from the evaluator's fixed noise."""
        gen = torch.Generator().manual_seed(self.settings.seed)
        z = torch.randn(self.n, G.z_dim, generator=gen).to(self.settings.device)
        num_classes = getattr(G, "num_classes", None)
        y = torch.randint(num_classes, (self.n,), generator=gen).to(self.settings.device) if num_classes else None
        with torch.random.fork_rng(devices=self._cuda()):
            fake = generate(G, z, y)
            metrics: dict[str, float] = {}
            for metric in self.metrics:
                metrics.update(metric(fake, y))
        self.headline = headline_for(metrics)
        return metrics


def metrics_table(metrics: dict[str, float], step: int) -> str:
    """A two-column text table of ``metrics`` at ``step``."""
    width = max(len("metric"), *(len(k) for k in metrics)) if metrics else len("metric")
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}", f"{'step':<{width}}  {step}"]
    lines += [f"{k:<{width}}  {v:.4g}" for k, v in metrics.items()]
    return "\n".join(lines)


def write_metrics_json(path: Path, step: int, metrics: dict[str, float]) -> None:
    """``{"step": int, "<metric>": float, ...}``, written atomically; an undefined value (NaN) is null."""
    values = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    write_text_atomic(path, json.dumps({"step": int(step), **values}, indent=2) + "\n")
