"""Pictures of samples: image grids (one row per class for conditional models, numbered on request), 2-D
scatter plots and paths, written as PNG or animated GIF."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.files import atomic_write

MIN_CELL_PX = 48  # small images (8x8 digits) are enlarged, pixel for pixel, so a grid is readable
NUMBER_PX = 14  # a numbered grid's strip above each image, which holds its index


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 0.5,
               numbered: bool = False, min_cell: int = MIN_CELL_PX) -> np.ndarray:
    """Images in [-1, 1], ``(N, C, H, W)`` -> one uint8 ``(H', W', 3)`` grid with ``nrow`` images a row,
    ``padding`` pixels of grey around each (the layout of torchvision's make_grid, without its import time),
    each image enlarged pixel for pixel to at least ``min_cell`` pixels a side; ``numbered``: each image's index
    in a strip above it (it hides nothing of the image)."""
    images = images.detach().float().cpu().clamp(-1, 1).add(1).div(2)
    padding = max(padding, NUMBER_PX) if numbered else padding
    scale = max(1, math.ceil(min_cell / images.shape[-1]))
    if scale > 1:
        images = images.repeat_interleave(scale, dim=-1).repeat_interleave(scale, dim=-2)
    n, _, h, w = images.shape
    cols = min(n, nrow or max(1, int(math.ceil(math.sqrt(n)))))
    rows = math.ceil(n / cols)
    cells = torch.full((rows * cols, 3, h + padding, w + padding), pad_value)
    cells[:n, :, padding:, padding:] = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
    grid = cells.view(rows, cols, 3, h + padding, w + padding).permute(2, 0, 3, 1, 4)
    grid = F.pad(grid.reshape(3, rows * (h + padding), cols * (w + padding)), (0, padding, 0, padding), value=pad_value)
    picture = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    if numbered:
        corners = [((i % cols) * (w + padding) + padding, (i // cols) * (h + padding)) for i in range(n)]
        picture = draw_texts(picture, [(x, y, str(i)) for i, (x, y) in enumerate(corners)], size=NUMBER_PX - 2)
    return picture


def draw_texts(picture: np.ndarray, texts: list[tuple[int, int, str]], size: int = 12) -> np.ndarray:
    """``picture`` with each ``(x, y, text)`` written in black at ``(x, y)`` (its top left)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(picture)
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=size)
    for x, y, text in texts:
        draw.text((x, y), text, fill=(0, 0, 0), font=font)
    return np.asarray(image).copy()


def side_by_side(pictures: list[np.ndarray], between: list[str], width: int = 28) -> np.ndarray:
    """Pictures in a row, top-aligned on white, with ``between[i]`` written in a strip after the i-th."""
    height = max(p.shape[0] for p in pictures)
    parts = []
    for i, picture in enumerate(pictures):
        parts.append(np.pad(picture, ((0, height - picture.shape[0]), (0, 0), (0, 0)), constant_values=255))
        if i < len(between):
            strip = np.full((height, width, 3), 255, dtype=np.uint8)
            size = width * 2 // 3
            parts.append(draw_texts(strip, [(width // 4, (height - size) // 2, between[i])], size))
    return np.concatenate(parts, axis=1)


def scatter_plot(fake: Tensor, real: Tensor | None = None, title: str = "") -> np.ndarray:
    """2-D samples (orange) over real data (grey) -> a uint8 ``(H, W, 3)`` picture."""
    def draw(ax: Any) -> None:
        f = fake.detach().float().cpu().numpy()
        ax.scatter(f[:, 0], f[:, 1], s=2, c="tab:orange", alpha=0.7, label="generated")

    return _plot(draw, real, title)


def path_plot(paths: Tensor, real: Tensor | None = None, title: str = "") -> np.ndarray:
    """2-D paths ``(n, steps, 2)`` (one colour each, dots at every step, a ring at the start) over real data."""
    def draw(ax: Any) -> None:
        for i, path in enumerate(paths.detach().float().cpu().numpy()):
            line = ax.plot(path[:, 0], path[:, 1], "-o", ms=2.5, lw=1, label="generated paths" if i == 0 else None)[0]
            ax.plot(path[:1, 0], path[:1, 1], "o", ms=6, mfc="none", c=line.get_color())

    return _plot(draw, real, title)


def _plot(draw: Callable[[Any], None], real: Tensor | None, title: str) -> np.ndarray:
    """A 4 x 4 inch plot: real data (grey), what ``draw(ax)`` adds, a legend and ``title``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if real is not None:
        r = real.detach().float().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="0.6", alpha=0.5, label="real")
    draw(ax)
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

    atomic_write(path, lambda tmp: Image.fromarray(picture).save(tmp, format="PNG"))


def save_gif(frames: list[np.ndarray], path: Path, ms_per_frame: int = 120) -> None:
    """An animated GIF that loops for ever, playing ``frames`` forward and back."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames + frames[-2:0:-1]]
    atomic_write(path, lambda tmp: images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                                                  duration=ms_per_frame, loop=0))


def as_chw(picture: np.ndarray) -> Tensor:
    return torch.tensor(picture).permute(2, 0, 1)  # a copy: PIL's arrays are read-only
