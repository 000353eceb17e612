"""Least squares with targets -1 and 1 (Mao et al. 2017, a = -1, b = 1, c = 0), an example part
(tests/test_parts.py): its closed-form check comes from what it declares."""

from __future__ import annotations

import torch
from torch import Tensor

from ganlab.objectives import OBJECTIVES
from ganlab.objectives.base import Objective


@OBJECTIVES.register("ls_symmetric")
class SymmetricLeastSquares(Objective):
    name = "ls_symmetric"
    divergence = "triangular"  # D's loss at its optimum is (2 - Delta) / 2
    estimate_tag = "Divergence/triangular"

    def loss_real(self, out: Tensor) -> Tensor:
        return 0.5 * (out - 1.0).square()

    def loss_fake(self, out: Tensor) -> Tensor:
        return 0.5 * (out + 1.0).square()

    def g_loss(self, fake: Tensor) -> Tensor:
        return 0.5 * fake.sub(1.0).square().mean()

    def estimate_from_d_loss(self, d_loss: Tensor) -> Tensor:
        return 2.0 - 2.0 * d_loss

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return torch.tanh(log_ratio / 2)  # (p - q) / (p + q)
