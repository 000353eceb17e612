"""Sample-quality metrics. A metric family is one module here registering a :class:`Metric` subclass
(``@METRICS.register("name")``); it says which data it applies to by asking the data set for its facts, so no
data set is named in this folder. The :class:`~ganlab.metrics.evaluator.Evaluator` runs every family that
applies."""

from __future__ import annotations

from typing import Any

from ganlab.registry import Registry

METRICS: Registry[Any] = Registry("metric", __name__, "metric family")

__all__ = ["METRICS"]
