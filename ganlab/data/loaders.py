"""Readers for the datasets ganlab knows, in their published file formats and torchvision's folder layout.

- ``digits``: scikit-learn's bundled 8x8 digits (offline, no files).
- ``mnist`` / ``fashion_mnist``: the IDX files under ``<root>/MNIST/raw`` or ``<root>/FashionMNIST/raw``
  (uncompressed or ``.gz``).
- ``stacked_mnist``: three random MNIST digits as the R, G and B channels (1,000 classes), from MNIST's files.
- ``cifar10``: the Python pickles under ``<root>/cifar-10-batches-py``.
- ``folder``: any directory of images; class sub-folders become labels.
- ``ring8`` / ``grid25``: generated 2-D mixtures.
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from ganlab.config import GanlabError
from ganlab.data.base import Dataset, ImageTensors, StackedDigits
from ganlab.data.toys import grid25, ring8

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
MNIST_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (MNIST's format: big-endian header, then the array), plain or gzip-compressed."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise GanlabError(f"{path} is not an IDX file (bad magic number). Replace it with the original file.")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise GanlabError(f"{path} has an unknown IDX element type 0x{data[2]:02x}.")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=dtypes[data[2]], offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise GanlabError(f"{path} is truncated: header says {dims}, found {body.size} values.")
    return body.reshape(dims)


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    """Write ``array`` as a uint8 IDX file (to ``path.gz``, compressed, with ``gz``): the inverse of read_idx."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(f"{path}.gz", "wb") as f:
            f.write(header + array.tobytes())
    else:
        path.write_bytes(header + array.tobytes())


def _find(raw: Path, name: str) -> Path | None:
    for candidate in (raw / name, raw / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _missing_files_error(dataset: str, folder: Path, files: tuple[str, ...], root: Path) -> GanlabError:
    return GanlabError(
        f"{dataset} files not found: expected {', '.join(files)} in {folder}. Put the original files there "
        f"(torchvision's layout under data.root, now '{root}'), point data.root=<dir> at a folder that has "
        f"them, or pass data.download=true on a machine with network access."
    )


def _mnist_like(name: str, folder_name: str, tv_class: str) -> Callable[[DictConfig], Dataset]:
    def load(cfg: DictConfig) -> Dataset:
        root = Path(cfg.root).expanduser()
        raw = root / folder_name / "raw"
        if any(_find(raw, f) is None for f in MNIST_FILES) and cfg.download:
            import torchvision

            _download(lambda: getattr(torchvision.datasets, tv_class)(root, download=True))
        if any(_find(raw, f) is None for f in MNIST_FILES):
            raise _missing_files_error(name, raw, MNIST_FILES, root)
        return _read_mnist(name, raw, MNIST_FILES)

    return load


def _read_mnist(name: str, raw: Path, files: tuple[str, str]) -> ImageTensors:
    images, labels = (read_idx(_find(raw, f)) for f in files)  # type: ignore[arg-type]
    if images.ndim != 3 or labels.shape[0] != images.shape[0]:
        raise GanlabError(f"{raw}: images {images.shape} and labels {labels.shape} do not match.")
    x = torch.from_numpy(images.copy()).unsqueeze(1)
    return ImageTensors(name, x, torch.from_numpy(labels.astype(np.int64)), num_classes=10)


def load_test_split(cfg: DictConfig) -> ImageTensors | None:
    """The held-out test images of ``mnist`` / ``fashion_mnist`` (``t10k-*`` files), at ``cfg.image_size``;
    None for other data or when the files are absent."""
    folder = {"mnist": "MNIST", "stacked_mnist": "MNIST", "fashion_mnist": "FashionMNIST"}.get(cfg.name)
    raw = Path(cfg.root).expanduser() / str(folder) / "raw"
    if folder is None or any(_find(raw, f) is None for f in MNIST_TEST_FILES):
        return None
    data = _read_mnist(f"{cfg.name}_test", raw, MNIST_TEST_FILES)
    if cfg.image_size and data.shape[-1] != cfg.image_size:
        data.images = _resize(data.images, int(cfg.image_size))
        data.shape = tuple(data.images.shape[1:])
    return data


def load_stacked_mnist(cfg: DictConfig) -> Dataset:
    digits = DATASETS["mnist"](cfg)
    assert isinstance(digits, ImageTensors)
    if cfg.image_size and digits.shape[-1] != cfg.image_size:
        digits.images = _resize(digits.images, int(cfg.image_size))
        digits.shape = tuple(digits.images.shape[1:])
    return StackedDigits("stacked_mnist", digits)


def _download(fetch: Callable[[], object]) -> None:
    try:
        fetch()
    except Exception as err:  # no network, a proxy, a checksum: say it in one line and fall through
        print(f"ganlab: download failed ({type(err).__name__}: {err}); looking for local files instead.")


def load_cifar10(cfg: DictConfig) -> Dataset:
    root = Path(cfg.root).expanduser()
    folder = root / "cifar-10-batches-py"
    if not all((folder / f).is_file() for f in CIFAR_FILES) and cfg.download:
        import torchvision

        _download(lambda: torchvision.datasets.CIFAR10(root, train=True, download=True))
    if not all((folder / f).is_file() for f in CIFAR_FILES):
        raise _missing_files_error("cifar10", folder, CIFAR_FILES, root)
    xs, ys = [], []
    for f in CIFAR_FILES:
        try:
            with open(folder / f, "rb") as fh:
                batch = pickle.load(fh, encoding="latin1")
            xs.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch["labels"], dtype=np.int64))
        except (pickle.UnpicklingError, KeyError, ValueError, EOFError) as err:
            raise GanlabError(f"{folder / f} is not a CIFAR-10 batch ({err}). Replace it with the original.") from err
    return ImageTensors("cifar10", torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)), 10)


