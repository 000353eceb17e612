"""Checkpoints: written atomically (temporary file, then rename) and read without running any code.

A checkpoint is a dict of tensors and plain values, read with ``torch.load(weights_only=True)``: a file whose
unpickling would import or call anything is refused as "not a ganlab checkpoint", and nothing in it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

import torch

from ganlab.config.checks import upgraded
from ganlab.errors import GanlabError
from ganlab.files import atomic_write


class _Writes:
    """A file's ``write`` and ``flush`` for torch.save, keeping the OSError a write raised: torch's zip writer
    swallows it and fails later with a RuntimeError about file positions."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.error = f, None

    def write(self, data: bytes) -> int:
        try:
            return self.f.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.f.flush()


def _save(state: dict[str, Any], path: Path) -> None:
    with open(path, "wb") as f:  # through a Python file, so a full disk is an OSError, not a C++ iostream error
        writes = _Writes(f)
        try:
            torch.save(state, writes)
        except RuntimeError as err:
            if writes.error is not None:
                raise writes.error from err
            raise
        f.flush()
        os.fsync(f.fileno())


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path``; a crash or a full disk mid-write leaves the previous file intact (and no
    partial file beside it). A failed write is a GanlabError that says why."""
    atomic_write(path, lambda tmp: _save(state, tmp), "Free some space (or make the folder writable) and run the "
                 "command again; a training run goes on with `ganlab train resume=<run dir>`.")


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
    if not isinstance(state["step"], int) or not isinstance(state["config"], dict):
        raise GanlabError(f"{path} is not a ganlab checkpoint (its step or config is not what ganlab writes).")
    state["config"] = upgraded(state["config"])
    return state


def newest_checkpoint(run_dir: Path) -> tuple[Path, dict[str, Any], list[str]]:
    """The checkpoint of ``run_dir`` at the latest step that can be read: ``last.pt`` or the newest readable
    ``step_*.pt`` (a newer step file beside an older or broken last.pt wins). Also says why others were passed
    over."""
    folder = run_dir / "checkpoints"
    steps = sorted(folder.glob("step_*.pt"), reverse=True)
    candidates = [p for p in [folder / "last.pt", *steps] if p.is_file()]
    if not candidates:
        raise GanlabError(f"cannot resume from '{run_dir}': it has no checkpoints/last.pt or checkpoints/step_*.pt. "
                          "Pass the run directory that `ganlab train` printed at its start (it holds checkpoints/).")
    found: list[tuple[Path, dict[str, Any]]] = []
    refused: dict[str, str] = {}
    for path in candidates:
        try:
            found.append((path, load_checkpoint(path)))
        except GanlabError as err:
            refused[path.name] = str(err)
            continue
        if path.name.startswith("step_"):
            break  # the newest readable step file; older ones cannot win
    if not found:
        raise GanlabError(f"cannot resume from '{run_dir}': no checkpoint in it can be read. " + " ".join(refused.values()))
    path, state = max(found, key=lambda f: (f[1]["step"], f[0].name == "last.pt"))
    notes = [f"{p.name} is at step {s['step']}" for p, s in found if s["step"] != state["step"]]
    notes += [f"{name} is not a ganlab checkpoint that can be read" for name in refused]
    return path, state, notes
