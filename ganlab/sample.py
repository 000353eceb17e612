"""``ganlab sample``: draw samples from a trained run's last checkpoint, as arrays (.npz) or a grid (.png)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import MISSING, OmegaConf
from torch import nn

from ganlab.config import GanlabError, parse_args


@dataclass
class SampleArgs:
    run: str = MISSING  # a run dir written by `ganlab train`
    n: int = 64  # how many samples
    out: str = MISSING  # file.npz (arrays) or file.png (a grid)
    label: int | None = None  # conditional models: the class to draw; default one row per class
    seed: int = 0
    device: str = "auto"
    checkpoint: str = "last"  # last, best, or a checkpoint file name in <run>/checkpoints


def load_generator(run_dir: Path, checkpoint: str = "last",
                   device: str = "auto") -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """The generator of a run (eval mode, on ``device``), its config and its data spec (name, kind, shape)."""
    from ganlab.models import build_models
    from ganlab.training.checkpoint import load_checkpoint
    from ganlab.training.device import resolve_device
    from ganlab.training.trainer import spec_namespace

    if not run_dir.is_dir():
        raise GanlabError(f"run dir '{run_dir}' does not exist. Pass run=<dir> as printed by `ganlab train`.")
    name = checkpoint if checkpoint.endswith(".pt") else f"{checkpoint}.pt"
    state = load_checkpoint(run_dir / "checkpoints" / name)
    cfg = OmegaConf.create(state["config"])
    G, _ = build_models(cfg.model, spec_namespace(state["data"]))
    G.load_state_dict(state["G"])
    dev = resolve_device(OmegaConf.create({"type": device}))
    return G.to(dev).eval(), state, state["data"]


def main(args: list[str]) -> int:
    from ganlab.logging import image_grid, save_png
    from ganlab.training.samples import generate

    a = parse_args(args, SampleArgs, "sample")
    out = Path(a.out)
    if out.suffix not in (".npz", ".png"):
        raise GanlabError(f"out={a.out}: the file must end in .npz (arrays) or .png (a grid of images).")
    if a.n <= 0:
        raise GanlabError(f"n must be positive, got {a.n}.")
    G, state, spec = load_generator(Path(a.run), a.checkpoint, a.device)
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
        if spec["kind"] == "points":
            from ganlab.logging import scatter_plot

            picture = scatter_plot(x, title=f"{a.n} samples, step {state['step']}")
        else:
            picture = image_grid(x, nrow)
        save_png(picture, out)
    print(f"ganlab: wrote {a.n} samples of {Path(a.run)} (step {state['step']}) to {out}")
    return 0
