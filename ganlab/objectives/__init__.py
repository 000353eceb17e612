"""GAN objectives and D's penalties, written on the discriminator's raw outputs (logits) in numerically safe form.

An objective is one class registered with ``@OBJECTIVES.register("name")`` (its module in this folder) plus
one YAML file in ``configs/objective/``; it declares the divergence it bounds and its optimal critic, so the
closed-form tests cover it with no further edit. A penalty likewise: ``@PENALTIES.register`` and
``configs/penalty/``. With the logit ``a`` of D, log D = -softplus(-a) and log(1 - D) = -softplus(a): never a
Sigmoid followed by a log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganlab.registry import Registry

if TYPE_CHECKING:
    from ganlab.objectives.base import Objective
    from ganlab.objectives.penalties import Penalty

OBJECTIVES: Registry[Any] = Registry("objective.name", __name__, "objective", choose="objective=<name>")
PENALTIES: Registry[Any] = Registry("penalty.name", __name__, "penalty", choose="penalty=<name>")


def build_objective(cfg: Any) -> Objective:
    """The objective a config's ``objective`` section names (with the keys it owns), or a bare name's."""
    return OBJECTIVES.build({"name": cfg} if isinstance(cfg, str) else cfg)


def build_penalty(cfg: Any) -> Penalty:
    """The penalty a config's ``penalty`` section names, built with the keys it owns."""
    return PENALTIES.build({"name": cfg} if isinstance(cfg, str) else cfg)


__all__ = ["OBJECTIVES", "PENALTIES", "build_objective", "build_penalty"]
