"""An exponential moving average of the generator's weights (Karras et al. 2018; Yazıcı et al. 2019).

G's weights oscillate around the point the game converges to; their running average sits nearer to it, and
its samples are usually cleaner than the last iterate's. The average is a copy of G updated after each generator
step by ``ema <- decay * ema + (1 - decay) * G`` over its weights and buffers (BatchNorm's running statistics
averaged too), as torch's ``AveragedModel(use_buffers=True)`` with ``get_ema_multi_avg_fn`` does, with no host
synchronisation, so that a CUDA graph can replay it (the first update copies G).

The decay follows StyleGAN2-ADA: the average has a half-life of ``model.ema`` generated images (generator
steps times the batch size), so the same setting means the same averaging window at any batch size; and while
G is young, the half-life is at most ``model.ema_rampup`` times the images G has trained on, so a short run's
average does not hold on to its random start::

    half_life_k = min(ema, ema_rampup * k * batch_size)      (after the k-th generator step)
    decay_k     = 0.5 ** (batch_size / half_life_k)

The decay depends on k alone, so a resumed run averages exactly as an uninterrupted one.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn


def ema_decay(updates: int, half_life: float, batch_size: int, rampup: float) -> float:
    """The decay of the ``updates``-th update (1, 2, ...) for a half-life of ``half_life`` images."""
    span = min(half_life, rampup * updates * batch_size) if rampup > 0 else half_life
    return 0.5 ** (batch_size / span) if span > 0 else 0.0


class GeneratorEMA:
    """The moving average of a generator; :attr:`module` is a generator like G (same class, same state-dict keys).

    An update is two halves: :meth:`advance` counts it and computes its decay on the host, :meth:`average`
    applies it on the device. A training step captured as a CUDA graph (training/graphs.py) replays
    :meth:`average` with the decay read from a device tensor (:meth:`decay_on_device`) that :meth:`advance`
    fills before each replay; eager steps pass the decay as a number, as ``AveragedModel`` does.
    """

    def __init__(self, G: nn.Module, half_life: float, batch_size: int, rampup: float):
        self.half_life, self.batch_size, self.rampup = float(half_life), int(batch_size), float(rampup)
        self.updates = 0  # on the host, so that the decay never waits for the device
        self.decay = 0.0
        self.module: nn.Module = copy.deepcopy(G)
        self.module.requires_grad_(False)
        self._decay: Tensor | None = None  # the decay on the device, for a captured average

    def decay_on_device(self) -> None:
        """From now on :meth:`average` reads the decay from a device tensor (a CUDA graph can replay it)."""
        self._decay = torch.zeros((), device=next(self.module.parameters()).device)

    def advance(self) -> None:
        """Count an update and set its decay (host side, outside any captured graph)."""
        self.updates += 1
        self.decay = ema_decay(self.updates, self.half_life, self.batch_size, self.rampup)
        if self._decay is not None:
            self._decay.fill_(self.decay)

    @torch.no_grad()
    def average(self, G: nn.Module) -> None:
        """``ema <- decay * ema + (1 - decay) * G`` over G's weights and buffers (the first update copies G)."""
        ema = [*self.module.parameters(), *self.module.buffers()]
        now = [t.detach() for t in (*G.parameters(), *G.buffers())]
        if self.updates == 1:
            torch._foreach_copy_(ema, now)
            return
        floats = [i for i, t in enumerate(ema) if t.is_floating_point()]
        ema_f, now_f = [ema[i] for i in floats], [now[i] for i in floats]
        decay: float | Tensor = self.decay if self._decay is None else self._decay
        if isinstance(decay, float):
            torch._foreach_lerp_(ema_f, now_f, 1 - decay)
        else:
            torch._foreach_mul_(ema_f, decay)
            torch._foreach_add_(ema_f, torch._foreach_mul(now_f, 1 - decay))
        for i in sorted(set(range(len(ema))) - set(floats)):  # BatchNorm's batch count, as AveragedModel treats it
            ema[i].copy_(ema[i] * decay + now[i] * (1 - decay))

    def update(self, G: nn.Module) -> None:
        """Average in G's weights after a generator step."""
        self.advance()
        self.average(G)

    def state_dict(self) -> dict[str, Any]:
        """``G_ema``: the averaged generator's own state dict (G's keys, no wrapper), and the updates made."""
        return {"G_ema": self.module.state_dict(), "ema_updates": self.updates}

    def load_state_dict(self, state: dict[str, Any], G: nn.Module) -> None:
        """Continue the average a checkpoint holds; one without it (EMA turned on at a resume) starts from ``G``."""
        if "G_ema" in state:
            self.module.load_state_dict(state["G_ema"])
            self.updates = int(state["ema_updates"])
        else:
            self.module.load_state_dict(G.state_dict())
            self.updates = 0
