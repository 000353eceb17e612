"""What every data set offers: its shape and classes, ``sample(n)``, and the facts evaluation needs.

A data set carries its own facts, so no other part of ganlab needs to know it by name: its held-out real
images (:meth:`Dataset.test_split`, :meth:`Dataset.held_out`: the real data a metric's reference is measured on),
how many samples an evaluation draws, which labelled images a classifier
is trained on to judge it and how that classifier's reading of a sample becomes a label, where that classifier
is cached, and, for 2-D mixtures, the modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.config.schema import key
from ganlab.config.spec import DataSpec
from ganlab.errors import GanlabError
from ganlab.memory import check_fits

RESIZE_FLOATS = 2**24  # float32 values a resize works on at a time (64 MiB)
IMAGE_EVAL_SAMPLES = 10_000  # samples per evaluation of image data (FID's customary count)


@dataclass
class LimitParams:
    """The key of every data set of stored images."""

    limit: int | None = key(None, lo=1, hi=1_000_000_000, doc="train on this many of the images only (the same "
                            "ones for a seed, by class in proportion); evaluation still compares with all of them")


@dataclass
class FileParams(LimitParams):
    """Keys of the data sets read from files in torchvision's layout."""

    root: str = key("data", doc="the folder holding <root>/MNIST/raw, <root>/cifar-10-batches-py, ...")
    download: bool = key(False, doc="fetch missing files when the network allows")


class Dataset:
    """The interface of every data set, with the defaults of one that has no facts to offer."""

    name: str
    kind: str = "image"  # "image" or "points"
    num_classes: int | None = None  # None for unlabelled data
    eval_samples: int = IMAGE_EVAL_SAMPLES  # samples an evaluation draws by default
    cache_dir: Path | None = None  # where classifiers judging this data are cached (None: the user's cache)
    counts_modes = False  # its classes are modes to count (``modes``, ``reverse_kl``), as Stacked MNIST's 1,000
    generated = False  # every sample() is a fresh draw of the data distribution (2-D mixtures, stacked triples)

    @property
    def shape(self) -> tuple[int, ...]:
        """(C, H, W) for images, (2,) for points."""
        raise NotImplementedError

    def sample(self, n: int) -> tuple[Tensor, Tensor | None]:
        """``n`` random training examples in the model's range, and their int64 labels (or None)."""
        raise NotImplementedError

    def to(self, device: torch.device) -> Dataset:
        raise NotImplementedError

    def resized(self, size: int | None) -> Dataset:
        """The data at ``size`` x ``size`` pixels (image data; others ignore it)."""
        return self

    def limited(self, n: int, seed: int) -> Dataset:
        """The data set cut to ``n`` of its training images (``data.limit``), picked by ``seed``: data sets of
        stored images (:class:`ImageTensors`) say how; others refuse."""
        raise GanlabError(f"data.limit={n}: data={self.name} draws a fresh sample at every batch ({self.kind} data "
                          "generated on the fly), so there is no set of training images to cut. Drop data.limit, "
                          "or train on stored images (data=mnist, fashion_mnist, cifar10, folder, ...).")

    @property
    def whole(self) -> Dataset:
        """The data set this one was cut from by ``data.limit`` (itself when it was not): what evaluation
        compares with."""
        return self

    def test_split(self) -> ImageTensors | None:
        """Held-out real images (labelled when the data is), or None when the data set has none."""
        return None

    def held_out(self, n: int) -> tuple[Tensor, Tensor | None] | None:
        """Up to ``n`` real examples (in the model's range, with their labels or None) that a model did not train
        on, for the real-data reference of the metrics: fresh draws of generated data, else the test split's
        first ``n`` in a fixed order; None when the data set has neither."""
        if self.generated:
            return self.sample(n)
        test = self.test_split()
        if test is None:
            return None
        idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:n].to(test.images.device)
        return ImageTensors.normalise(test.images[idx]), None if test.labels is None else test.labels[idx]

    def classifier_data(self) -> ImageTensors | None:
        """The labelled images a classifier is trained on to judge samples of this data; None: no classifier."""
        return None

    def read_labels(self, classify: Callable[[Tensor], Tensor], images: Tensor) -> Tensor:
        """The labels of ``images`` as read by ``classify`` (images -> class indices) of the classifier above."""
        return classify(images)

    def modes(self) -> tuple[Tensor, float] | None:
        """Centres and standard deviation of a mixture's modes (2-D toys), or None."""
        return None


def spec_of(data: Dataset) -> DataSpec:
    return DataSpec(data.name, data.kind, tuple(data.shape), data.num_classes)


