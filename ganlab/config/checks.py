"""The one validation pass over a composed config: everything a config alone can decide, checked before a run
starts (and before its run dir is made). Each message names the key and what to do."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.config.schema import PART_SECTIONS, TrainConfig
from ganlab.errors import GanlabError

# sections where a key set on the command line must be one the chosen part reads (else it would be ignored)
STRICT_SECTIONS = ("objective", "penalty")


def _range_error(path: str, value: Any, meta: dict[str, Any]) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if "choices" in meta:
        return None if value in meta["choices"] else f"one of {', '.join(meta['choices'])}"
    if not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "a finite number"
    lo, hi, above, below = (meta.get(k) for k in ("lo", "hi", "above", "below"))
    ok = ((lo is None or value >= lo) and (hi is None or value <= hi)
          and (above is None or value > above) and (below is None or value < below))
    if ok:
        return None
    low = f">= {lo:g}" if lo is not None else f"> {above:g}" if above is not None else ""
    high = f"<= {hi:g}" if hi is not None else f"< {below:g}" if below is not None else ""
    return " and ".join(b for b in (low, high) if b)


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


def check_parts(cfg: DictConfig, registries: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> None:
    """Every part named in the config exists, and no key given in ``overrides`` (``section.key=value``) belongs
    only to parts other than the chosen one."""
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    for section, reg_key in PART_SECTIONS.items():
        registry = registries[reg_key]
        field_name = reg_key.split(".", 1)[1]
        chosen = cfg[section][field_name]
        auto = ("auto",) if section == "model" else ()  # model.arch=auto: the family made for the data
        if chosen not in (*auto, *registry.names()):
            raise GanlabError(f"unknown {reg_key} '{chosen}'. Choose {registry.choose} with one of: "
                              f"{', '.join((*auto, *registry.names()))}.")
        if section not in STRICT_SECTIONS:
            continue
        owned = registry.params()
        mine = {f.name for f in dataclasses.fields(owned[chosen])} if chosen in owned else set()
        for params in owned.values():
            for f in dataclasses.fields(params):
                value = cfg[section].get(f.name)
                if f.name in mine or f"{section}.{f.name}" not in given:
                    continue
                users = sorted(p for p, ps in owned.items() if f.name in {g.name for g in dataclasses.fields(ps)})
                raise GanlabError(
                    f"{section}.{f.name}={value} applies to {section}={' / '.join(users)}, not to "
                    f"{section}={chosen}; drop {section}.{f.name} or choose one of those.")


def validate(cfg: DictConfig, schema: type, registries: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> None:
    """The whole pass: ranges, part names, names that become paths, and keys given for parts not chosen."""
    from ganlab.config.guard import check_names

    check_ranges(cfg, schema)
    check_parts(cfg, registries, overrides)
    check_names(cfg)
    penalties = registries["penalty.name"]
    if cfg.penalty.every != 1 and not penalties[cfg.penalty.name].gradient:
        lazy = ", ".join(n for n, p in penalties.items() if p.gradient)
        raise GanlabError(f"penalty.every (lazy regularisation) applies to the gradient penalties {lazy}, not to "
                          f"penalty={cfg.penalty.name}; drop penalty.every or choose one of those penalties.")


def to_container(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain values (enums as their names), as a checkpoint stores it."""
    out = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(out, dict)
    return out


__all__ = ["TrainConfig", "check_parts", "check_ranges", "to_container", "validate"]
