"""Optimisers and learning-rate schedules of G and D.

The schedule is a function of the generator step alone (linear decay to 0 over ``optim.decay_steps``, else
constant), applied by torch's ``LambdaLR``; the base rates always come from the config, so a resumed run may
change ``optim.lr`` and keeps its place in the schedule.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn


def build_optimizers(cfg: DictConfig, G: nn.Module, D: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam or RMSprop for G and D; each updates all its tensors in one fused (or multi-tensor) kernel."""
    lr_g, lr_d = base_rates(cfg)
    if cfg.name == "rmsprop":
        return (torch.optim.RMSprop(G.parameters(), lr=lr_g, foreach=True),
                torch.optim.RMSprop(D.parameters(), lr=lr_d, foreach=True))
    betas = (cfg.beta1, cfg.beta2)
    fused = {"fused": True} if next(G.parameters()).device.type in ("cpu", "cuda") else {"foreach": True}
    return (torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas, **fused),
            torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas, **fused))


def base_rates(cfg: DictConfig) -> tuple[float, float]:
    """G's and D's learning rates before the schedule."""
    return cfg.lr, cfg.lr if cfg.lr_d is None else cfg.lr_d


def build_schedulers(cfg: DictConfig, opts: tuple[torch.optim.Optimizer, ...],
                     step: int = 0) -> list[torch.optim.lr_scheduler.LRScheduler]:
    """The schedule of each optimiser, placed at generator step ``step`` with the config's base rates."""
    horizon = cfg.decay_steps

    def factor(t: int) -> float:
        return max(0.0, 1.0 - t / horizon) if horizon else 1.0

    for opt, base in zip(opts, base_rates(cfg), strict=True):
        for group in opt.param_groups:
            group["initial_lr"] = base
    return [torch.optim.lr_scheduler.LambdaLR(opt, factor, last_epoch=step - 1) for opt in opts]
