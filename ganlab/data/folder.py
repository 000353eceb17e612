"""Any folder of images (png, jpg, bmp, webp, gif, tiff), searched recursively. Images in class sub-folders get
the sub-folder as their label. Each is centre-cropped to a square and resized to ``data.image_size``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from ganlab.config.schema import key
from ganlab.data import DATASETS
from ganlab.data.base import ImageTensors, LimitParams
from ganlab.errors import GanlabError

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


@dataclass
class FolderParams(LimitParams):
    path: str | None = key(None, doc="the folder of images")
    channels: int = key(3, lo=1, hi=3, doc="1 (grayscale) or 3 (RGB)")


def _read(p: Path, size: int, channels: int) -> np.ndarray:
    from PIL import Image

    with Image.open(p) as im:
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16- or 32-bit grayscale, to 0..255
            wide = np.asarray(im, dtype=np.float64)
            im = Image.fromarray(np.rint(wide * (255.0 / _full_scale(im.mode, wide))).clip(0, 255).astype(np.uint8), "L")
        im = im.convert("L" if channels == 1 else "RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
        return np.asarray(im, dtype=np.uint8).reshape(size, size, channels)


def _full_scale(mode: str, values: np.ndarray) -> float:
    """The white of a wide grayscale image: 65535 for 16-bit modes; a 32-bit ("I") image says nothing of its
    depth, so its values do: 255 when they fit 8 bits (written from 0..255 data), 65535 when they fit 16."""
    if mode != "I":
        return 65535.0
    top = float(values.max(initial=0))
    return 255.0 if top <= 255 else 65535.0 if top <= 65535 else top


@DATASETS.register("folder", params=FolderParams)
def load_folder(cfg: DictConfig) -> ImageTensors:
    from PIL import Image, UnidentifiedImageError

    if not cfg.path:
        raise GanlabError("data=folder needs the folder of images: add data.path=<dir> to the command line.")
    folder = Path(cfg.path).expanduser()
    if not folder.is_dir():
        raise GanlabError(f"data.path='{folder}' is not a directory. Point it at a folder of images.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    if not files:
        raise GanlabError(f"no images ({', '.join(sorted(SUFFIXES))}) found under {folder}.")
    size, channels = int(cfg.image_size or 64), int(cfg.channels or 3)
    if channels not in (1, 3):
        raise GanlabError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {channels}.")
    arrays = []
    for p in files:
        try:
            arrays.append(_read(p, size, channels))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
            raise GanlabError(f"cannot read image {p} ({type(err).__name__}: {err}). Remove or replace it.") from err
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    classes = sorted({p.parent.relative_to(folder).parts[0] for p in files if p.parent != folder})
    labelled = len(classes) > 1 and all(p.parent != folder for p in files)
    if not labelled:
        return ImageTensors("folder", x, None)
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[p.parent.relative_to(folder).parts[0]] for p in files], dtype=torch.int64)
    return ImageTensors("folder", x, y, len(classes))
