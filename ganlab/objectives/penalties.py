"""Lipschitz constraints and gradient regularisers of the discriminator (the ``penalty`` config group).

A penalty is a term added to D's loss (``__call__``) and/or a projection after each D step
(``after_d_step``). It reports what it has to say through ``report(tag, value)`` (device tensors; the step
keeps the last reported values, so a lazy penalty's tags hold between its evaluations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganlab.config.schema import key
from ganlab.objectives import PENALTIES
from ganlab.shares import ALL, Share

Report = Callable[[str, Tensor], None]


def _ignore(tag: str, value: Tensor) -> None:
    """A ``report`` that keeps nothing."""


@dataclass
class WeightParams:
    weight: float = key(10.0, lo=0, hi=1e6, doc="lambda of a gradient penalty, gamma of R1 / R2")


@dataclass
class ClipParams:
    bound: float = key(0.01, above=0, hi=1e3, doc="every D parameter is clamped to [-bound, bound]")


@PENALTIES.register("none")
class Penalty:
    """No penalty; the base of the others."""

    name = "none"
    gradient = False  # a term of D's loss through its input gradient: may be lazy (penalty.every)
    share: Share = ALL  # what a random draw keeps of a global batch's (a rank's share under torchrun)

    def __call__(self, D: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None, report: Report = _ignore) -> Tensor | None:
        """The penalty on D for a real batch and a fake batch, both of the classes ``y`` (or None)."""
        return None

    def after_d_step(self, D: nn.Module) -> None:
        return None


@PENALTIES.register("clip", params=ClipParams)
class WeightClip(Penalty):
    """WGAN's weight clipping: every D parameter is clamped to [-bound, bound] after each D step (the paper's c)."""

    name = "clip"

    def __init__(self, bound: float = 0.01):
        self.bound = bound

    @torch.no_grad()
    def after_d_step(self, D: nn.Module) -> None:
        for p in D.parameters():
            p.clamp_(-self.bound, self.bound)


def input_grad_norm(D: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    """||d D(x) / d x|| per sample, in fp32, with the graph kept so the norm can be penalised."""
    x = x.detach().requires_grad_(True)
    out = D(x, y)
    (grad,) = torch.autograd.grad(out.float().sum(), x, create_graph=True)
    return grad.flatten(1).float().norm(dim=1)


class InputGradientPenalty(Penalty):
    """A term on the norm of D's input gradient at some points; reports the term and the mean norm there."""

    gradient = True

    def __init__(self, weight: float = 10.0):
        self.weight = weight

    def points(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def term(self, norm: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, D, real, fake, y, report=_ignore):
        norm = input_grad_norm(D, self.points(real, fake), y)
        value = self.term(norm)
        report(f"Penalty/{self.name}", value.detach())
        report(f"Penalty/{self.name}_grad_norm", norm.detach().mean())
        return value


@PENALTIES.register("gp", params=WeightParams)
class GradientPenalty(InputGradientPenalty):
    """WGAN-GP (Gulrajani et al. 2017): weight * E[(||grad D(x_hat)|| - 1)^2] on x_hat = a x + (1 - a) G(z),
    a ~ U[0, 1] per sample."""

    name = "gp"
    one_sided = False

    def points(self, real: Tensor, fake: Tensor) -> Tensor:
        alpha = self.share(torch.rand, real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
        return alpha * real.detach() + (1 - alpha) * fake.detach()

    def term(self, norm: Tensor) -> Tensor:
        excess = norm - 1.0
        if self.one_sided:
            excess = excess.clamp(min=0.0)
        return self.weight * excess.square().mean()


@PENALTIES.register("gp_one_sided", params=WeightParams)
class OneSidedGradientPenalty(GradientPenalty):
    """The one-sided variant: only gradient norms above 1 are penalised."""

    name = "gp_one_sided"
    one_sided = True


@PENALTIES.register("r1", params=WeightParams)
class R1(InputGradientPenalty):
    """R1 (Mescheder et al. 2018): weight / 2 * E[||grad D(x)||^2] on real samples."""

    name = "r1"

    def points(self, real: Tensor, fake: Tensor) -> Tensor:
        return real

    def term(self, norm: Tensor) -> Tensor:
        return 0.5 * self.weight * norm.square().mean()


@PENALTIES.register("r2", params=WeightParams)
class R2(R1):
    """R2: the same on generated samples."""

    name = "r2"

    def points(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake
