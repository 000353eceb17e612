"""One training iteration, as in the papers' Algorithm 1: n_critic discriminator steps, then one generator step.

A gradient penalty may be lazy (StyleGAN2, Karras et al. 2020, Sec. 4): computed on every ``penalty_every``-th D
step only, and multiplied by ``penalty_every`` there, so it weighs the same on average at a fraction of the cost
(a penalty differentiates D twice, the dearest part of a step on small networks).

The last critic step's fake batch is generated with its graph kept and reused for the generator step, so G
runs forward once per iteration (the D step sees it detached; the earlier critic steps generate without a
graph). Nothing here reads a value back to the host: the statistics come back as named device tensors that
the trainer reads only when it logs. Each part reports its own: the objective its losses and estimate, the
penalty whatever tags it reports (kept between the evaluations of a lazy penalty).

The device's work of a step (:meth:`GANStep.iteration`: drawing the batches, both phases, the generator's moving
average) depends on the host only through which D steps carry a lazy penalty (:meth:`GANStep.penalty_due`),
so that training/graphs.py can capture it once per such pattern as a CUDA graph and replay it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.augment.base import Augment
from ganlab.data import Dataset
from ganlab.objectives.base import Objective
from ganlab.objectives.penalties import Penalty
from ganlab.shares import ALL, Share
from ganlab.training import tags
from ganlab.training.ema import GeneratorEMA

Stats = dict[str, Tensor]  # TensorBoard tag -> a 0-d device tensor


def grad_norm(module: nn.Module) -> Tensor:
    """The L2 norm of all of ``module``'s gradients together (one fused norm per device and dtype)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads).float() if grads else torch.zeros(())


def compile_networks(G: nn.Module, D: nn.Module, backend: str = "inductor") -> tuple[Callable, Callable]:
    """``torch.compile``d forward functions of G and D; the modules (and their parameters) stay shared.

    Gradient penalties differentiate D twice, which compiled graphs do not support, so penalties keep the
    eager D (see :class:`GANStep`).
    """
    return torch.compile(G, backend=backend), torch.compile(D, backend=backend)


def _no_sync(forward: Callable) -> contextlib.AbstractContextManager:
    """A DistributedDataParallel D's forward without its gradient all-reduce: the G phase, where D is frozen."""
    return forward.no_sync() if hasattr(forward, "no_sync") else contextlib.nullcontext()


class AugmentedD(nn.Module):
    """D behind the augmentation, for the penalty: its input gradient is taken through the augmentation, with
    respect to the images before it (as StyleGAN2-ADA's R1). Holds D without owning it."""

    def __init__(self, D: nn.Module, augment: Augment):
        super().__init__()
        self.forward_of, self.augment = (D,), augment  # a tuple, so that D is not registered as a submodule

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        return self.forward_of[0](self.augment(x), y)


class GANStep:
    """Updates G and D for one generator step and returns their statistics by name.

    ``compiled``: optional ``(G, D)`` forward functions (from :func:`compile_networks`, or DistributedDataParallel
    wrappers) used in place of the modules' own forwards for the adversarial terms. ``share``: the rows of each
    globally drawn batch this process trains on (see :mod:`ganlab.shares`). ``ema``: G's moving average, updated
    after each step. ``augment``: applied to every batch before D sees it (both phases, a relativistic
    objective's real batch, the penalty's points through :class:`AugmentedD`), told D's verdicts on the real
    images (``Augment/rt``, where the objective says where D cannot tell real from fake) to adapt by.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                 objective: Objective, penalty: Penalty, *, n_critic: int, batch_size: int,
                 autocast_dtype: torch.dtype | None = None, channels_last: bool = False,
                 compiled: tuple[Callable, Callable] | None = None, penalty_every: int = 1, share: Share = ALL,
                 ema: GeneratorEMA | None = None, augment: Augment | None = None):
        self.G, self.D, self.opt_g, self.opt_d = G, D, opt_g, opt_d
        self.g_forward, self.d_forward = compiled or (G, D)
        self.d_params = list(D.parameters())
        self.objective, self.penalty, self.penalty_every = objective, penalty, penalty_every
        self.d_steps = 0
        self.device = next(G.parameters()).device
        self.penalty_stats: Stats = {}  # the penalty's last report, logged on the steps a lazy penalty skips
        self.n_critic, self.batch_size = n_critic, batch_size
        self.autocast_dtype, self.channels_last = autocast_dtype, channels_last
        self.share = share
        self.ema = ema
        self.augment = augment or Augment()
        # the penalty differentiates D through the augmentation (StyleGAN2-ADA's R1 on augmented reals)
        self.d_penalized = D if self.augment.identity else AugmentedD(D, self.augment)
        self.boundary = objective.decision_boundary()  # ADA's r_t counts the real outputs above it
        self.autocast_cache = True  # off in a captured graph, whose casts must not outlive it (see graphs.py)

    def _real_signs(self, d_real: Tensor) -> Tensor | None:
        """The sum of sign(D(x) - boundary) over a real batch's outputs (None where the objective has no boundary)."""
        return None if self.boundary is None else (d_real.detach() - self.boundary).sign().sum()

    def _report_penalty(self, tag: str, value: Tensor) -> None:
        self.penalty_stats[tag] = value.detach().float()

    def state_dict(self) -> dict[str, Any]:
        """The D steps taken (they decide a lazy penalty's steps) and the penalty's last report, for resuming."""
        return {"d_steps": self.d_steps, "penalty_stats": {k: float(v) for k, v in self.penalty_stats.items()},
                "augment": self.augment.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state["d_steps"])
        self.augment.load_state_dict(state.get("augment", {}))
        self.penalty_stats = {k: torch.tensor(v, device=self.device) for k, v in state.get("penalty_stats", {}).items()}

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype, cache_enabled=self.autocast_cache)

    def sample_z(self, n: int) -> Tensor:
        return self.share(torch.randn, n, self.G.z_dim, device=self.device)

    def _real_batch(self, data: Dataset) -> tuple[Tensor, Tensor | None]:
        real, y = self.share(data.sample, self.batch_size)
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        return real, y

    def freeze_d(self, frozen: bool) -> None:
        for p in self.d_params:
            p.requires_grad_(not frozen)

    def penalty_due(self) -> tuple[bool, ...]:
        """Which of the next step's D steps carry the penalty (every one unless it is lazy)."""
        return tuple((self.d_steps + i) % self.penalty_every == 0 for i in range(1, self.n_critic + 1))

    def __call__(self, data: Dataset, measure_grads: bool = False) -> tuple[Stats, Stats]:
        """One generator step. Returns its statistics and, if asked, the gradient norms (named in training/tags.py)."""
        if self.ema is not None:
            self.ema.advance()
        stats, grads = self.iteration(data, measure_grads)
        return {**stats, **self.penalty_stats}, grads

    def iteration(self, data: Dataset, measure_grads: bool) -> tuple[Stats, Stats]:
        """The device's work of one generator step (the moving average's decay already set): its statistics but
        the penalty's (in :attr:`penalty_stats`), and the gradient norms if asked."""
        G, D, objective, penalty, aug = self.g_forward, self.d_forward, self.objective, self.penalty, self.augment
        grads: Stats = {}
        signs: Tensor | None = None  # D's verdicts on this step's real images (ADA's r_t)

        # --- D phase: n_critic steps on fresh real and fake batches ---------------------------------------
        for i in range(self.n_critic):
            real, y = self._real_batch(data)
            keep_graph = i == self.n_critic - 1  # this fake batch also serves the G phase
            with torch.set_grad_enabled(keep_graph), self.autocast():
                fake = G(self.sample_z(self.batch_size), y)
            self.d_steps += 1
            seen_real, seen_fake = aug.pair(real, fake.detach())
            with self.autocast():
                d_real, d_fake = D(seen_real, y).float(), D(seen_fake, y).float()
            step_signs = self._real_signs(d_real)
            signs = step_signs if signs is None or step_signs is None else signs + step_signs
            loss_d = objective.d_loss(d_real, d_fake)
            pen = None  # a lazy penalty's skipped step; in fp32 on the eager D: penalties differentiate it twice
            if self.d_steps % self.penalty_every == 0:
                pen = penalty(self.d_penalized, real, fake.float(), y, self._report_penalty)
            total = loss_d if pen is None else loss_d + self.penalty_every * pen
            self.opt_d.zero_grad(set_to_none=True)
            total.backward()
            if measure_grads and keep_graph:
                grads[tags.GRAD_NORM_D] = grad_norm(self.D)
            self.opt_d.step()
            penalty.after_d_step(self.D)

        # --- G phase: one step through the updated D on the same fakes -----------------------------------
        self.freeze_d(True)
        with self.autocast(), _no_sync(D):
            if objective.relativistic:  # G's loss pairs its fakes with the real batch, as the updated D sees it
                with torch.no_grad():
                    out_real = D(aug(real), y).float()
                loss_g = objective.g_loss(D(aug(fake), y).float(), out_real)
            else:
                loss_g = objective.g_loss(D(aug(fake), y).float())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        if measure_grads:
            grads[tags.GRAD_NORM_G] = grad_norm(self.G)
        self.opt_g.step()
        self.freeze_d(False)
        if self.ema is not None:
            self.ema.average(self.G)

        with torch.no_grad():  # the statistics need no graph
            d_real, d_fake = d_real.detach(), d_fake.detach()
            out = tags.d_outputs(objective.probabilistic)
            stats: Stats = {tags.LOSS_D: loss_d.detach(), tags.LOSS_G: loss_g.detach(),
                            out.real: objective.d_output(d_real).mean(), out.fake: objective.d_output(d_fake).mean()}
            if objective.estimate_tag:
                stats[objective.estimate_tag] = objective.estimate(d_real, d_fake)  # type: ignore[assignment]
            if signs is not None:
                count = self.n_critic * d_real.numel()
                stats[tags.AUGMENT_RT] = signs / count
                aug.observe(signs, count)
            return {**stats, **aug.stats()}, grads
