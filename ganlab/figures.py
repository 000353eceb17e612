"""Pictures of samples: image grids (one row per class for conditional models) and 2-D scatter plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

MIN_CELL_PX = 48  # small images (8x8 digits) are enlarged, pixel for pixel, so a grid is readable


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 0.5) -> np.ndarray:
    """Images in [-1, 1], ``(N, C, H, W)`` -> one uint8 ``(H', W', 3)`` grid with ``nrow`` images a row,
    ``padding`` pixels of grey around each (the layout of torchvision's make_grid, without its import time)."""
    images = images.detach().float().cpu().clamp(-1, 1).add(1).div(2)
    scale = max(1, math.ceil(MIN_CELL_PX / images.shape[-1]))
    if scale > 1:
        images = images.repeat_interleave(scale, dim=-1).repeat_interleave(scale, dim=-2)
    n, _, h, w = images.shape
    cols = min(n, nrow or max(1, int(math.ceil(math.sqrt(n)))))
    rows = math.ceil(n / cols)
    cells = torch.full((rows * cols, 3, h + padding, w + padding), pad_value)
    cells[:n, :, padding:, padding:] = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
    grid = cells.view(rows, cols, 3, h + padding, w + padding).permute(2, 0, 3, 1, 4)
    grid = F.pad(grid.reshape(3, rows * (h + padding), cols * (w + padding)), (0, padding, 0, padding), value=pad_value)
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def scatter_plot(fake: Tensor, real: Tensor | None = None, title: str = "") -> np.ndarray:
    """2-D samples (orange) over real data (grey) -> a uint8 ``(H, W, 3)`` picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if real is not None:
        r = real.detach().float().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="0.6", alpha=0.5, label="real")
    f = fake.detach().float().cpu().numpy()
    ax.scatter(f[:, 0], f[:, 1], s=2, c="tab:orange", alpha=0.7, label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.canvas.draw()
    picture = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return picture


def save_png(picture: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(path, format="PNG")


def as_chw(picture: np.ndarray) -> Tensor:
    return torch.from_numpy(picture).permute(2, 0, 1)
