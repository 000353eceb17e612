"""A generator small enough to reason about, for the tests that drive GANStep with hand-made parts."""

from __future__ import annotations

import math

import torch
from torch import nn


class LinearG(nn.Module):
    """One linear layer from 4 latent numbers to samples of ``shape`` (squashed into [-1, 1] for images)."""

    z_dim = 4

    def __init__(self, *shape: int, squash: bool = False):
        super().__init__()
        self.shape, self.squash = shape, squash
        self.net = nn.Linear(4, math.prod(shape))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.net(z)
        return (torch.tanh(out) if self.squash else out).view(-1, *self.shape)
