"""``ganlab export``: a trained generator as ONNX, a torch.export program (.pt2) or safetensors weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING

from ganlab.commands.trained_run import open_run
from ganlab.config import key, parse_args
from ganlab.console import say


@dataclass
class ExportArgs:
    """Write a trained generator as ONNX, a torch.export program (.pt2) or safetensors weights (for
    ganlab.load_generator).

    ganlab export run=outputs/runs/<run> out=generator.onnx
    """

    run: str = MISSING
    out: str = key(MISSING, doc="file.onnx, file.pt2 or file.safetensors: the format follows the ending")
    weights: str | None = None
    checkpoint: str = "last"


def main(args: list[str]) -> int:
    from ganlab.runs.export import FORMATS, check_format, export_generator

    a = parse_args(args, ExportArgs, "export")
    out = Path(a.out)
    check_format(out)
    G, state = open_run(a.run, a.checkpoint, "cpu", a.weights)
    export_generator(G, out)
    size = out.stat().st_size
    say(f"ganlab: wrote {out} ({size / 1e6:.1f} MB)" if size >= 1e6 else f"ganlab: wrote {out} ({size / 1e3:.0f} kB)")
    say(f"  {FORMATS[out.suffix]}: the {G.weights} generator of {Path(a.run)} at step {state['step']}")
    return 0
