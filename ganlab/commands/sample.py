"""``ganlab sample``: draw samples from a trained run's last checkpoint, as arrays (.npz) or a grid (.png)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import MISSING, OmegaConf

from ganlab.config import parse_args
from ganlab.console import say
from ganlab.errors import GanlabError

if TYPE_CHECKING:
    from ganlab.runs import Generator


@dataclass
class SampleArgs:
    run: str = MISSING  # a run dir written by `ganlab train`
    n: int = 64  # how many samples
    out: str = MISSING  # file.npz (arrays) or file.png (a grid)
    label: int | None = None  # conditional models: the class to draw; default one row per class
    seed: int = 0
    device: str = "auto"
    checkpoint: str = "last"  # last, best, or a checkpoint file name in <run>/checkpoints
    weights: str | None = None  # ema or raw; default: ema when the checkpoint has it, else raw
    numbered: bool = False  # a .png grid of images: each sample's index in its corner (for `ganlab arithmetic`)


@dataclass
class GeneratorArgs:
    """The keys shared by the commands that draw from a run's generator (interpolate, arithmetic)."""

    run: str = MISSING  # a run dir written by `ganlab train`
    out: str = MISSING  # the picture to write
    seed: int = 0  # of the latents
    label: int | None = None  # conditional models: the class to draw
    weights: str | None = None  # ema or raw; default: ema when the checkpoint has it, else raw
    checkpoint: str = "last"  # last, best, or a checkpoint file name in <run>/checkpoints
    device: str = "auto"


def open_run(run: str, checkpoint: str, device: str, weights: str | None = None) -> tuple[Generator, dict[str, Any]]:
    """A run's generator on the device a command asked for (``auto``, ``cpu``, ``cuda``, ``mps``)."""
    from ganlab.runs import read_run
    from ganlab.training.device import resolve_device

    return read_run(Path(run), checkpoint, resolve_device(OmegaConf.create({"type": device})), weights)


def main(args: list[str]) -> int:
    from ganlab.figures import image_grid, save_png, scatter_plot
    from ganlab.files import atomic_write
    from ganlab.runs import generate
    from ganlab.runs.latent import latents

    a = parse_args(args, SampleArgs, "sample")
    out = Path(a.out)
    if out.suffix not in (".npz", ".png"):
        raise GanlabError(f"out={a.out}: the file must end in .npz (arrays) or .png (a grid of images).")
    if a.n <= 0:
        raise GanlabError(f"n must be positive, got {a.n}.")
    if a.numbered and out.suffix != ".png":
        raise GanlabError(f"numbered=true writes the indices on a grid of images: give out= a .png file, not {a.out}.")
    G, state = open_run(a.run, a.checkpoint, a.device, a.weights)
    points = state["data"]["kind"] == "points"
    if a.numbered and points:
        raise GanlabError("numbered=true numbers the images of a grid, but this run models 2-D points. Drop it.")
    y = G.labels_for(a.n, a.label)
    # classes in equal shares, in order: one grid row per class when n is a multiple of them
    nrow = -(-a.n // G.num_classes) if G.num_classes and a.label is None else None
    x = generate(G, latents(a.n, G.z_dim, a.seed).to(G.device), y)
    if out.suffix == ".npz":
        arrays = {"samples": x.cpu().numpy().astype(np.float32)}
        if y is not None:
            arrays["labels"] = y.cpu().numpy().astype(np.int64)
        atomic_write(out, lambda tmp: np.savez(tmp, **arrays))
    elif points:
        save_png(scatter_plot(x, title=f"{a.n} samples, step {state['step']}"), out)
    else:
        save_png(image_grid(x, nrow, numbered=a.numbered), out)
    say(f"ganlab: wrote {a.n} samples of {Path(a.run)} (step {state['step']}, {G.weights} weights) to {out}")
    return 0
