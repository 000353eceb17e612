"""``ganlab sample``: draw samples from a trained run's last checkpoint, as arrays (.npz) or a grid (.png).

Samples are generated in chunks: arrays are streamed into the .npz as they come, so ``n`` is bounded by the disk,
not the memory; a grid must fit in memory, and both are checked before the first sample is drawn.
"""

from __future__ import annotations

import math
import os
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import MISSING, OmegaConf

from ganlab.config import key, parse_args
from ganlab.console import say
from ganlab.errors import GanlabError
from ganlab.memory import check_fits, gib
from ganlab.runs.rundir import writing

CHUNK = 1024  # samples generated at a time
OUT_FIX = "Pass out=<file.npz|file.png> in a folder you can write to."


@dataclass
class SampleArgs:
    run: str = MISSING  # a run dir written by `ganlab train`
    n: int = key(64, lo=1, hi=2**53)  # how many samples (.npz: as many as the disk holds)
    out: str = MISSING  # file.npz (arrays) or file.png (a grid)
    label: int | None = key(None, lo=0)  # conditional models: the class to draw; default one row per class
    seed: int = key(0, lo=0, hi=2**63 - 1)
    device: str = "auto"
    checkpoint: str = "last"  # last, best, or a checkpoint file name in <run>/checkpoints


def open_run(run: str, checkpoint: str, device: str) -> tuple[torch.nn.Module, dict]:
    """A run's generator on the device a command asked for (``auto``, ``cpu``, ``cuda``, ``mps``)."""
    from ganlab.runs import load_generator
    from ganlab.training.device import resolve_device

    return load_generator(Path(run), checkpoint, resolve_device(OmegaConf.create({"type": device})))


def _free_disk(path: Path) -> int:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free if folder.is_dir() else 0


def _write_npz(path: Path, arrays: dict[str, tuple[tuple[int, ...], np.dtype, Iterator[np.ndarray]]]) -> None:
    """An .npz (as ``np.savez`` writes it) whose arrays are written chunk by chunk from their iterators."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, (shape, dtype, chunks) in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
                np.lib.format.write_array_header_2_0(f, header)
                for chunk in chunks:
                    f.write(np.ascontiguousarray(chunk, dtype=dtype).tobytes())


def main(args: list[str]) -> int:
    from ganlab.figures import image_grid, save_png, scatter_plot
    from ganlab.runs import generate

    a = parse_args(args, SampleArgs, "sample")
    out = Path(a.out)
    if out.suffix not in (".npz", ".png"):
        raise GanlabError(f"out={a.out}: the file must end in .npz (arrays) or .png (a grid of images).")
    with writing(out, OUT_FIX):  # before anything is computed: an odd path or a folder that cannot be made
        if out.is_dir():
            raise GanlabError(f"out={a.out} is a directory. {OUT_FIX}")
        out.parent.mkdir(parents=True, exist_ok=True)
    G, state = open_run(a.run, a.checkpoint, a.device)
    device = next(G.parameters()).device
    num_classes = getattr(G, "num_classes", None)
    nrow = None
    if num_classes:
        if a.label is not None and not 0 <= a.label < num_classes:
            raise GanlabError(f"label={a.label} is out of range: this model has classes 0..{num_classes - 1}.")
        nrow = None if a.label is not None else -(-a.n // num_classes)
    elif a.label is not None:
        raise GanlabError(f"label={a.label} was given, but this run's model ({state['config']['model']['name']}) "
                          "is not conditional. Drop label=.")

    def labels(start: int, count: int) -> torch.Tensor | None:
        """Classes in equal shares, in order (one grid row per class when n is a multiple of them), or ``label``."""
        if not num_classes:
            return None
        if a.label is not None:
            return torch.full((count,), a.label, dtype=torch.int64, device=device)
        return torch.arange(start, start + count, device=device) * num_classes // a.n

    def chunks() -> Iterator[torch.Tensor]:
        gen = torch.Generator().manual_seed(a.seed)
        for start in range(0, a.n, CHUNK):
            count = min(CHUNK, a.n - start)
            yield generate(G, torch.randn(count, G.z_dim, generator=gen).to(device), labels(start, count)).cpu()

    shape = tuple(int(s) for s in state["data"]["shape"])
    per_sample = 4 * math.prod(shape)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with writing(out, OUT_FIX):
            if out.suffix == ".npz":
                need = a.n * (per_sample + (8 if num_classes else 0))
                if need > _free_disk(out):
                    raise GanlabError(f"n={a.n} samples take {gib(need)} as arrays, and {out.parent} has "
                                      f"{gib(_free_disk(out))} free. Lower n, or write them somewhere with more room.")
                arrays = {"samples": ((a.n, *shape), np.dtype(np.float32), (c.numpy() for c in chunks()))}
                if num_classes:
                    y = (labels(s, min(CHUNK, a.n - s)).cpu().numpy() for s in range(0, a.n, CHUNK))  # type: ignore[union-attr]
                    arrays["labels"] = ((a.n,), np.dtype(np.int64), y)
                _write_npz(tmp, arrays)
            else:
                cell = 3 * max(shape[-1], 48) ** 2 * 4 if state["data"]["kind"] == "image" else 64
                check_fits(a.n * (per_sample + 2 * cell), f"a grid of n={a.n} samples",
                           "Lower n, or write arrays with out=<file.npz>, which need no memory for the whole set.")
                x = torch.cat(list(chunks()))
                if state["data"]["kind"] == "points":
                    picture = scatter_plot(x, title=f"{a.n} samples, step {state['step']}")
                else:
                    picture = image_grid(x, nrow)
                save_png(picture, tmp)
            os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    say(f"ganlab: wrote {a.n} samples of {Path(a.run)} (step {state['step']}) to {out}")
    return 0
