"""GAN objectives, written on the discriminator's raw outputs (logits) in numerically safe form.

Each objective gives the discriminator's loss on real and fake outputs, the generator's loss on fake
outputs, and (where it has one) the divergence or distance its discriminator estimates. With the logit
``a`` of D, log D = -softplus(-a) and log(1 - D) = -softplus(a): never a Sigmoid followed by a log.
"""

from __future__ import annotations

from omegaconf import DictConfig

from ganlab.objectives.fgan import F_DIVERGENCES, FDivergence
from ganlab.objectives.losses import BASIC_OBJECTIVES, Objective

OBJECTIVES: dict[str, type[Objective]] = {cls.name: cls for cls in (*BASIC_OBJECTIVES, *F_DIVERGENCES)}
F_OBJECTIVES = tuple(cls.name for cls in F_DIVERGENCES)


def build_objective(cfg: DictConfig | str) -> Objective:
    """The objective named by ``cfg.name`` (the ``objective`` config group), or by a bare name."""
    name = cfg if isinstance(cfg, str) else cfg.name
    cls = OBJECTIVES[name]
    if issubclass(cls, FDivergence):
        non_saturating = None if isinstance(cfg, str) else cfg.get("non_saturating")
        return cls() if non_saturating is None else cls(non_saturating=non_saturating)
    return cls()


__all__ = ["F_OBJECTIVES", "OBJECTIVES", "FDivergence", "Objective", "build_objective"]
