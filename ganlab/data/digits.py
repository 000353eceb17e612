"""scikit-learn's bundled handwritten digits: 1,797 images of 8x8 pixels, labels 0-9; works offline."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from ganlab.data import DATASETS
from ganlab.data.base import ImageTensors, LimitParams


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


@DATASETS.register("digits", params=LimitParams)
def load_digits(cfg: DictConfig) -> ImageTensors:
    """No test split ships with them: a classifier that judges them holds out a fixed sixth (metrics/classifier)."""
    table = _digits_table()
    images = np.rint(table[:, :-1].reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    labels = table[:, -1].astype(np.int64)
    return ImageTensors("digits", torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels), 10, classified=True)
