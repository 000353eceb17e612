"""Data sets as tensors that live on the training device, sampled by index (no DataLoader, no per-item work).

A data set is one module here that registers its loader (``@DATASETS.register("name")``: a function from the
``data`` config section to a :class:`Dataset`; ``params=`` the keys it owns, ``kind="points"`` for data that is
not images) and one YAML file in ``configs/data/``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from omegaconf import DictConfig

from ganlab.config.spec import DataSpec
from ganlab.data.base import Dataset, ImageTensors, spec_of
from ganlab.registry import Registry

DATASETS: Registry[Callable[[DictConfig], Dataset]] = Registry("data.name", __name__, "data set", choose="data=<name>")


def kind_of(name: str) -> str:
    """The kind of data the data set ``name`` holds ("image" or "points"), as it stated when it registered
    (``@DATASETS.register(name, kind="points")``; images unless it says otherwise), known before it loads."""
    return str(DATASETS.fact(name, "kind", "image"))


def load_dataset(cfg: DictConfig, check: Callable[[DataSpec], None] | None = None, seed: int = 0) -> Dataset:
    """Load ``cfg.name``, resized to ``cfg.image_size`` when that differs from the native size, and cut to the
    ``cfg.limit`` images that ``seed`` picks (see :meth:`Dataset.limited`); ``check`` sees the data's spec at that
    size before it is resized (to refuse what cannot fit before allocating it)."""
    data = DATASETS[cfg.name](cfg)
    if data.kind != kind_of(cfg.name):
        raise TypeError(f"data={cfg.name} loads {data.kind} data but registered as {kind_of(cfg.name)}: "
                        f"pass kind={data.kind!r} to DATASETS.register")
    size = cfg.get("image_size")
    if check is not None:
        spec = spec_of(data)
        if size and data.kind == "image":
            spec = dataclasses.replace(spec, shape=(spec.shape[0], int(size), int(size)))
        check(spec)
    data = data.resized(size)  # type: ignore[attr-defined]
    limit = cfg.get("limit")
    return data.limited(int(limit), seed) if limit else data


__all__ = ["DATASETS", "Dataset", "ImageTensors", "kind_of", "load_dataset", "spec_of"]
