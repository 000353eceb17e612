"""What every GAN objective is: D's and G's losses on D's raw outputs, and the theory they follow."""

from __future__ import annotations

import torch
from torch import Tensor


class Objective:
    """The loss phases of one GAN objective, on discriminator outputs (logits for the probabilistic ones).

    D's loss is a sum of a mean over real outputs and a mean over fake outputs; ``loss_real`` and
    ``loss_fake`` give the per-sample terms, so the same loss can be integrated against densities.

    An objective also declares its theory, which ``ganlab/theory.py`` and the tests read: the quantity its
    estimate tends to at the optimal discriminator (``divergence``, a name theory knows, e.g. ``jensen_shannon``
    or ``total_variation``) and that discriminator's raw output as a function of the log density ratio
    (:meth:`optimal_output`). An objective whose optimum has no closed form says so (``closed_form = False``);
    the closed-form checks leave it out. One without an estimate of a divergence leaves ``estimate_tag`` None.

    A relativistic objective (``relativistic = True``) compares D's output for each fake with its output for a
    real sample: its losses are not sums of per-sample terms, and its G loss takes D's outputs for the real
    batch as well (:meth:`g_loss`'s ``real``, detached). Where G's loss is not the batch mean of one loss per
    fake (a relativistic *average* compares each sample with the other batch's mean), it says
    ``g_loss_per_sample = False``.
    """

    name: str = ""
    divergence: str | None = None  # what estimate() tends to at the optimal D (see ganlab/theory.py)
    estimate_tag: str | None = None  # the TensorBoard tag of estimate(); None: the objective logs no estimate
    probabilistic: bool = False  # D outputs a logit of P(real): its outputs are logged as sigmoids (training/tags.py)
    closed_form: bool = True  # ganlab/theory.py knows what the optimal D gives (divergence, optimal_output)
    relativistic: bool = False  # g_loss(fake, real) needs D's outputs for the real batch too
    g_loss_per_sample: bool = True  # g_loss of a batch is the mean of g_loss of each of its samples (pairs)

    def optimal_output(self, log_ratio: Tensor) -> Tensor | None:
        """The optimal D's raw output where log p(x) - log q(x) = ``log_ratio`` (None: not a function of it)."""
        return None

    def decision_boundary(self) -> float | None:
        """D's raw output where real and fake are alike (its optimal output at p = q): ADA's r_t counts the real
        samples D puts above it. None where the optimal output is not a function of the density ratio."""
        out = self.optimal_output(torch.zeros(()))
        return None if out is None else float(out)

    def loss_real(self, out: Tensor) -> Tensor:
        """D's loss on each of its outputs for real samples."""
        raise NotImplementedError

    def loss_fake(self, out: Tensor) -> Tensor:
        """D's loss on each of its outputs for generated samples."""
        raise NotImplementedError

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """The discriminator's loss (to minimise) on its outputs for a real and a fake batch."""
        return self.loss_real(real).mean() + self.loss_fake(fake).mean()

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        """The generator's loss (to minimise) on the discriminator's outputs for a fake batch (and, where the
        objective is relativistic, for the real batch, detached; the others take ``fake`` alone)."""
        raise NotImplementedError

    def estimate_from_d_loss(self, d_loss: Tensor) -> Tensor:
        """The divergence or distance that D's loss ``d_loss`` bounds from below (objectives with an estimate_tag)."""
        raise NotImplementedError

    def estimate(self, real: Tensor, fake: Tensor) -> Tensor | None:
        """The divergence or distance the current discriminator estimates on this batch, or None."""
        return self.estimate_from_d_loss(self.d_loss(real, fake)) if self.estimate_tag else None

    def d_output(self, out: Tensor) -> Tensor:
        """D's output as it is reported: a probability for probabilistic objectives, else the raw value."""
        return torch.sigmoid(out) if self.probabilistic else out
