"""Data sets as tensors that live on the training device, sampled by index (no DataLoader, no per-item work).

A data set is one module here that registers its loader (``@DATASETS.register("name")``: a function from the
``data`` config section to a :class:`Dataset`) and one YAML file in ``configs/data/``.
"""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig

from ganlab.data.base import Dataset, ImageTensors, spec_of
from ganlab.registry import Registry

DATASETS: Registry[Callable[[DictConfig], Dataset]] = Registry("data.name", __name__, choose="data=<name>")


def load_dataset(cfg: DictConfig) -> Dataset:
    """Load ``cfg.name``, resized to ``cfg.image_size`` when that differs from the native size."""
    data = DATASETS[cfg.name](cfg)
    return data.resized(cfg.get("image_size"))  # type: ignore[attr-defined]


__all__ = ["DATASETS", "Dataset", "ImageTensors", "load_dataset", "spec_of"]
