"""GAN objectives, written on the discriminator's raw outputs (logits) in numerically safe form.

Each objective gives the discriminator's loss on real and fake outputs, the generator's loss on fake
outputs, and (where it has one) the divergence or distance its discriminator estimates. With the logit
``a`` of D, log D = -softplus(-a) and log(1 - D) = -softplus(a): never a Sigmoid followed by a log.
"""

from ganlab.objectives.losses import OBJECTIVES, Objective, build_objective

__all__ = ["OBJECTIVES", "Objective", "build_objective"]