def resize(images: Tensor, size: int) -> Tensor:
    """uint8 images resized to ``size`` x ``size`` (antialiased bilinear), a few at a time."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    n, c = images.shape[:2]
    check_fits(n * c * size * size, f"data.image_size={size} ({n:,} images of {c}x{size}x{size} pixels)",
               "Lower data.image_size.", images.device)
    out = torch.empty((n, c, size, size), dtype=torch.uint8, device=images.device)
    chunk = max(1, RESIZE_FLOATS // (c * max(size, images.shape[-1]) ** 2))
    for i in range(0, n, chunk):
        part = F.interpolate(images[i : i + chunk].float(), size=(size, size), mode="bilinear", antialias=True,
                             align_corners=False)
        out[i : i + chunk] = part.round_().clamp_(0, 255).to(torch.uint8)
    return out


class ImageTensors(Dataset):
    """Images held as one uint8 tensor ``(N, C, H, W)`` on the device; batches are drawn by random index.

    ``test``: a function that reads the held-out split (or None); ``classified``: a classifier trained on these
    images judges samples of them (labelled data whose classes a small CNN reads well: digits, garments).
    """

    def __init__(self, name: str, images: Tensor, labels: Tensor | None, num_classes: int | None = None, *,
                 test: Callable[[], ImageTensors | None] | None = None, classified: bool = False,
                 cache_dir: Path | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        self.name, self.images, self.labels = name, images, labels
        if labels is not None and num_classes is None:
            num_classes = int(labels.max()) + 1
        self.num_classes = num_classes if labels is not None else None
        self._test, self.classified, self.cache_dir = test, classified and labels is not None, cache_dir
        self._size: int | None = None  # the side the images were resized to (the test split follows)
        self._whole: ImageTensors | None = None  # the data set data.limit cut these images from

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

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

    def resized(self, size: int | None) -> ImageTensors:
        """These images at ``size`` x ``size`` (in place; the test split is resized when read)."""
        if size:
            self.images, self._size = resize(self.images, int(size)), int(size)
        return self

    def limited(self, n: int, seed: int) -> ImageTensors:
        """The first ``n`` images after a shuffle seeded by ``seed``, taken class by class in proportion to the
        classes' counts where there are labels (largest remainders; every class keeps at least one image where
        ``n`` allows), in their original order: the same ``n`` for the same seed. Evaluation compares with all
        of them (:attr:`whole`): a classifier judging the data still learns from all of them."""
        if n > len(self):
            raise GanlabError(f"data.limit={n} is more than the {len(self):,} training images of data={self.name}. "
                              f"Lower it, or drop data.limit to train on all of them.")
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        if self.labels is None:
            keep = order[:n]
        else:
            labels = self.labels.cpu()[order]
            counts = torch.bincount(labels, minlength=int(self.num_classes or 0))
            keep = torch.cat([order[labels == c][:k] for c, k in enumerate(quotas(counts, n).tolist())])
        keep = keep.sort().values.to(self.images.device)
        part = ImageTensors(self.name, self.images.index_select(0, keep),
                            None if self.labels is None else self.labels.index_select(0, keep), self.num_classes,
                            test=self._test, classified=self.classified, cache_dir=self.cache_dir)
        part._size, part._whole = self._size, self
        return part

    @property
    def whole(self) -> ImageTensors:
        return self._whole if self._whole is not None else self

    def to(self, device: torch.device) -> ImageTensors:
        if device.type == "cuda" and self.images.device != device:
            check_fits(self.images.nbytes, f"data={self.name} ({len(self)} images)", "Lower data.image_size.", device)
        self.images = self.images.to(device)
        self.labels = self.labels.to(device) if self.labels is not None else None
        if self._whole is not None:
            self._whole.to(device)
        return self

    def test_split(self) -> ImageTensors | None:
        test = self._test() if self._test is not None else None
        return test.resized(self._size).to(self.images.device) if test is not None else None

    def classifier_data(self) -> ImageTensors | None:
        return self.whole if self.classified else None


def quotas(counts: Tensor, n: int) -> Tensor:
    """``n`` shared among classes of ``counts`` images in proportion (largest remainders), each class at least
    one where ``n`` is at least the number of classes, none more than it has."""
    share = counts.double() * n / counts.sum()
    out = share.floor().long().clamp(min=1 if n >= len(counts) else 0).minimum(counts)
    while int(out.sum()) != n:  # hand out (or take back) one image at a time, by the largest remainder
        grow = int(out.sum()) < n
        gap = (share - out) if grow else (out - share)
        gap[(out >= counts) if grow else (out <= (1 if n >= len(counts) else 0))] = -float("inf")
        out[int(gap.argmax())] += 1 if grow else -1
    return out
