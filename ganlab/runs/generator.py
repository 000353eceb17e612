"""A trained run's generator, rebuilt from its checkpoint without its data, and sampled in eval mode."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor, nn

from ganlab.config.spec import DataSpec
from ganlab.console import say
from ganlab.errors import GanlabError
from ganlab.models import build_models
from ganlab.runs.checkpoint import load_checkpoint


@torch.no_grad()
def generate(G: nn.Module, z: Tensor, y: Tensor | None = None, chunk: int = 1024) -> Tensor:
    """G(z, y) in eval mode (BatchNorm on running statistics), in chunks; G's mode is restored after."""
    was_training = G.training
    G.eval()
    try:
        parts = [G(z[i : i + chunk], None if y is None else y[i : i + chunk]) for i in range(0, len(z), chunk)]
    finally:
        G.train(was_training)
    return torch.cat(parts).float()


class Weights(str, Enum):
    """Which of a checkpoint's generators to use: the moving average of G's weights, or G's last weights."""

    ema = "ema"  # falls back to raw for a run trained without model.ema
    raw = "raw"


def weights_used(state: dict[str, Any], weights: str) -> Weights:
    """The weights :func:`load_generator` takes from ``state`` when asked for ``weights``."""
    return Weights.ema if Weights(weights) is Weights.ema and "G_ema" in state else Weights.raw


def load_generator(run_dir: Path, checkpoint: str = "last", device: torch.device | str = "cpu",
                   weights: str = "ema") -> tuple[nn.Module, dict[str, Any]]:
    """The generator of a run (eval mode, on ``device``) and its checkpoint's state (config, data, step, ...).
    ``weights``: ``ema`` (the moving average of G, where the run kept one) or ``raw`` (G's own weights)."""
    if not run_dir.is_dir():
        raise GanlabError(f"run dir '{run_dir}' does not exist. Pass run=<dir> as printed by `ganlab train`.")
    name = checkpoint if checkpoint.endswith(".pt") else f"{checkpoint}.pt"
    path = run_dir / "checkpoints" / name
    state = load_checkpoint(path)
    used = weights_used(state, weights)
    if used is not Weights(weights):
        say(f"ganlab: {path} has no moving average of G (the run trained with model.ema=0): using G's own weights.")
    try:
        cfg = OmegaConf.create(state["config"])
        G, _ = build_models(cfg.model, DataSpec.from_dict(state["data"]))
        G.load_state_dict(state["G_ema" if used is Weights.ema else "G"])
    except GanlabError:
        raise
    except Exception as err:  # a config or weights that do not fit each other
        raise GanlabError(f"{path} does not hold a generator ganlab can rebuild ({type(err).__name__}: "
                          f"{str(err).splitlines()[0][:200] if str(err) else ''}). Use a checkpoint written by "
                          "this version of ganlab, or train anew.") from err
    return G.to(device).eval(), state
