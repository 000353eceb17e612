"""The sliced Wasserstein distance between samples and the data (an example part: tests/test_parts.py), for 2-D
points that have no modes to count (a spiral). It declares itself a headline, ranked after the built-in ones:
where no other headline is measured it ranks runs, keeps checkpoints/best.pt and is what a search optimises."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.data import Dataset
from ganlab.metrics import METRICS
from ganlab.metrics.base import Headline, Metric, Settings


@METRICS.register("sliced_wasserstein")
class SlicedWasserstein(Metric):
    headlines = (Headline("sliced_wasserstein", lower_is_better=True, rank=40),)

    @classmethod
    def applies(cls, data: Dataset, settings: Settings) -> bool:
        return data.kind == "points" and data.modes() is None

    def __call__(self, fake: Tensor, y: Tensor | None) -> dict[str, float]:
        real = self.data.sample(len(fake))[0].to(fake.device).flatten(1).float()
        gen = torch.Generator().manual_seed(0)
        directions = F.normalize(torch.randn(real.shape[1], 64, generator=gen), dim=0).to(fake.device)
        a, b = (fake.flatten(1).float() @ directions).sort(0).values, (real @ directions).sort(0).values
        return {"sliced_wasserstein": float((a - b).abs().mean())}
