"""The minimax, non-saturating, Wasserstein, hinge and least-squares GAN objectives."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


class Objective:
    """The loss phases of one GAN objective, on discriminator outputs (logits for the probabilistic ones)."""

    name: str = ""
    estimate_tag: str | None = None  # the TensorBoard tag of estimate(), if the objective has one
    probabilistic: bool = False  # D outputs a logit of P(real): D/real and D/fake are logged as sigmoids

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """The discriminator's loss (to minimise) on its outputs for a real and a fake batch."""
        raise NotImplementedError

    def g_loss(self, fake: Tensor) -> Tensor:
        """The generator's loss (to minimise) on the discriminator's outputs for a fake batch."""
        raise NotImplementedError

    def estimate(self, real: Tensor, fake: Tensor) -> Tensor | None:
        """The divergence or distance the current discriminator estimates on this batch, or None."""
        return None

    def d_output(self, out: Tensor) -> Tensor:
        """D's output as it is reported: a probability for probabilistic objectives, else the raw value."""
        return torch.sigmoid(out) if self.probabilistic else out


class Minimax(Objective):
    """Goodfellow et al. 2014: min_G max_D E_p[log D(x)] + E_q[log(1 - D(G(z)))].

    At the optimal D* = p / (p + q) the value is 2 JSD(p || q) - log 4, so the estimate reported is
    JSD = (V + log 4) / 2 with V = -d_loss.
    """

    name = "minimax"
    probabilistic = True
    estimate_tag = "Divergence/jsd"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -F.softplus(fake).mean()  # E[log(1 - D(G(z)))]

    def estimate(self, real: Tensor, fake: Tensor) -> Tensor:
        return (math.log(4.0) - self.d_loss(real, fake)) / 2


class NonSaturating(Minimax):
    """The same D as minimax; G maximises log D(G(z)) instead (strong gradients early in training)."""

    name = "non_saturating"

    def g_loss(self, fake: Tensor) -> Tensor:
        return F.softplus(-fake).mean()  # -E[log D(G(z))]


class Wasserstein(Objective):
    """Arjovsky et al. 2017: the critic maximises E_p[f(x)] - E_q[f(G(z))] (Kantorovich-Rubinstein).

    With f 1-Lipschitz (clipping, a gradient penalty or spectral norm) the gap estimates W1(p, q).
    """

    name = "wasserstein"
    estimate_tag = "Wasserstein/estimate"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    def estimate(self, real: Tensor, fake: Tensor) -> Tensor:
        return real.mean() - fake.mean()


class Hinge(Objective):
    """Lim & Ye 2017, Miyato et al. 2018: D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; G: -E[D(G(z))]."""

    name = "hinge"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()


class LeastSquares(Objective):
    """Mao et al. 2017 (a = 0, b = c = 1): D minimises 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2];
    G minimises 1/2 E[(D(G(z)) - 1)^2]."""

    name = "least_squares"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * (real - 1.0).square().mean() + 0.5 * fake.square().mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return 0.5 * (fake - 1.0).square().mean()


OBJECTIVES: dict[str, type[Objective]] = {
    cls.name: cls for cls in (Minimax, NonSaturating, Wasserstein, Hinge, LeastSquares)
}


def build_objective(name: str) -> Objective:
    return OBJECTIVES[name]()
