"""The one validation pass over a composed config: everything a config alone can decide, checked before a run
starts (and before its run dir is made). Each message names the key and what to do."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.config.parts import close
from ganlab.config.schema import TrainConfig, range_text
from ganlab.errors import GanlabError


def _range_error(path: str, value: Any, meta: dict[str, Any]) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if "choices" in meta:  # a boolean given to a str key of choices arrives as 'True' / 'False'
        value = value.lower() if value in ("True", "False") else value
        return None if value in meta["choices"] else range_text(meta)
    if not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "a finite number"
    lo, hi, above, below = (meta.get(k) for k in ("lo", "hi", "above", "below"))
    ok = ((lo is None or value >= lo) and (hi is None or value <= hi)
          and (above is None or value > above) and (below is None or value < below))
    return None if ok else range_text(meta)


HINT = "Fix {key} on the command line or in your config (`ganlab train --cfg job` prints the whole config)."


def check_ranges(cfg: DictConfig, schema: type, prefix: str = "", hint: str = HINT) -> None:
    """Every key with a range in the schema (see :func:`ganlab.config.schema.key`) holds a value inside it;
    ``hint`` (with ``{key}``) says where to fix one that does not."""
    for f in dataclasses.fields(schema):
        if f.name not in cfg:
            continue
        value = cfg[f.name]
        path = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(f.type) or (f.default_factory is not dataclasses.MISSING and isinstance(value, DictConfig)):
            sub = f.type if dataclasses.is_dataclass(f.type) else type(f.default_factory())  # type: ignore[misc]
            check_ranges(value, sub, f"{path}.", hint)
            continue
        value = getattr(value, "value", value)
        wanted = _range_error(path, value, dict(f.metadata))
        if wanted:
            raise GanlabError(f"{path}={value} is out of range: it must be {wanted}. {hint.format(key=path)}")


def validate(cfg: DictConfig, schema: type, registries: Mapping[str, Any], chosen: Mapping[str, str],
             why: Mapping[str, str] | None = None, strict: bool = True) -> DictConfig:
    """The whole pass over a composed config whose parts are ``chosen`` (by section; see
    :func:`ganlab.config.parts.close`): its closed form, every key in its range, and what parts allow together.
    Returns the closed config, the one a run trains with."""
    from ganlab.config.guard import check_names

    closed, closed_schema = close(cfg, schema, registries, chosen, why, strict)
    check_ranges(closed, closed_schema)
    check_names(closed)
    penalties = registries["penalty"]
    if closed.penalty.every != 1 and not penalties[closed.penalty.name].gradient:
        lazy = ", ".join(n for n, p in penalties.items() if p.gradient)
        raise GanlabError(f"penalty.every (lazy regularisation) applies to the gradient penalties {lazy}, not to "
                          f"penalty={closed.penalty.name}; drop penalty.every or choose one of those penalties.")
    if closed.optim.schedule == "constant" and closed.optim.decay_steps is not None:
        raise GanlabError(f"optim.decay_steps={closed.optim.decay_steps} is where a linear schedule ends, but "
                          "optim.schedule=constant: add optim.schedule=linear, or drop optim.decay_steps (set it to null).")
    return closed


def upgraded(config: dict[str, Any]) -> dict[str, Any]:
    """A run config as a checkpoint of an older ganlab stored it, in today's keys: ``optim.decay_steps`` without
    ``optim.schedule`` was a linear decay."""
    optim = config.get("optim")
    if isinstance(optim, dict) and "schedule" not in optim:
        optim["schedule"] = "linear" if optim.get("decay_steps") else "constant"
    return config


def to_container(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain values (enums as their names), as a checkpoint stores it."""
    out = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(out, dict)
    return out


__all__ = ["TrainConfig", "check_ranges", "to_container", "upgraded", "validate"]
