"""Bars: 8x8 images of a vertical bar whose column is the class, 4 classes (an example part:
tests/test_parts.py). Labelled images a classifier can learn: the classifier metrics apply."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from ganlab.data import DATASETS
from ganlab.data.base import ImageTensors


@DATASETS.register("bars")
def load_bars(cfg: DictConfig) -> ImageTensors:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(120) % 4
    images = torch.randint(0, 30, (120, 1, 8, 8), generator=g, dtype=torch.uint8)
    for i, y in enumerate(labels.tolist()):
        images[i, 0, :, 2 * y : 2 * y + 2] = 255
    return ImageTensors("bars", images, labels, 4, classified=True)
