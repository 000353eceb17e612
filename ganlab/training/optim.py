"""Optimisers and learning-rate schedules of G and D.

The schedule is a function of the generator step alone (linear decay to 0 over ``optim.decay_steps``, else
constant), applied by torch's ``LambdaLR``; the base rates always come from the config, so a resumed run may
change ``optim.lr`` and keeps its place in the schedule.

A step replayed as a CUDA graph (training/graphs.py) needs optimisers made for it (``capturable``): their step
counts live on the device and the learning rate is a device tensor, which the schedule fills in place, so the
replayed update reads each step's rate. A checkpoint stores the rate as a number either way, and an optimiser
loaded from one keeps its own way of running (:func:`load_optimizer`).
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

# how an optimiser runs, which a checkpoint written by another kind of run must not change
_HOW = ("foreach", "fused", "capturable")


def build_optimizers(cfg: DictConfig, G: nn.Module, D: nn.Module,
                     capturable: bool = False) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam or RMSprop for G and D; each updates all its tensors in one fused (or multi-tensor) kernel.
    ``capturable``: safe to replay in a CUDA graph (the rate a device tensor)."""
    device = next(G.parameters()).device

    def rate(lr: float) -> float | torch.Tensor:
        return torch.tensor(lr, device=device) if capturable else lr

    lr_g, lr_d = base_rates(cfg)
    if cfg.name == "rmsprop":
        return (torch.optim.RMSprop(G.parameters(), lr=rate(lr_g), foreach=True, capturable=capturable),
                torch.optim.RMSprop(D.parameters(), lr=rate(lr_d), foreach=True, capturable=capturable))
    betas = (cfg.beta1, cfg.beta2)
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {"foreach": True}
    return (torch.optim.Adam(G.parameters(), lr=rate(lr_g), betas=betas, capturable=capturable, **fused),
            torch.optim.Adam(D.parameters(), lr=rate(lr_d), betas=betas, capturable=capturable, **fused))


def optimizer_state(opt: torch.optim.Optimizer) -> dict[str, Any]:
    """``opt.state_dict()`` with each group's rate as a number (a capturable optimiser holds a tensor)."""
    state = opt.state_dict()
    for group in state["param_groups"]:
        group["lr"] = float(group["lr"])
    return state


def load_optimizer(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load ``state`` into ``opt``, keeping how ``opt`` runs (a checkpoint of an eager run may go on in a CUDA
    graph, and the other way round): its flags, its rate as a tensor or a number, its step counts' device."""
    opt.load_state_dict(state)
    for group in opt.param_groups:
        group.update({k: opt.defaults[k] for k in _HOW if k in opt.defaults})
        if group.get("capturable"):
            device = group["params"][0].device
            group["lr"] = torch.tensor(float(group["lr"]), device=device)
            for p in group["params"]:
                if "step" in opt.state.get(p, {}):
                    opt.state[p]["step"] = opt.state[p]["step"].to(device, torch.float32)
        else:
            group["lr"] = float(group["lr"])


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


def current_rate(opt: torch.optim.Optimizer) -> float:
    """The rate of the first group, as a number (read from the device where it is a tensor)."""
    return float(opt.param_groups[0]["lr"])
