"""What the commands that read a trained run share (sample, eval, interpolate, arithmetic, export): the keys
that pick its generator, the generator itself on the device asked for, and the check of an ``out=`` file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import MISSING, OmegaConf

from ganlab.config import key
from ganlab.errors import GanlabError
from ganlab.files import writing

if TYPE_CHECKING:
    from ganlab.runs import Generator


@dataclass
class GeneratorArgs:
    """The keys shared by the commands that draw from a run's generator (interpolate, arithmetic)."""

    run: str = MISSING  # a run dir written by `ganlab train`
    out: str = MISSING  # the picture to write
    seed: int = key(0, lo=0, hi=2**63 - 1)  # of the latents
    label: int | None = None  # conditional models: the class to draw
    weights: str | None = None  # ema or raw; default: ema when the checkpoint has it, else raw
    checkpoint: str = "last"  # last, best, or a checkpoint file name in <run>/checkpoints
    device: str = "auto"


def open_run(run: str, checkpoint: str, device: str, weights: str | None = None) -> tuple[Generator, dict[str, Any]]:
    """A run's generator on the device a command asked for (``auto``, ``cpu``, ``cuda``, ``mps``)."""
    from ganlab.runs import read_run
    from ganlab.training.device import resolve_device

    return read_run(Path(run), checkpoint, resolve_device(OmegaConf.create({"type": device})), weights)


def check_out(out: Path, fix: str) -> None:
    """Before anything is computed: refuse an ``out=`` that is a folder or whose folder cannot be made."""
    with writing(out, fix):
        if out.is_dir():
            raise GanlabError(f"out={out} is a directory. {fix}")
        out.parent.mkdir(parents=True, exist_ok=True)