def _digits_table() -> np.ndarray:
    """scikit-learn's digits.csv.gz (1797 rows: 64 pixels 0..16, then the label), read without importing
    scikit-learn, which would cost seconds of start-up; its own loader reads the same file the same way."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as f:
                return np.loadtxt(f, delimiter=",")
    from sklearn.datasets import load_digits as sklearn_digits  # a layout we do not know: ask scikit-learn

    bunch = sklearn_digits()
    return np.concatenate([bunch.data, bunch.target[:, None]], axis=1)


def load_digits(cfg: DictConfig) -> Dataset:
    table = _digits_table()
    images = np.rint(table[:, :-1].reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    labels = table[:, -1].astype(np.int64)
    return ImageTensors("digits", torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels), 10)


def load_folder(cfg: DictConfig) -> Dataset:
    from PIL import Image, UnidentifiedImageError

    if not cfg.path:
        raise GanlabError("data=folder needs the folder of images: add data.path=<dir> to the command line.")
    folder = Path(cfg.path).expanduser()
    if not folder.is_dir():
        raise GanlabError(f"data.path='{folder}' is not a directory. Point it at a folder of images.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GanlabError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found under {folder}.")
    size, channels = int(cfg.image_size or 64), int(cfg.channels or 3)
    if channels not in (1, 3):
        raise GanlabError(f"data.channels must be 1 (grayscale) or 3 (RGB), got {channels}.")
    mode = "L" if channels == 1 else "RGB"
    arrays = []
    for p in files:
        try:
            with Image.open(p) as im:
                im = im.convert(mode)
                side = min(im.size)
                left, top = (im.width - side) // 2, (im.height - side) // 2
                im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
                arrays.append(np.asarray(im, dtype=np.uint8).reshape(size, size, channels))
        except (UnidentifiedImageError, OSError) as err:
            raise GanlabError(f"cannot read image {p} ({err}). Remove or replace it.") from err
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    classes = sorted({p.parent.relative_to(folder).parts[0] for p in files if p.parent != folder})
    labelled = len(classes) > 1 and all(p.parent != folder for p in files)
    if not labelled:
        return ImageTensors("folder", x, None)
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[p.parent.relative_to(folder).parts[0]] for p in files], dtype=torch.int64)
    return ImageTensors("folder", x, y, len(classes))


DATASETS: dict[str, Callable[[DictConfig], Dataset]] = {
    "digits": load_digits,
    "ring8": lambda cfg: ring8(cfg.std or 0.01),
    "grid25": lambda cfg: grid25(cfg.std or 0.05),
    "mnist": _mnist_like("mnist", "MNIST", "MNIST"),
    "fashion_mnist": _mnist_like("fashion_mnist", "FashionMNIST", "FashionMNIST"),
    "stacked_mnist": load_stacked_mnist,
    "cifar10": load_cifar10,
    "folder": load_folder,
}

VALID_SIZES = "4*2^k or 7*2^k pixels (8, 14, 16, 28, 32, 56, 64, ...)"


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    resized = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return resized.round_().clamp_(0, 255).to(torch.uint8)


def load_dataset(cfg: DictConfig) -> Dataset:
    """Load ``cfg.name``, resized to ``cfg.image_size`` when that differs from the native size."""
    if cfg.name not in DATASETS:
        raise GanlabError(f"unknown dataset '{cfg.name}'. Choose data=<name> with one of: {', '.join(DATASETS)}.")
    data = DATASETS[cfg.name](cfg)
    if isinstance(data, ImageTensors) and cfg.image_size and data.shape[-1] != cfg.image_size:
        data.images = _resize(data.images, int(cfg.image_size))
        data.shape = tuple(data.images.shape[1:])
    return data
