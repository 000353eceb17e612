"""``ganlab sample``: draw samples from a trained run's last checkpoint, as arrays (.npz) or a grid (.png).

Samples are generated in chunks: arrays are streamed into the .npz as they come, so ``n`` is bounded by the disk,
not the memory; a grid must fit in memory, and both are checked before the first sample is drawn.
"""

from __future__ import annotations

import math
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import MISSING

from ganlab.commands.trained_run import check_out, open_run
from ganlab.config import key, parse_args
from ganlab.console import say
from ganlab.errors import GanlabError

CHUNK = 1024  # samples generated at a time
OUT_FIX = "Pass out=<file.npz|file.png> in a folder you can write to."


@dataclass
class SampleArgs:
    """Draw samples of a trained run: arrays (.npz, streamed to disk) or a grid of images (.png).

    ganlab sample run=outputs/runs/<run> n=64 out=samples.png
    ganlab sample run=outputs/runs/<cgan run> n=1000 label=3 out=threes.npz
    """

    run: str = MISSING
    n: int = key(64, lo=1, hi=2**53, doc="how many samples (.npz: as many as the disk holds)")
    out: str = key(MISSING, doc="file.npz (arrays: samples, and labels for a conditional model) or file.png (a grid)")
    label: int | None = key(None, lo=0, doc="conditional models: the class to draw; unset: the classes in equal "
                                           "shares, a grid row each")
    seed: int = key(0, lo=0, hi=2**63 - 1)
    device: str = "auto"
    checkpoint: str = "last"
    weights: str | None = None
    numbered: bool = key(False, doc="a .png grid of images: each sample's index beside it (for `ganlab arithmetic`)")


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
    import torch

    from ganlab.figures import image_grid, save_png, scatter_plot
    from ganlab.files import atomic_write
    from ganlab.memory import check_fits, gib
    from ganlab.runs import generate
    from ganlab.runs.latent import latent_chunks

    a = parse_args(args, SampleArgs, "sample")
    out = Path(a.out)
    if out.suffix not in (".npz", ".png"):
        raise GanlabError(f"out={a.out}: the file must end in .npz (arrays) or .png (a grid of images).")
    if a.numbered and out.suffix != ".png":
        raise GanlabError(f"numbered=true writes the indices on a grid of images: give out= a .png file, not {a.out}.")
    check_out(out, OUT_FIX)
    G, state = open_run(a.run, a.checkpoint, a.device, a.weights)
    points = state["data"]["kind"] == "points"
    if a.numbered and points:
        raise GanlabError("numbered=true numbers the images of a grid, but this run models 2-D points. Drop it.")
    G.labels_for(1, a.label)  # a label this generator does not have is refused before anything is drawn
    nrow = -(-a.n // G.num_classes) if G.num_classes and a.label is None else None

    def labels(start: int, count: int) -> torch.Tensor | None:
        """``label``, or the classes in equal shares, in order (one grid row per class): ``grid_labels(n)``."""
        if not G.num_classes or a.label is not None:
            return G.labels_for(count, a.label)
        return (torch.arange(start, start + count) * G.num_classes // a.n).to(G.device)

    def chunks() -> Iterator[torch.Tensor]:
        for i, z in enumerate(latent_chunks(a.n, G.z_dim, a.seed, CHUNK)):
            yield generate(G, z.to(G.device), labels(i * CHUNK, len(z))).cpu()

    shape = tuple(int(s) for s in state["data"]["shape"])
    per_sample = 4 * math.prod(shape)
    if out.suffix == ".npz":
        need = a.n * (per_sample + (8 if G.num_classes else 0))
        if need > _free_disk(out):
            raise GanlabError(f"n={a.n} samples take {gib(need)} as arrays, and {out.parent} has "
                              f"{gib(_free_disk(out))} free. Lower n, or write them somewhere with more room.")
        arrays = {"samples": ((a.n, *shape), np.dtype(np.float32), (c.numpy() for c in chunks()))}
        if G.num_classes:
            starts = range(0, a.n, CHUNK)
            arrays["labels"] = ((a.n,), np.dtype(np.int64),
                                (labels(s, min(CHUNK, a.n - s)).cpu().numpy() for s in starts))  # type: ignore[union-attr]
        atomic_write(out, lambda tmp: _write_npz(tmp, arrays), OUT_FIX)
    else:
        cell = 3 * max(shape[-1], 48) ** 2 * 4 if not points else 64
        check_fits(a.n * (per_sample + 2 * cell), f"a grid of n={a.n} samples",
                   "Lower n, or write arrays with out=<file.npz>, which need no memory for the whole set.")
        x = torch.cat(list(chunks()))
        picture = (scatter_plot(x, title=f"{a.n} samples, step {state['step']}") if points
                   else image_grid(x, nrow, numbered=a.numbered))
        save_png(picture, out)
    say(f"ganlab: wrote {a.n} samples of {Path(a.run)} (step {state['step']}, {G.weights} weights) to {out}")
    return 0
