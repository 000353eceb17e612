"""MNIST, Fashion-MNIST and Stacked MNIST, from the IDX files under ``<root>/MNIST/raw`` or
``<root>/FashionMNIST/raw`` (torchvision's layout, uncompressed or ``.gz``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor

from ganlab.data import DATASETS
from ganlab.data.base import Dataset, FileParams, ImageTensors
from ganlab.data.files import download, find, missing_files_error
from ganlab.data.idx import read_idx
from ganlab.errors import GanlabError

TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
STACKED_EVAL_SAMPLES = 26_000  # PacGAN's count for Stacked MNIST's 1,000 modes
PLACES = (100, 10, 1)  # Stacked MNIST: the digits of the R, G and B channels make the label 100 a + 10 b + c


def read_pair(name: str, raw: Path, files: tuple[str, str]) -> tuple[Tensor, Tensor]:
    """Images ``(N, 1, 28, 28)`` uint8 and int64 labels in 0..9 from an images / labels pair of IDX files."""
    images, labels = (read_idx(find(raw, f)) for f in files)  # type: ignore[arg-type]
    if images.ndim != 3 or labels.ndim != 1 or labels.shape[0] != images.shape[0] or images.dtype != np.uint8:
        raise GanlabError(f"{raw}: images {images.shape} and labels {labels.shape} of {name} do not match. "
                          "Replace them with the original files.")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise GanlabError(f"{raw}: {name} labels must be digits 0..9, found {int(labels.min())}..{int(labels.max())}. "
                          "Replace the labels file with the original.")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def digit_images(name: str, folder: str, tv_class: str) -> Callable[[DictConfig], ImageTensors]:
    """The loader of an MNIST-format data set of ten classes with a ``t10k`` test split."""

    def load(cfg: DictConfig) -> ImageTensors:
        root = Path(cfg.root).expanduser()
        raw = root / folder / "raw"
        if any(find(raw, f) is None for f in TRAIN_FILES) and cfg.download:
            import torchvision

            download(lambda: getattr(torchvision.datasets, tv_class)(root, download=True))
        if any(find(raw, f) is None for f in TRAIN_FILES):
            raise missing_files_error(name, raw, TRAIN_FILES, root)

        def test() -> ImageTensors | None:
            if any(find(raw, f) is None for f in TEST_FILES):
                return None
            return ImageTensors(f"{name}_test", *read_pair(name, raw, TEST_FILES), 10)

        return ImageTensors(name, *read_pair(name, raw, TRAIN_FILES), 10, test=test, classified=True,
                            cache_dir=root / "ganlab")

    return load


DATASETS.register("mnist", params=FileParams)(digit_images("mnist", "MNIST", "MNIST"))
DATASETS.register("fashion_mnist", params=FileParams)(digit_images("fashion_mnist", "FashionMNIST", "FashionMNIST"))


def stack_label(digits: Tensor) -> Tensor:
    """``(N, 3)`` digits of the R, G and B channels -> Stacked MNIST's label ``100 a + 10 b + c``."""
    return (digits * torch.tensor(PLACES, device=digits.device)).sum(dim=1)


class StackedDigits(Dataset):
    """Three random digits stacked as the R, G and B channels of one image (Metz et al. 2017, Stacked MNIST):
    1,000 classes. Each batch draws fresh triples from the single-digit images; a classifier of single digits
    judges it, reading each channel."""

    num_classes = 1000
    eval_samples = STACKED_EVAL_SAMPLES
    counts_modes = True
    generated = True  # 1,000 labels, 60,000^3 triples: a fresh triple is all but never one trained on

    def __init__(self, name: str, digits: ImageTensors):
        if digits.labels is None or digits.shape[0] != 1:
            raise ValueError("stacked digits need labelled single-channel images")
        self.name, self.digits, self.cache_dir = name, digits, digits.cache_dir

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, *self.digits.shape[1:])

    def sample(self, n: int) -> tuple[Tensor, Tensor]:
        idx = torch.randint(len(self.digits), (n, 3), device=self.digits.images.device)
        x = self.digits.images[idx, 0]  # (n, 3, H, W)
        return ImageTensors.normalise(x), stack_label(self.digits.labels[idx])  # type: ignore[index]

    def to(self, device: torch.device) -> StackedDigits:
        self.digits.to(device)
        return self

    def resized(self, size: int | None) -> StackedDigits:
        self.digits.resized(size)
        return self

    def limited(self, n: int, seed: int) -> StackedDigits:
        """Triples of ``n`` digits (see :meth:`ImageTensors.limited`)."""
        return StackedDigits(self.name, self.digits.limited(n, seed))

    def classifier_data(self) -> ImageTensors:
        return self.digits.whole

    def read_labels(self, classify: Callable[[Tensor], Tensor], images: Tensor) -> Tensor:
        return stack_label(classify(images.flatten(0, 1).unsqueeze(1)).view(-1, 3))


@DATASETS.register("stacked_mnist", params=FileParams)
def load_stacked_mnist(cfg: DictConfig) -> StackedDigits:
    return StackedDigits("stacked_mnist", DATASETS["mnist"](cfg))
