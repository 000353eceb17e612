"""Differentiable augmentation of everything D sees (the ``augment`` config group), for training on few images.

An augmentation is one module here that registers an :class:`~ganlab.augment.base.Augment` subclass
(``@AUGMENTS.register("name", params=...)``) and one YAML file in ``configs/augment/``. The training step applies
the chosen one to real and generated images before every evaluation of D (see :mod:`ganlab.training.step`), so
G learns through it: every op must be differentiable with respect to the image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganlab.registry import Registry

if TYPE_CHECKING:
    from ganlab.augment.base import Augment

AUGMENTS: Registry[Any] = Registry("augment.name", __name__, "augmentation", choose="augment=<name>")


def build_augment(cfg: Any) -> Augment:
    """The augmentation a config's ``augment`` section names, built with the keys it owns (a bare name too)."""
    return AUGMENTS.build({"name": cfg} if isinstance(cfg, str) else cfg)


__all__ = ["AUGMENTS", "build_augment"]
