"""Optimisers and learning-rate schedules of G and D.

The schedule is a function of the generator step alone, applied by torch's ``LambdaLR``: ``optim.schedule=constant``
keeps the base rates; ``linear`` decays them to 0 at :func:`decay_end`, the run's last step (``trainer.steps``)
unless ``optim.decay_steps`` names another. So a preset shortened or lengthened on the command line still decays
over the run it was given. The base rates always come from the config, so a resumed run may change ``optim.lr``
and keeps its place in the schedule; :func:`resumed_schedule` says when resuming moves the end of the decay.

A step replayed as a CUDA graph (training/graphs.py) needs optimisers made for it (``capturable``): their step
counts live on the device and the learning rate is a device tensor, which the schedule fills in place, so the
replayed update reads each step's rate. A checkpoint stores the rate as a number either way, and an optimiser
loaded from one keeps its own way of running (:func:`load_optimizer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from ganlab.errors import GanlabError

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


def base_rates(cfg: Mapping[str, Any]) -> tuple[float, float]:
    """G's and D's learning rates before the schedule (``cfg``: the ``optim`` section)."""
    return cfg["lr"], cfg["lr"] if cfg.get("lr_d") is None else cfg["lr_d"]


def decay_end(cfg: Mapping[str, Any]) -> int | None:
    """The generator step at which a linear schedule reaches 0 (``optim.decay_steps``, else ``trainer.steps``);
    None for a constant rate. ``cfg``: a whole run config, composed or as a checkpoint stores it."""
    optim = cfg["optim"]
    if optim.get("schedule", "constant") != "linear":
        return None
    return int(optim.get("decay_steps") or cfg["trainer"]["steps"])


def factor(step: int, end: int | None) -> float:
    """The share of the base rate at generator step ``step``."""
    return max(0.0, 1.0 - step / end) if end else 1.0


def build_schedulers(cfg: DictConfig, opts: tuple[torch.optim.Optimizer, ...],
                     step: int = 0) -> list[torch.optim.lr_scheduler.LRScheduler]:
    """The schedule of each optimiser (``cfg``: the run's config), placed at generator step ``step`` with the
    config's base rates."""
    end = decay_end(cfg)
    for opt, base in zip(opts, base_rates(cfg.optim), strict=True):
        for group in opt.param_groups:
            group["initial_lr"] = base
    return [torch.optim.lr_scheduler.LambdaLR(opt, lambda t: factor(t, end), last_epoch=step - 1) for opt in opts]


def resumed_schedule(saved: Mapping[str, Any], cfg: DictConfig, step: int) -> str:
    """What the learning rate of a run resumed at ``step`` does, where resuming changes it: a line to say ('' when
    it goes on as before). A run whose rate would stay at 0 for every step it has left is refused, naming the keys
    that choose how it goes on."""
    before, after, steps = decay_end(saved), decay_end(cfg), cfg.trainer.steps
    if steps <= step:  # a finished run that resume=auto found: nothing to train
        return ""
    lr = base_rates(cfg.optim)[0]
    if after is not None and after <= step:
        raise GanlabError(
            f"the learning rate decayed to 0 at step {after:,} (optim.decay_steps={after}), so training on from step "
            f"{step:,} to {steps:,} would change nothing. Say how the rate goes on: optim.decay_steps=null (a linear "
            f"decay that ends with the run: G's rate {lr * factor(step, steps):.3g} at step {step:,}, 0 at {steps:,}), "
            f"optim.decay_steps=<M> with M > {step} to end it at step M, or optim.schedule=constant "
            f"optim.decay_steps=null (optim.lr={lr:g} from here on).")
    if before == after:
        return ""
    was = f"{base_rates(saved['optim'])[0] * factor(step, before):.3g}"
    if after is None:
        return (f"ganlab: optim.schedule=constant: G's learning rate is optim.lr={lr:g} from step {step:,} on (it was "
                f"{was} there).")
    why = f"optim.decay_steps={after}" if cfg.optim.decay_steps else f"the run's new end, trainer.steps={steps}"
    return (f"ganlab: optim.schedule=linear: G's learning rate now decays to 0 at step {after:,} ({why}): "
            f"{lr * factor(step, after):.3g} at step {step:,}, where it was {was}. optim.decay_steps=<M> ends the decay "
            "at another step; optim.schedule=constant keeps optim.lr.")


def current_rate(opt: torch.optim.Optimizer) -> float:
    """The rate of the first group, as a number (read from the device where it is a tensor)."""
    return float(opt.param_groups[0]["lr"])
