"""``ganlab interpolate``: walks through a trained generator's latent space, as a PNG grid or an animated GIF."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING, OmegaConf

from ganlab.commands.trained_run import GeneratorArgs, open_run
from ganlab.config import key, parse_args
from ganlab.console import say
from ganlab.errors import GanlabError


@dataclass
class InterpolateArgs(GeneratorArgs):
    """Walk through a trained generator's latent space: a .png grid (a walk a row) or an animated .gif.

    ganlab interpolate run=outputs/runs/<run> out=walks.png
    ganlab interpolate run=outputs/runs/<run> n=4 steps=24 mode=lerp out=walks.gif
    """

    out: str = key(MISSING, doc="file.png (a walk a row; 2-D data: paths over the real data) or file.gif (animated)")
    label: int | None = key(None, doc="conditional models: the class of every walk; unset: row i draws class i")
    n: int = key(8, lo=1, hi=2**31, doc="walks (rows)")
    steps: int = key(10, lo=2, hi=2**31, doc="latents along each walk, both ends included")
    mode: str = key("slerp", choices=("slerp", "lerp", "classes"),
                    doc="slerp (along the great circle), lerp, or classes (conditional models: one latent a row, "
                        "across every class)")


def main(args: list[str]) -> int:
    from ganlab.data import load_dataset
    from ganlab.figures import save_gif, save_png
    from ganlab.memory import check_fits
    from ganlab.runs.explore import real_points, walk, walk_frames, walk_picture

    a = parse_args(args, InterpolateArgs, "interpolate")
    out = Path(a.out)
    if out.suffix not in (".png", ".gif"):
        raise GanlabError(f"out={a.out}: the file must end in .png (a grid, a walk a row) or .gif (an animation).")
    G, state = open_run(a.run, a.checkpoint, a.device, a.weights)
    G.labels_for(1, a.label)  # a label only for a conditional model, within its classes
    steps = G.num_classes or a.steps if a.mode == "classes" else a.steps
    check_fits(a.n * steps * (4 * math.prod(G.data.shape) + 2 * 4 * 3 * max(G.data.shape[-1], 48) ** 2),
               f"n={a.n} walks of steps={steps} latents", "Lower n or steps.", G.device)
    x = walk(G, a.n, a.steps, a.mode, a.seed, a.label)
    real = None
    if G.data.kind == "points":
        real = real_points(load_dataset(OmegaConf.create(state["config"]).data), a.seed, G.device)
    if out.suffix == ".gif":
        save_gif(walk_frames(x, real), out)
    else:
        save_png(walk_picture(x, real, title=f"{a.mode} walks, step {state['step']}"), out)
    say(f"ganlab: wrote {a.n} {a.mode} walks of {x.shape[1]} steps through {Path(a.run)} (step {state['step']}, "
        f"{G.weights} weights) to {out}")
    return 0
