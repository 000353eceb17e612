"""Lipschitz constraints and gradient regularisers of the discriminator (the ``penalty`` config group)."""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import Tensor, nn


class Penalty:
    """A term added to D's loss (``__call__``) and/or a projection after each D step (``after_d_step``)."""

    name = "none"
    tag: str | None = None  # the TensorBoard tag of the term's value

    def __call__(self, D: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor | None:
        """The penalty on D for a real batch and a fake batch, both of the classes ``y`` (or None)."""
        return None

    def after_d_step(self, D: nn.Module) -> None:
        return None


class WeightClip(Penalty):
    """WGAN's weight clipping: every D parameter is clamped to [-c, c] after each D step."""

    name = "clip"

    def __init__(self, clip: float):
        self.clip = clip

    @torch.no_grad()
    def after_d_step(self, D: nn.Module) -> None:
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)


def input_grad_norm(D: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    """||d D(x) / d x|| per sample, with the graph kept so the norm can be penalised."""
    x = x.detach().requires_grad_(True)
    out = D(x, y)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1).float().norm(dim=1)


class GradientPenalty(Penalty):
    """WGAN-GP (Gulrajani et al. 2017): weight * E[(||grad D(x_hat)|| - 1)^2] on x_hat = a x + (1 - a) G(z),
    a ~ U[0, 1] per sample. ``one_sided`` penalises only norms above 1."""

    def __init__(self, weight: float, one_sided: bool = False):
        self.weight, self.one_sided = weight, one_sided
        self.name = "gp_one_sided" if one_sided else "gp"
        self.tag = f"Penalty/{self.name}"

    def __call__(self, D, real, fake, y):
        alpha = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
        x_hat = alpha * real.detach() + (1 - alpha) * fake.detach()
        excess = input_grad_norm(D, x_hat, y) - 1.0
        if self.one_sided:
            excess = excess.clamp(min=0.0)
        return self.weight * excess.square().mean()


class ZeroCentredPenalty(Penalty):
    """R1 / R2 (Mescheder et al. 2018): weight / 2 * E[||grad D(x)||^2] on real (R1) or fake (R2) samples."""

    def __init__(self, weight: float, on_real: bool):
        self.weight, self.on_real = weight, on_real
        self.name = "r1" if on_real else "r2"
        self.tag = f"Penalty/{self.name}"

    def __call__(self, D, real, fake, y):
        return 0.5 * self.weight * input_grad_norm(D, real if self.on_real else fake, y).square().mean()


GRADIENT_PENALTIES = ("gp", "gp_one_sided", "r1", "r2")  # terms in D's loss, which penalty.every can make lazy
PENALTIES = ("none", "clip", *GRADIENT_PENALTIES)


def build_penalty(cfg: DictConfig) -> Penalty:
    if cfg.name == "clip":
        return WeightClip(cfg.clip)
    if cfg.name in ("gp", "gp_one_sided"):
        return GradientPenalty(cfg.weight, one_sided=cfg.name == "gp_one_sided")
    if cfg.name in ("r1", "r2"):
        return ZeroCentredPenalty(cfg.weight, on_real=cfg.name == "r1")
    return Penalty()
