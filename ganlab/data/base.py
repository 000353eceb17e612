"""What every dataset offers the trainer: a shape, an optional number of classes, and ``sample(n)``."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor


class Dataset(Protocol):
    name: str
    kind: str  # "image" or "points"
    shape: tuple[int, ...]  # (C, H, W) for images, (2,) for points
    num_classes: int | None  # None for unlabelled data

    def sample(self, n: int) -> tuple[Tensor, Tensor | None]:
        """``n`` random training examples in the model's range, and their int64 labels (or None)."""
        ...

    def to(self, device: torch.device) -> Dataset: ...


class ImageTensors:
    """Images held as one uint8 tensor ``(N, C, H, W)`` on the device; batches are drawn by random index."""

    kind = "image"

    def __init__(self, name: str, images: Tensor, labels: Tensor | None, num_classes: int | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        self.name = name
        self.images = images
        self.labels = labels
        self.shape = tuple(images.shape[1:])
        if labels is not None and num_classes is None:
            num_classes = int(labels.max()) + 1
        self.num_classes = num_classes if labels is not None else None

    def __len__(self) -> int:
        return self.images.shape[0]

    @staticmethod
    def normalise(images: Tensor) -> Tensor:
        """uint8 [0, 255] -> float [-1, 1], the range of the generator's tanh."""
        return images.float().div_(127.5).sub_(1.0)

    def sample(self, n: int) -> tuple[Tensor, Tensor | None]:
        idx = torch.randint(len(self), (n,), device=self.images.device)
        # index_select, not [idx]: the same rows, 10x faster on CPU
        y = self.labels.index_select(0, idx) if self.labels is not None else None
        return self.normalise(self.images.index_select(0, idx)), y

    def to(self, device: torch.device) -> ImageTensors:
        self.images = self.images.to(device)
        self.labels = self.labels.to(device) if self.labels is not None else None
        return self


class StackedDigits:
    """Three random digits stacked as the R, G and B channels of one image (Metz et al. 2017, Stacked MNIST):
    1,000 classes, label ``100 a + 10 b + c``. Each batch draws fresh triples from the single-digit images."""

    kind = "image"
    num_classes = 1000

    def __init__(self, name: str, digits: ImageTensors):
        if digits.labels is None or digits.shape[0] != 1:
            raise ValueError("stacked digits need labelled single-channel images")
        self.name, self.digits = name, digits
        self.shape = (3, *digits.shape[1:])
        self.place = torch.tensor([100, 10, 1])

    def sample(self, n: int) -> tuple[Tensor, Tensor]:
        device = self.digits.images.device
        idx = torch.randint(len(self.digits), (n, 3), device=device)
        x = self.digits.images[idx, 0]  # (n, 3, H, W)
        y = (self.digits.labels[idx] * self.place.to(device)).sum(dim=1)  # type: ignore[index]
        return ImageTensors.normalise(x), y

    def to(self, device: torch.device) -> StackedDigits:
        self.digits.to(device)
        return self
