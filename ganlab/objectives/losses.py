"""The minimax, non-saturating, Wasserstein, hinge and least-squares GAN objectives."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.objectives import OBJECTIVES
from ganlab.objectives.base import Objective


@OBJECTIVES.register("minimax")
class Minimax(Objective):
    """Goodfellow et al. 2014: min_G max_D E_p[log D(x)] + E_q[log(1 - D(G(z)))].

    At the optimal D* = p / (p + q) the value V = -d_loss is 2 JSD(p || q) - log 4, so the estimate reported
    is JSD = (V + log 4) / 2, in nats (at most log 2).
    """

    name = "minimax"
    probabilistic = True
    divergence = "jensen_shannon"
    estimate_tag = "Divergence/jensen_shannon"

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return log_ratio  # D* = p / (p + q) = sigmoid(log p - log q)

    def loss_real(self, out: Tensor) -> Tensor:
        return F.softplus(-out)  # -log D(x)

    def loss_fake(self, out: Tensor) -> Tensor:
        return F.softplus(out)  # -log(1 - D(G(z)))

    def g_loss(self, fake: Tensor) -> Tensor:
        return -self.loss_fake(fake).mean()  # E[log(1 - D(G(z)))]

    def estimate_from_d_loss(self, d_loss: Tensor) -> Tensor:
        return (math.log(4.0) - d_loss) / 2


@OBJECTIVES.register("non_saturating")
class NonSaturating(Minimax):
    """The same D as minimax; G maximises log D(G(z)) instead (strong gradients early in training)."""

    name = "non_saturating"

    def g_loss(self, fake: Tensor) -> Tensor:
        return self.loss_real(fake).mean()  # -E[log D(G(z))]


@OBJECTIVES.register("wasserstein")
class Wasserstein(Objective):
    """Arjovsky et al. 2017: the critic maximises E_p[f(x)] - E_q[f(G(z))] (Kantorovich-Rubinstein).

    With f 1-Lipschitz (clipping, a gradient penalty or spectral norm) the gap estimates W1(p, q).
    """

    name = "wasserstein"
    divergence = "wasserstein1"  # the optimal critic is not a function of the density ratio
    estimate_tag = "Wasserstein/estimate"

    def loss_real(self, out: Tensor) -> Tensor:
        return -out

    def loss_fake(self, out: Tensor) -> Tensor:
        return out

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    def estimate_from_d_loss(self, d_loss: Tensor) -> Tensor:
        return -d_loss


@OBJECTIVES.register("hinge")
class Hinge(Objective):
    """Lim & Ye 2017, Miyato et al. 2018: D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; G: -E[D(G(z))].

    Pointwise, p relu(1 - d) + q relu(1 + d) is smallest at d = sign(p - q), where it is 2 min(p, q); so D's
    loss is at least 2 (1 - TV(p, q)) and 1 - d_loss / 2 estimates the total variation from below.
    """

    name = "hinge"
    divergence = "total_variation"
    estimate_tag = "Divergence/total_variation"

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return log_ratio.sign()

    def loss_real(self, out: Tensor) -> Tensor:
        return F.relu(1.0 - out)

    def loss_fake(self, out: Tensor) -> Tensor:
        return F.relu(1.0 + out)

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    def estimate_from_d_loss(self, d_loss: Tensor) -> Tensor:
        return 1.0 - d_loss / 2


@OBJECTIVES.register("least_squares")
class LeastSquares(Objective):
    """Mao et al. 2017 (a = 0, b = c = 1): D minimises 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2];
    G minimises 1/2 E[(D(G(z)) - 1)^2].

    The optimal D is p / (p + q), where D's loss is (2 - Delta) / 8 with Delta = int (p - q)^2 / (p + q) the
    triangular discrimination; so 2 - 8 d_loss estimates Delta (in [0, 2]) from below.
    """

    name = "least_squares"
    divergence = "triangular"
    estimate_tag = "Divergence/triangular"

    def optimal_output(self, log_ratio: Tensor) -> Tensor:
        return torch.sigmoid(log_ratio)

    def loss_real(self, out: Tensor) -> Tensor:
        return 0.5 * (out - 1.0).square()

    def loss_fake(self, out: Tensor) -> Tensor:
        return 0.5 * out.square()

    def g_loss(self, fake: Tensor) -> Tensor:
        return self.loss_real(fake).mean()

    def estimate_from_d_loss(self, d_loss: Tensor) -> Tensor:
        return 2.0 - 8.0 * d_loss
