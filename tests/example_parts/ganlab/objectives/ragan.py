"""The relativistic average GAN (RaGAN; Jolicoeur-Martineau 2019), an example part (tests/test_parts.py adds it to
a copy of ganlab). D judges each real output against the mean fake output and each fake against the mean real
one; G the same with the roles swapped. G's loss is therefore no mean of per-sample losses, its optimal critic
has no closed form, and it logs no divergence estimate: it says so, and the tests follow."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganlab.objectives import OBJECTIVES
from ganlab.objectives.base import Objective


@OBJECTIVES.register("ragan")
class RelativisticAverage(Objective):
    name = "ragan"
    relativistic = True  # G's loss takes D's outputs for the real batch
    closed_form = False
    g_loss_per_sample = False  # each fake is compared with the real batch's mean, and the reals with the fakes'

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean()

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        if real is None:
            raise ValueError("ragan's generator loss compares the fakes with D's outputs for real samples")
        real = real.detach()
        return F.softplus(real - fake.mean()).mean() + F.softplus(-(fake - real.mean())).mean()
