"""Points on a spiral (an example part: tests/test_parts.py). Not images: it says ``kind="points"`` when it
registers, so ``model.arch=auto`` builds MLPs for it before it is loaded."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import Tensor

from ganlab.config.schema import key
from ganlab.data import DATASETS
from ganlab.data.base import Dataset


@dataclass
class SpiralParams:
    turns: float = key(1.5, above=0, hi=10, doc="turns of the spiral")


class Spiral(Dataset):
    kind = "points"
    generated = True
    shape = (2,)  # type: ignore[assignment]
    eval_samples = 500

    def __init__(self, turns: float):
        self.name, self.turns, self.device = "spiral", turns, torch.device("cpu")

    def sample(self, n: int) -> tuple[Tensor, None]:
        t = torch.rand(n, device=self.device) * self.turns * 2 * math.pi
        radius = t / (self.turns * 2 * math.pi)
        return torch.stack([radius * t.cos(), radius * t.sin()], dim=1), None

    def to(self, device: torch.device) -> Spiral:
        self.device = device
        return self


@DATASETS.register("spiral", params=SpiralParams, kind="points")
def load_spiral(cfg: DictConfig) -> Spiral:
    return Spiral(cfg.turns)
