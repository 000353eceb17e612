"""Checkpoints: written atomically (temporary file, then rename), read back with a clear error when broken."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ganlab.config import GanlabError


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path``; a crash mid-write leaves the previous file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise GanlabError(f"no checkpoint at {path}. Pass a run directory written by `ganlab train`.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:
        raise GanlabError(
            f"checkpoint {path} cannot be read ({type(err).__name__}: {err}). It is corrupt or was not written "
            "by ganlab; use one of the periodic checkpoints beside it (copy it over last.pt), or train anew."
        ) from err
    if not isinstance(state, dict) or not {"G", "config", "step"} <= state.keys():
        raise GanlabError(f"checkpoint {path} is not a ganlab checkpoint (it lacks G, config or step).")
    return state
