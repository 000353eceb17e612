"""Checkpoints: written atomically (temporary file, then rename) and read without running any code.

A checkpoint is a dict of tensors and plain values, read with ``torch.load(weights_only=True)``: a file whose
unpickling would import or call anything is refused as "not a ganlab checkpoint", and nothing in it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganlab.errors import GanlabError
from ganlab.files import atomic_write


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path``; a crash mid-write leaves the previous file intact."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise GanlabError(f"no checkpoint at {path}. Pass a run directory written by `ganlab train` once it has "
                          "saved one (checkpoints/last.pt, every trainer.ckpt_every steps and at the end), or "
                          "checkpoint=<name> of a file in its checkpoints/ folder.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise GanlabError(
            f"{path} is not a ganlab checkpoint that can be read safely ({type(err).__name__}: {first[:200]}); "
            "nothing in it was run. It is corrupt or was not written by ganlab: use one of the periodic "
            "checkpoints beside it, or train anew."
        ) from err
    if not isinstance(state, dict) or not {"G", "config", "step", "data"} <= state.keys():
        raise GanlabError(f"{path} is not a ganlab checkpoint (it lacks G, config, data or step).")
    return state
