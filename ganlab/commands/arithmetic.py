"""``ganlab arithmetic``: DCGAN's vector arithmetic on the latents of a numbered ``ganlab sample`` grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING

from ganlab.commands.trained_run import GeneratorArgs, open_run
from ganlab.config import key, parse_args
from ganlab.console import say
from ganlab.errors import GanlabError


@dataclass
class ArithmeticArgs(GeneratorArgs):
    """DCGAN's vector arithmetic on the latents of a numbered grid: mean(a) - mean(b) + mean(c). Draw the grid
    first (`ganlab sample run=<run> n=64 seed=0 numbered=true out=grid.png`), pick samples by their numbers.

    ganlab arithmetic run=outputs/runs/<run> seed=0 a=3,17,22 b=5,9,40 c=11,12,30 out=result.png
    """

    out: str = key(MISSING, doc="file.png")
    seed: int = key(0, lo=0, hi=2**63 - 1, doc="the numbered grid's seed")
    a: str = key(MISSING, doc="indices in the numbered grid, comma-separated (3,17,22)")
    b: str = key(MISSING, doc="indices, subtracted")
    c: str = key(MISSING, doc="indices, added")
    n: int = key(64, lo=1, hi=2**31, doc="the numbered grid's n, as given to `ganlab sample n=<n> seed=<seed> "
                                        "numbered=true`")


def main(args: list[str]) -> int:
    from ganlab.figures import save_png
    from ganlab.memory import check_fits
    from ganlab.runs.explore import arithmetic_picture, parse_indices

    a = parse_args(args, ArithmeticArgs, "arithmetic")
    out = Path(a.out)
    if out.suffix != ".png":
        raise GanlabError(f"out={a.out}: the result is a picture; give out= a .png file.")
    a_, b_, c_ = (parse_indices(getattr(a, k), k, a.n) for k in ("a", "b", "c"))
    G, state = open_run(a.run, a.checkpoint, a.device, a.weights)
    check_fits(2 * a.n * G.z_dim * 4, f"the latents of the grid n={a.n}", "Pass the n= of the numbered grid.", G.device)
    save_png(arithmetic_picture(G, a.n, a.seed, a_, b_, c_, a.label), out)
    say(f"ganlab: wrote mean(a) - mean(b) + mean(c) of the grid n={a.n} seed={a.seed} of {Path(a.run)} "
        f"(step {state['step']}, {G.weights} weights) to {out}")
    return 0
