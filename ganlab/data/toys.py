"""2-D mixtures of Gaussians used to study mode collapse (VEEGAN, PacGAN): a ring of 8 and a grid of 25."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import Tensor

from ganlab.config.schema import key
from ganlab.data import DATASETS
from ganlab.data.base import Dataset

TOY_EVAL_SAMPLES = 2500  # points generated per evaluation, as in VEEGAN and PacGAN


@dataclass
class MixtureParams:
    std: float = key(0.0, lo=0, hi=10, doc="standard deviation of each Gaussian; 0: the data set's own")


class GaussianMixture(Dataset):
    """Equal-weight isotropic Gaussians at ``centers`` with standard deviation ``std``; fresh points each batch.
    Its modes are its facts: the evaluation counts samples near each centre."""

    kind = "points"
    generated = True
    shape = (2,)  # type: ignore[assignment]
    eval_samples = TOY_EVAL_SAMPLES

    def __init__(self, name: str, centers: Tensor, std: float):
        self.name = name
        self.centers = centers.float()
        self.std = float(std)

    def sample(self, n: int) -> tuple[Tensor, None]:
        k = torch.randint(len(self.centers), (n,), device=self.centers.device)
        noise = torch.randn(n, 2, device=self.centers.device)
        return self.centers.index_select(0, k).add_(noise, alpha=self.std), None

    def to(self, device: torch.device) -> GaussianMixture:
        self.centers = self.centers.to(device)
        return self

    def modes(self) -> tuple[Tensor, float]:
        return self.centers, self.std


def ring_centers(n: int = 8, radius: float = 1.0) -> Tensor:
    angles = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1).float()


def grid_centers(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> Tensor:
    v = torch.tensor(values)
    xx, yy = torch.meshgrid(v, v, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


@DATASETS.register("ring8", params=MixtureParams, kind="points")
def ring8(cfg: DictConfig | None = None) -> GaussianMixture:
    """8 Gaussians evenly spaced on a circle of radius 1, sd 0.01."""
    return GaussianMixture("ring8", ring_centers(8, 1.0), (cfg.std if cfg is not None else 0) or 0.01)


@DATASETS.register("grid25", params=MixtureParams, kind="points")
def grid25(cfg: DictConfig | None = None) -> GaussianMixture:
    """25 Gaussians centred on {-4, -2, 0, 2, 4}^2, sd 0.05."""
    return GaussianMixture("grid25", grid_centers(), (cfg.std if cfg is not None else 0) or 0.05)
