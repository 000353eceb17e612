"""The names of the TensorBoard scalars a run logs, in one place. A run's parts add their own: an objective its
estimate (``Wasserstein/estimate``, ``Divergence/<name>``), a penalty its terms (``Penalty/<name>``); an evaluation
logs ``Metrics/<name>``.

D's mean outputs are named by what they are, so that one chart never puts two kinds of number on one axis across
runs: a probability for the objectives whose D is a classifier (the sigmoid of its logit: ``D/real``, ``D/fake``,
``D/gap``, in [0, 1]), the raw value for a critic (Wasserstein, hinge, least squares, the f-GANs' and R3GAN's
outputs: ``D/critic_real``, ``D/critic_fake``, ``D/critic_gap``, on a scale of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

LOSS_D, LOSS_G = "Loss/D", "Loss/G"
GRAD_NORM_D, GRAD_NORM_G = "GradNorm/D", "GradNorm/G"
LR_D, LR_G = "LR/D", "LR/G"
SPEED = "Speed/img_per_s"  # real images through D per second, all processes together
COMPILE_S = "Speed/compile_s"  # trainer.compile=true: the first step's tracing and compilation
DIVERSITY = "Diversity/pairwise"  # the fixed-noise batch's spread as a share of a real batch's (training/monitor.py)
METRICS = "Metrics/"  # + a metric's name: an evaluation's value
AUGMENT_RT = "Augment/rt"  # ADA's overfitting heuristic E[sign(D(real))] on the reals D judged (augmented); an
# augmentation logs its own state beside it (augment=ada: Augment/p, ganlab/augment/ada.py)


@dataclass(frozen=True)
class DOutputs:
    """The tags of D's mean output on the real and the fake batch, and of their difference."""

    real: str
    fake: str
    gap: str
    real_train: str  # a fixed batch of training reals, unaugmented (data with a held-out split: training/monitor.py)
    real_heldout: str  # a fixed batch of held-out reals, measured alike


PROBABILITIES = DOutputs("D/real", "D/fake", "D/gap", "D/real_train", "D/real_heldout")
CRITIC = DOutputs("D/critic_real", "D/critic_fake", "D/critic_gap", "D/critic_real_train", "D/critic_real_heldout")


def d_outputs(probabilistic: bool) -> DOutputs:
    """The tags of D's outputs for an objective whose D is a classifier (``probabilistic``) or a critic."""
    return PROBABILITIES if probabilistic else CRITIC
