"""The relativistic pairing GAN (RpGAN; Jolicoeur-Martineau 2019), the objective of R3GAN (Huang et al. 2024,
"The GAN is dead; long live the GAN!"), trained there with R1 and R2 together (``penalty=r1r2``)."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

from ganlab.objectives import OBJECTIVES
from ganlab.objectives.base import Objective


@OBJECTIVES.register("rpgan")
class RelativisticPairing(Objective):
    """D minimises E[softplus(-(D(x) - D(G(z))))] over pairs of a real x and a fake G(z) (the i-th of each batch);
    G minimises E[softplus(-(D(G(z)) - D(x)))], the same pairs with the roles swapped.

    D need not say how real a sample is, only which of a pair is the real one: each fake is pushed past a real
    sample, so G is driven towards every real mode (Sun et al. 2020: no mode-collapsed basins, unlike the
    separable GAN). Theory: sup_D of log 2 - D's loss is the relativistic divergence of Jolicoeur-Martineau
    (2019, "On relativistic f-divergences"), 0 iff the distributions agree and at most log 2; the optimal D
    solves an integral equation (D(x) against every D(y)), not a function of the density ratio at x, so no
    closed form is known and the closed-form checks leave this objective out.
    """

    name = "rpgan"
    divergence = "relativistic_pairing"
    estimate_tag = "Divergence/relativistic_pairing"
    closed_form = False
    relativistic = True

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(fake - real).mean()  # softplus(-(D(x) - D(G(z))))

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        if real is None:
            raise ValueError("rpgan's generator loss pairs each fake with a real sample: pass D's outputs for both")
        return F.softplus(real.detach() - fake).mean()  # softplus(-(D(G(z)) - D(x)))

    def estimate_from_d_loss(self, d_loss: Tensor) -> Tensor:
        return math.log(2.0) - d_loss
