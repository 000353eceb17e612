"""``ganlab.load_generator``: the supported way to use a trained generator from Python."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ganlab.errors import GanlabError
from ganlab.runs.export import read_safetensors
from ganlab.runs.generator import Generator, read_checkpoint_generator, read_run


def load_generator(path: str | os.PathLike[str], weights: str | None = None,
                   device: torch.device | str = "cpu") -> Generator:
    """A trained generator, in eval mode on ``device``, from a run dir (its ``checkpoints/last.pt``), a
    checkpoint file (``.pt``) or a ``.safetensors`` file written by ``ganlab export``.

    ``weights``: ``"ema"`` (the generator's moving average, an error when the file has none), ``"raw"`` (its
    trained weights), or None: the moving average when there is one, else the trained weights.

    >>> G = ganlab.load_generator("outputs/runs/<run>")
    >>> images = G.sample(16, seed=0)          # (16, C, H, W) in [-1, 1], as `ganlab sample n=16 seed=0`
    >>> images = G(torch.randn(16, G.z_dim))   # any latents (conditional G: G(z, labels))
    """
    p = Path(path)
    if p.is_dir():
        return read_run(p, "last", device, weights)[0]
    if p.suffix == ".pt2":
        raise GanlabError(f"{p} is a torch.export program: load it with plain torch, "
                          "torch.export.load(path).module(), or pass the run dir or a .safetensors export here.")
    if p.suffix == ".onnx":
        raise GanlabError(f"{p} is an ONNX model: run it with onnxruntime.InferenceSession(path), or pass the run "
                          "dir or a .safetensors export here.")
    if not p.is_file():
        raise GanlabError(f"{p} does not exist. Pass a run dir written by `ganlab train`, one of its checkpoint "
                          "files (.pt), or a .safetensors file written by `ganlab export`.")
    if p.suffix == ".safetensors":
        return read_safetensors(p, weights, device)
    return read_checkpoint_generator(p, weights, device)[0]
