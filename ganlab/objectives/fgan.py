"""The f-GAN objectives (Nowozin, Cseke & Tomioka 2016), in the conventions of the paper's Tables 1 and 2.

For a convex f with f(1) = 0, D_f(P || Q) = int q(x) f(p(x) / q(x)) dx, with P the data and Q the generator.
Its Fenchel conjugate f* gives the variational lower bound

    D_f(P || Q) >= E_P[T(x)] - E_Q[f*(T(x))],

tight at T*(x) = f'(p(x) / q(x)). The critic's raw output v goes through the output activation g_f, which
maps R onto the domain of f*: T = g_f(v). The critic maximises the bound, so its loss is
-g_f(v) on real samples plus f*(g_f(v)) on fake ones, and -(D loss) is the current estimate of D_f.

Every term is written directly in v (e.g. f*(g_f(v)) = softplus(v) for the GAN divergence) so that no log
of a vanishing number or exp of a large one is taken. Where the conjugate itself grows exponentially (KL,
reverse KL, Neyman chi^2, squared Hellinger), the exponential is continued linearly above v = 30: the
loss stays finite with a finite, non-zero gradient for any v a float can hold, and is unchanged wherever
the optimal critic's density ratio is below about e^30 (beyond it the tangent lies below the conjugate, so
the estimate is no longer a guaranteed lower bound there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.config.schema import key
from ganlab.objectives import OBJECTIVES
from ganlab.objectives.base import Objective
from ganlab.objectives.losses import Minimax

EXP_LINEAR_ABOVE = 30.0


def safe_exp(v: Tensor) -> Tensor:
    """exp(v) for v <= 30, continued by its tangent line above (same value and slope at 30)."""
    return torch.exp(v.clamp(max=EXP_LINEAR_ABOVE)) * (1.0 + F.relu(v - EXP_LINEAR_ABOVE))


@dataclass
class FGANParams:
    non_saturating: bool = key(True, doc="G maximises E_Q[g_f(D(G(z)))] (the paper's Sec. 3.2) instead of "
                                         "minimising -E_Q[f*(g_f(D(G(z))))]")


class FDivergence(Objective):
    """One f-divergence: ``loss_real(v) = -g_f(v)`` and ``loss_fake(v) = f*(g_f(v))``.

    The generator minimises the bound, i.e. -E_Q[f*(g_f(v))] (the saddle point of the paper's Eq. 6); with
    ``non_saturating`` (the paper's Sec. 3.2 and its experiments) it maximises E_Q[g_f(v)] instead, which has
    the same fixed point and stronger gradients while Q is far from P.

    Its theory: the estimate tends to D_f(P || Q) = E_Q[f(p / q)] (``f_of_log_ratio``, integrated by
    ``ganlab/theory.py`` where no closed form is known), at the critic output v* with g_f(v*) = f'(p / q).
    """

    def __init__(self, non_saturating: bool = True):
        self.non_saturating = non_saturating
        self.divergence = self.name
        self.estimate_tag = f"Divergence/{self.name}"

    def f_of_log_ratio(self, r: Tensor) -> Tensor:
        """f(u) at u = exp(r), the generator of the divergence."""
        raise NotImplementedError

    def g_loss(self, fake: Tensor) -> Tensor:
        if self.non_saturating:
            return self.loss_real(fake).mean()  # -E_Q[g_f(v)]
        return -self.loss_fake(fake).mean()  # -E_Q[f*(g_f(v))]

    def estimate_from_d_loss(self, d_loss: Tensor) -> Tensor:
        return -d_loss


@OBJECTIVES.register("kl", params=FGANParams)
class KL(FDivergence):
    """Kullback-Leibler KL(P || Q): f(u) = u log u, g_f(v) = v, f*(t) = exp(t - 1)."""

    name = "kl"

    def loss_real(self, out: Tensor) -> Tensor:
        return -out

    def loss_fake(self, out: Tensor) -> Tensor:
        return safe_exp(out - 1.0)

    def f_of_log_ratio(self, r: Tensor) -> Tensor:
        return r.exp() * r

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return 1 + log_ratio


@OBJECTIVES.register("reverse_kl", params=FGANParams)
class ReverseKL(FDivergence):
    """Reverse KL, KL(Q || P): f(u) = -log u, g_f(v) = -exp(-v), f*(t) = -1 - log(-t), so f*(g_f(v)) = v - 1."""

    name = "reverse_kl"

    def loss_real(self, out: Tensor) -> Tensor:
        return safe_exp(-out)

    def loss_fake(self, out: Tensor) -> Tensor:
        return out - 1.0

    def f_of_log_ratio(self, r: Tensor) -> Tensor:
        return -r

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return log_ratio


@OBJECTIVES.register("pearson", params=FGANParams)
class Pearson(FDivergence):
    """Pearson chi^2 = int (p - q)^2 / q: f(u) = (u - 1)^2, g_f(v) = v, f*(t) = t^2 / 4 + t."""

    name = "pearson"

    def loss_real(self, out: Tensor) -> Tensor:
        return -out

    def loss_fake(self, out: Tensor) -> Tensor:
        return 0.25 * out.square() + out

    def f_of_log_ratio(self, r: Tensor) -> Tensor:
        return torch.expm1(r).square()

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return 2 * torch.expm1(log_ratio)


class ExpActivation(FDivergence):
    """The divergences whose output activation is g_f(v) = 1 - exp(-v) (values below 1)."""

    def loss_real(self, out: Tensor) -> Tensor:
        return safe_exp(-out) - 1.0


@OBJECTIVES.register("neyman", params=FGANParams)
class Neyman(ExpActivation):
    """Neyman chi^2 = int (q - p)^2 / p: f(u) = (1 - u)^2 / u, g_f(v) = 1 - exp(-v), f*(t) = 2 - 2 sqrt(1 - t),
    so f*(g_f(v)) = 2 - 2 exp(-v / 2)."""

    name = "neyman"

    def loss_fake(self, out: Tensor) -> Tensor:
        return 2.0 - 2.0 * safe_exp(-0.5 * out)

    def f_of_log_ratio(self, r: Tensor) -> Tensor:
        return torch.expm1(r).square() * (-r).exp()

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return 2 * log_ratio


@OBJECTIVES.register("squared_hellinger", params=FGANParams)
class SquaredHellinger(ExpActivation):
    """Squared Hellinger int (sqrt p - sqrt q)^2: f(u) = (sqrt u - 1)^2, g_f(v) = 1 - exp(-v), f*(t) = t / (1 - t),
    so f*(g_f(v)) = exp(v) - 1."""

    name = "squared_hellinger"

    def loss_fake(self, out: Tensor) -> Tensor:
        return safe_exp(out) - 1.0

    def f_of_log_ratio(self, r: Tensor) -> Tensor:
        return torch.expm1(r / 2).square()

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return log_ratio / 2


@OBJECTIVES.register("jensen_shannon", params=FGANParams)
class JensenShannon(FDivergence):
    """Jensen-Shannon JSD = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2, in nats (at most log 2).

    Table 2's g_f(v) = log 2 - log(1 + exp(-v)) and f*(t) = -log(2 - exp(t)) are the conjugate pair of
    f(u) = u log u - (u + 1) log((u + 1) / 2), which generates 2 JSD, not Table 1's JSD; halving f halves g_f
    and f* (h(u) = f(u) / 2 has h*(t / 2) = f*(t) / 2), so both loss terms carry a factor 1/2 and the bound is on
    JSD itself. The optimal critic is the paper's; D = sigmoid(v) is the probability that x is real.
    """

    name = "jensen_shannon"
    probabilistic = True

    def loss_real(self, out: Tensor) -> Tensor:
        return 0.5 * (Minimax.loss_real(self, out) - math.log(2.0))  # -g_f(v) / 2

    def loss_fake(self, out: Tensor) -> Tensor:
        return 0.5 * (Minimax.loss_fake(self, out) - math.log(2.0))  # f*(g_f(v)) / 2 = -log(2 - 2 sigmoid(v)) / 2

    def f_of_log_ratio(self, r: Tensor) -> Tensor:
        u = r.exp()
        return 0.5 * (u * r - (u + 1) * (torch.logaddexp(r, torch.zeros_like(r)) - math.log(2.0)))

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return log_ratio


@OBJECTIVES.register("gan_divergence", params=FGANParams)
class GANDivergence(FDivergence):
    """The GAN divergence 2 JSD - log 4: f(u) = u log u - (u + 1) log(u + 1), g_f(v) = -log(1 + exp(-v)),
    f*(t) = -log(1 - exp(t)). Its critic is the original GAN discriminator with D = sigmoid(v)."""

    name = "gan_divergence"
    probabilistic = True
    loss_real = Minimax.loss_real  # -g_f(v) = softplus(-v)
    loss_fake = Minimax.loss_fake  # f*(g_f(v)) = softplus(v)

    def f_of_log_ratio(self, r: Tensor) -> Tensor:
        u = r.exp()
        return u * r - (u + 1) * torch.logaddexp(r, torch.zeros_like(r))

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return log_ratio


@OBJECTIVES.register("total_variation", params=FGANParams)
class TotalVariation(FDivergence):
    """Total variation 1/2 int |p - q| (in [0, 1]): f(u) = |u - 1| / 2, g_f(v) = tanh(v) / 2, f*(t) = t."""

    name = "total_variation"

    def loss_real(self, out: Tensor) -> Tensor:
        return -0.5 * torch.tanh(out)

    def loss_fake(self, out: Tensor) -> Tensor:
        return 0.5 * torch.tanh(out)

    def f_of_log_ratio(self, r: Tensor) -> Tensor:
        return 0.5 * torch.expm1(r).abs()

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return 40 * log_ratio.sign()  # any |v| >> 1 with the sign of p - q; tanh(40) = 1 in float64
