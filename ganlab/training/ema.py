"""An exponential moving average of the generator's weights (Karras et al. 2018; Yazıcı et al. 2019).

G's weights oscillate around the point the game converges to; their running average sits nearer to it, and
its samples are usually cleaner than the last iterate's. torch's :class:`~torch.optim.swa_utils.AveragedModel`
keeps the average (BatchNorm's running statistics averaged too: ``use_buffers=True``) and
:func:`~torch.optim.swa_utils.get_ema_multi_avg_fn` applies the update
``ema <- decay * ema + (1 - decay) * G`` after each generator step (the first copies G).

The decay follows StyleGAN2-ADA: the average has a half-life of ``model.ema`` generated images (generator
steps times the batch size), so the same setting means the same averaging window at any batch size; and while
G is young, the half-life is at most ``model.ema_rampup`` times the images G has trained on, so a short run's
average does not hold on to its random start::

    half_life_k = min(ema, ema_rampup * k * batch_size)      (after the k-th generator step)
    decay_k     = 0.5 ** (batch_size / half_life_k)

The decay depends on k alone, so a resumed run averages exactly as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def ema_decay(updates: int, half_life: float, batch_size: int, rampup: float) -> float:
    """The decay of the ``updates``-th update (1, 2, ...) for a half-life of ``half_life`` images."""
    span = min(half_life, rampup * updates * batch_size) if rampup > 0 else half_life
    return 0.5 ** (batch_size / span) if span > 0 else 0.0


class GeneratorEMA:
    """The moving average of a generator; :attr:`module` is a generator like G (same class, same state-dict keys)."""

    def __init__(self, G: nn.Module, half_life: float, batch_size: int, rampup: float):
        self.half_life, self.batch_size, self.rampup = float(half_life), int(batch_size), float(rampup)
        self.updates = 0  # on the host, so that the decay never waits for the device
        self.decay = 0.0
        self.averaged = AveragedModel(G, multi_avg_fn=self._average, use_buffers=True)
        self.module: nn.Module = self.averaged.module
        self.module.requires_grad_(False)

    def _average(self, ema: list[torch.Tensor], current: list[torch.Tensor], n_averaged: torch.Tensor) -> None:
        get_ema_multi_avg_fn(self.decay)(ema, current, n_averaged)

    def update(self, G: nn.Module) -> None:
        """Average in G's weights after a generator step."""
        self.updates += 1
        self.decay = ema_decay(self.updates, self.half_life, self.batch_size, self.rampup)
        self.averaged.update_parameters(G)

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
        self.averaged.n_averaged.fill_(self.updates)
