"""``ganlab sample``: draw samples from a trained run's last checkpoint, as arrays (.npz) or a grid (.png)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import MISSING, OmegaConf

from ganlab.config import parse_args
from ganlab.console import say
from ganlab.errors import GanlabError
from ganlab.runs.generator import Weights


@dataclass
class SampleArgs:
    run: str = MISSING  # a run dir written by `ganlab train`
    n: int = 64  # how many samples
    out: str = MISSING  # file.npz (arrays) or file.png (a grid)
    label: int | None = None  # conditional models: the class to draw; default one row per class
    seed: int = 0
    device: str = "auto"
    checkpoint: str = "last"  # last, best, or a checkpoint file name in <run>/checkpoints
    weights: Weights = Weights.ema  # ema: the moving average of G (where the run kept one); raw: G's own weights


def open_run(run: str, checkpoint: str, device: str, weights: str = "ema") -> tuple[torch.nn.Module, dict]:
    """A run's generator on the device a command asked for (``auto``, ``cpu``, ``cuda``, ``mps``)."""
    from ganlab.runs import load_generator
    from ganlab.training.device import resolve_device

    return load_generator(Path(run), checkpoint, resolve_device(OmegaConf.create({"type": device})), weights)


def main(args: list[str]) -> int:
    from ganlab.figures import image_grid, save_png, scatter_plot
    from ganlab.runs import generate

    a = parse_args(args, SampleArgs, "sample")
    out = Path(a.out)
    if out.suffix not in (".npz", ".png"):
        raise GanlabError(f"out={a.out}: the file must end in .npz (arrays) or .png (a grid of images).")
    if a.n <= 0:
        raise GanlabError(f"n must be positive, got {a.n}.")
    G, state = open_run(a.run, a.checkpoint, a.device, a.weights)
    device = next(G.parameters()).device
    num_classes = getattr(G, "num_classes", None)
    nrow = None
    if num_classes:
        if a.label is not None and not 0 <= a.label < num_classes:
            raise GanlabError(f"label={a.label} is out of range: this model has classes 0..{num_classes - 1}.")
        if a.label is not None:
            y = torch.full((a.n,), a.label, dtype=torch.int64, device=device)
        else:  # classes in equal shares, in order: one grid row per class when n is a multiple of them
            y = torch.arange(a.n, device=device) * num_classes // a.n
            nrow = -(-a.n // num_classes)
    elif a.label is not None:
        raise GanlabError(f"label={a.label} was given, but this run's model ({state['config']['model']['name']}) "
                          "is not conditional. Drop label=.")
    else:
        y = None
    gen = torch.Generator().manual_seed(a.seed)
    z = torch.randn(a.n, G.z_dim, generator=gen).to(device)
    x = generate(G, z, y)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        arrays = {"samples": x.cpu().numpy().astype(np.float32)}
        if y is not None:
            arrays["labels"] = y.cpu().numpy().astype(np.int64)
        np.savez(out, **arrays)
    else:
        if state["data"]["kind"] == "points":
            picture = scatter_plot(x, title=f"{a.n} samples, step {state['step']}")
        else:
            picture = image_grid(x, nrow)
        save_png(picture, out)
    say(f"ganlab: wrote {a.n} samples of {Path(a.run)} (step {state['step']}) to {out}")
    return 0
