"""Pictures of a generator's latent space: walks between latents (or across the classes, with one latent) and
DCGAN's vector arithmetic on the latents of a numbered sample grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ganlab.data import Dataset
from ganlab.errors import GanlabError
from ganlab.figures import image_grid, path_plot, side_by_side
from ganlab.runs.generator import Generator, generate
from ganlab.runs.latent import concept_vector, latents, neighbours, walks

REAL_POINTS_SHOWN = 2000  # real points under a 2-D scatter plot or path
GIF_CELL_PX = 128  # an animated walk's images are enlarged to at least this many pixels a side


def real_points(data: Dataset, seed: int, device: torch.device) -> Tensor:
    """Real 2-D points to draw under generated ones, drawn under ``seed`` without touching torch's streams."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        return data.sample(REAL_POINTS_SHOWN)[0]


def walk(G: nn.Module, n: int, steps: int, mode: str, seed: int, label: int | None = None) -> Tensor:
    """G's samples along ``n`` walks of ``steps`` latents, ``(n, steps, *sample)``: from ``latents(2n, seed)``'s
    first half to its second (``slerp`` or ``lerp``), or, for ``classes``, one latent a row across every class
    (``steps`` is then the number of classes). A conditional G's rows take class ``label``, or row i class i."""
    classes = getattr(G, "num_classes", None)
    device = next(G.parameters()).device
    if mode == "classes":
        if not classes:
            raise GanlabError("mode=classes walks across the classes of a conditional model, but this run's model "
                              "is not conditional. Use mode=slerp or mode=lerp.")
        if label is not None:
            raise GanlabError(f"mode=classes draws every class, so label={label} does not apply: drop label=, or "
                              "use mode=slerp to walk within one class.")
        z = latents(n, G.z_dim, seed)[:, None].expand(n, classes, G.z_dim)
        y = torch.arange(classes).repeat(n)
    else:
        z = latents(2 * n, G.z_dim, seed)
        z = walks(z[:n], z[n:], steps, mode)
        y = None
        if classes:
            rows = torch.full((n,), label) if label is not None else torch.arange(n) % classes
            y = rows.repeat_interleave(steps)
    x = generate(G, z.reshape(-1, G.z_dim).to(device), None if y is None else y.to(device))
    return x.view(n, -1, *x.shape[1:])


def walk_picture(x: Tensor, real: Tensor | None = None, title: str = "") -> np.ndarray:
    """Walks of images as a grid (a row each), or 2-D walks as paths over the real data."""
    if x.ndim == 3:  # (n, steps, 2): points
        return path_plot(x, real, title)
    return image_grid(x.flatten(0, 1), nrow=x.shape[1])


def walk_frames(x: Tensor, real: Tensor | None = None) -> list[np.ndarray]:
    """One picture per step of the walks: the n images at that step, or the paths up to it."""
    if x.ndim == 3:
        return [path_plot(x[:, : t + 1], real, f"step {t + 1} of {x.shape[1]}") for t in range(x.shape[1])]
    return [image_grid(x[:, t], min_cell=GIF_CELL_PX) for t in range(x.shape[1])]


def parse_indices(text: str, key: str, n: int) -> list[int]:
    """``"3,17,22"`` -> ``[3, 17, 22]``, each an index of a numbered grid of ``n`` samples."""
    try:
        indices = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        indices = []
    if not indices:
        raise GanlabError(f"{key}={text}: give the indices of samples of the numbered grid, separated by commas "
                          f"({key}=3,17,22).")
    outside = [i for i in indices if not 0 <= i < n]
    if outside:
        raise GanlabError(f"{key}={text}: {', '.join(map(str, outside))} lies outside the numbered grid of n={n} "
                          f"samples (0..{n - 1}). Use indices shown by `ganlab sample n={n} numbered=true` with "
                          "the same seed, or pass the grid's n=.")
    return indices


def arithmetic_picture(G: Generator, n: int, seed: int, a: Sequence[int], b: Sequence[int], c: Sequence[int],
                       label: int | None = None) -> np.ndarray:
    """DCGAN's Fig. 7 on the latents of ``ganlab sample n=<n> seed=<seed>``: a column each for a, b and c (their
    samples, then the image of their mean latent at the bottom), then mean(a) - mean(b) + mean(c) amid eight
    neighbours ``+ U(-0.25, 0.25)``. A conditional G draws each sample with its grid class, the results with
    ``label`` or else c's first sample's class."""
    if G.data.kind != "image":
        raise GanlabError("vector arithmetic shows images, but this run models 2-D points: explore it with "
                          "`ganlab interpolate`, which draws walks over the real data.")
    z = latents(n, G.z_dim, seed).to(G.device)
    y = G.labels_for(n, label)
    rows = max(len(a), len(b), len(c)) + 1
    columns = []
    for idx in (a, b, c):
        pick = None if y is None else y[list(idx)]
        images = generate(G, z[list(idx)], pick)
        mean = generate(G, z[list(idx)].mean(0, keepdim=True), None if pick is None else pick[:1])
        blank = torch.zeros(rows - 1 - len(idx), *images.shape[1:], device=images.device)
        columns.append(image_grid(torch.cat([images, blank, mean]), nrow=1))
    result = neighbours(concept_vector(z, a, b, c), seed).to(G.device)
    result_y = None if y is None else y[c[0]].expand(len(result))
    columns.append(image_grid(generate(G, result, result_y), nrow=3))
    return side_by_side(columns, ["-", "+", "="])
