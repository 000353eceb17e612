"""2-D mixtures of Gaussians used to study mode collapse (VEEGAN, PacGAN): a ring of 8 and a grid of 25."""

from __future__ import annotations

import math

import torch
from torch import Tensor


class GaussianMixture:
    """Equal-weight isotropic Gaussians at ``centers`` with standard deviation ``std``; fresh points each batch."""

    kind = "points"
    num_classes = None
    shape = (2,)

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


def ring_centers(n: int = 8, radius: float = 1.0) -> Tensor:
    angles = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1).float()


def grid_centers(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> Tensor:
    v = torch.tensor(values)
    xx, yy = torch.meshgrid(v, v, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def ring8(std: float = 0.01) -> GaussianMixture:
    return GaussianMixture("ring8", ring_centers(8, 1.0), std)


def grid25(std: float = 0.05) -> GaussianMixture:
    return GaussianMixture("grid25", grid_centers(), std)
