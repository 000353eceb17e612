"""``Evaluator``: every metric family that applies to a run's data, computed from its generator on fixed noise,
and beside them the same metrics for held-out real data (the reference that says what a value means).

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
from ganlab.files import write_text
from ganlab.memory import check_fits
from ganlab.metrics import METRICS
from ganlab.metrics.base import Headline, Metric, Settings, headline_for
from ganlab.runs import generate


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
        self._reference: list[tuple[dict[str, float], str]] | None = None  # each family's, once computed

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

    @torch.no_grad()
    def reference(self, metrics: dict[str, float]) -> tuple[dict[str, float], str]:
        """The real-data reference of each of ``metrics`` that has one, and what real data it was measured on
        (computed once, seeded by the evaluation's seed)."""
        if self._reference is None:
            with torch.random.fork_rng(devices=self._cuda()):
                torch.manual_seed(self.settings.seed)
                self._reference = [found for metric in self.metrics if (found := metric.reference()) is not None]
        values: dict[str, float] = {}
        sources = []
        for found, source in self._reference:
            shown = {k: v for k, v in found.items() if k in metrics}
            values.update(shown)
            if shown:
                sources.append(f"{', '.join(shown)}: {source}")
        return values, "; ".join(sources)


def metrics_table(metrics: dict[str, float], step: int, reference: dict[str, float] | None = None,
                  source: str = "") -> str:
    """A text table of ``metrics`` at ``step`` beside the real data's values (``reference``; ``source`` says which
    real data)."""
    reference = reference or {}
    width = max(len("metric"), *(len(k) for k in metrics)) if metrics else len("metric")
    lines = [f"{'metric':<{width}}  {'value':<10}  real data", f"{'-' * width}  {'-' * 10}  {'-' * 10}",
             f"{'step':<{width}}  {step}"]
    lines += [f"{k:<{width}}  {v:<10.4g}  {format(reference[k], '.4g') if k in reference else '-'}"
              for k, v in metrics.items()]
    return "\n".join(lines + ([f"real data: {source}"] if source else []))


def _finite(values: dict[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in values.items()}


def write_metrics_json(path: Path, step: int, metrics: dict[str, float], reference: dict[str, float] | None = None,
                       source: str = "") -> None:
    """``{"step": int, "<metric>": float, ..., "reference": {"<metric>": float, ...}, "reference_source": str}``
    (the reference only when given), written atomically; an undefined value (NaN) is null."""
    out: dict[str, object] = {"step": int(step), **_finite(metrics)}
    if reference is not None:
        out.update(reference=_finite(reference), reference_source=source)
    write_text(path, json.dumps(out, indent=2) + "\n")
