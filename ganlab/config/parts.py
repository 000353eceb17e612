"""Sections whose keys are those of the part chosen in them (``model``, ``objective``, ``penalty``, ``data``,
``augment``).

A part (a network family, an objective, a data set, ...) declares the config keys it owns as a dataclass when it
registers (:mod:`ganlab.registry`). Its section holds the keys every part of it shares (``ModelConfig``, ...)
and, once a run's config is composed, exactly the chosen part's keys: :func:`close` refuses any other, naming
the part and its keys. Two parts may declare the same key with their own defaults and ranges, since only the
chosen one's apply.

A part's key is set in one of two ways:

- ``<section>.<key>``: a key of the chosen part, whichever it is (``model.hidden=512``);
- ``<section>.<part>.<key>``: a key of that part, used when it is the chosen one (``model.mlp.hidden=512``).
  Presets write their parts' keys so, since ``model.arch=auto`` picks the family from the data (``model.mlp``
  and ``model.conv`` side by side), and a sweep over parts can set each one's keys.

The first wins over the second, and the part's declared default stands where neither is given.

The schema Hydra composes into (:func:`open_schema`) types every shared key and leaves the part sections open;
:func:`close` types and checks the rest once the chosen parts are known.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ganlab.config.schema import range_text
from ganlab.errors import GanlabError


@dataclasses.dataclass(frozen=True)
class Key:
    """One key a part declares: its name, type (resolved), default and range (``metadata``, see ``schema.key``)."""

    name: str
    type: Any
    default: Any
    metadata: Mapping[str, Any]


def fields_of(params: type | None) -> dict[str, Key]:
    """The keys a part declares (its ``params`` dataclass), by name; none for ``params=None``."""
    if params is None:
        return {}
    hints = typing.get_type_hints(params)
    return {f.name: Key(f.name, hints[f.name], f.default if f.default_factory is dataclasses.MISSING
                        else f.default_factory(), f.metadata) for f in dataclasses.fields(params)}


def check_declarations(schema: type, registries: Mapping[str, Any]) -> None:
    """No part declares a key its whole section has, and no part with keys of its own is named like a key of its
    section (its ``<section>.<name>.<key>`` and the key ``<section>.<name>`` would meet): a TypeError, for the
    part's author."""
    hints = typing.get_type_hints(schema)
    for section, registry in registries.items():
        shared = {f.name for f in dataclasses.fields(hints[section])}
        declared = {part: set(fields_of(p)) for part, p in registry.params().items()}
        keys = shared.union(*declared.values())
        for part in registry.names():
            clash = (declared.get(part, set()) & shared) | ({part} & keys if declared.get(part) else set())
            if clash:
                raise TypeError(f"{registry.key}={part}: {', '.join(sorted(clash))} is a key every {section} "
                                "section has, or the name of a part; rename it")


def open_schema(schema: type, registries: Mapping[str, Any]) -> DictConfig:
    """``schema`` as the node Hydra composes into: every shared key typed, each part section open to the keys
    of its parts (and their ``<part>.<key>`` subsections), which :func:`close` checks."""
    check_declarations(schema, registries)
    node = OmegaConf.structured(schema)
    for section in registries:
        OmegaConf.set_struct(node[section], False)
    return node


def part_keys(registry: Any) -> dict[str, list[str]]:
    """Every key a part of ``registry`` declares, and the parts declaring it."""
    out: dict[str, list[str]] = {}
    for part, params in sorted(registry.params().items()):
        for name in fields_of(params):
            out.setdefault(name, []).append(part)
    return out


def key_error(section: str, path: list[str], base: type, registry: Any) -> str | None:
    """What is wrong with the key ``<section>.<path>`` of a part section whose shared keys are ``base``'s: None
    for a key some part declares (``model.hidden``) or one of a named part (``model.mlp.hidden``); else the
    sentences naming the valid keys."""
    shared = [f.name for f in dataclasses.fields(base)]
    keys, names = part_keys(registry), registry.names()
    first = path[0]
    if (len(path) == 1 and (first in shared or first in keys)) or (
            len(path) == 2 and first in names and path[1] in fields_of(registry.params().get(first))):
        return None
    if first in names:
        own = list(fields_of(registry.params().get(first)))
        if len(path) == 1:
            return (f"{section}.{first} is a {registry.noun}, not a key: set its keys as {section}.{first}.<key> "
                    f"({', '.join(own) or 'it has none'}).")
        close = difflib.get_close_matches(path[1], own, n=1)
        hint = f" Did you mean '{section}.{first}.{close[0]}'?" if close else ""
        return f"{_choice(registry, first)} has no key '{path[1]}'.{hint} Its keys: {', '.join(own) or 'none'}."
    close = difflib.get_close_matches(first, [*shared, *keys], n=1)
    hint = f" Did you mean '{section}.{close[0]}'?" if close else ""
    by_parts: dict[str, list[str]] = {}
    for k, parts in keys.items():
        by_parts.setdefault(_choice(registry, parts), []).append(k)
    own = "; ".join(f"{', '.join(ks)} ({parts})" for parts, ks in by_parts.items())
    return (f"{hint} Valid keys in {section}: {', '.join(shared)}{'; ' + own if own else ''}; and "
            f"{section}.<name>.<key> for a key of the {registry.noun} <name> only.").lstrip()


def _choice(registry: Any, parts: list[str] | str) -> str:
    names = [parts] if isinstance(parts, str) else parts
    return registry.choose.replace("<name>", " / ".join(names))


def _foreign(section: str, key: str, value: Any, registry: Any, chosen: str, shared: list[str], why: str) -> GanlabError:
    """The paragraph for a key the chosen part does not own."""
    own = list(fields_of(registry.params().get(chosen)))
    users = part_keys(registry).get(key)
    has = f"whose keys are {', '.join(own)}" if own else "which has no keys of its own"
    mine = f"{_choice(registry, chosen)}{why}"
    if users:
        head = f"{section}.{key}={value} applies to {_choice(registry, users)}, not to {mine}, {has}"
        fix = (f"Drop {section}.{key}, choose one of those, or write it as {section}.{users[0]}.{key} to use it "
               f"only when {_choice(registry, users[0])} is chosen.")
    else:
        close = difflib.get_close_matches(key, [*own, *shared], n=1)
        head = f"{section}.{key}={value}: no {registry.noun} has a key {key}; {mine} is chosen, {has}"
        fix = f"Did you mean {section}.{close[0]}?" if close else f"Drop {section}.{key}."
    return GanlabError(f"{head} (every {registry.noun}'s: {', '.join(shared)}). {fix}")


def _close_section(section: str, values: dict[str, Any], base: type, registry: Any, chosen: str, why: str,
                   strict: bool) -> tuple[dict[str, Any], type]:
    """A part section's values and type with exactly the shared keys and ``chosen``'s."""
    shared = [f.name for f in dataclasses.fields(base)]
    params = registry.params()
    own = fields_of(params.get(chosen))
    flat: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for key, value in values.items():
        if key in shared:
            continue
        if key in registry.names() and isinstance(value, dict):  # <section>.<part>.<key>: for when it is chosen
            declared = fields_of(params.get(key))
            unknown = [k for k in value if k not in declared]
            if unknown and strict:
                keys = ", ".join(declared) or "none"
                raise GanlabError(f"{section}.{key}.{unknown[0]}: {_choice(registry, key)} has no key {unknown[0]} "
                                  f"(its keys: {keys}). Fix the key, or drop it.")
            if key == chosen:
                nested = {k: v for k, v in value.items() if k in declared}
        elif key in own:
            flat[key] = value
        elif strict:
            if isinstance(value, dict):
                close = difflib.get_close_matches(key, list(registry.names()), n=1)
                hint = f" Did you mean {section}.{close[0]}?" if close else ""
                raise GanlabError(f"{section}.{key}: there is no {registry.noun} {key} to set keys of (choose "
                                  f"{registry.choose} with one of: {', '.join(registry.names())}).{hint}")
            raise _foreign(section, key, value, registry, chosen, shared, why)
    closed = {k: v for k, v in values.items() if k in shared}
    closed.update({**nested, **flat})
    if not own:
        return closed, base
    new = [(name, k.type, dataclasses.field(default=k.default, metadata=k.metadata)) for name, k in own.items()]
    return closed, dataclasses.make_dataclass(base.__name__, new, bases=(base,))


def close(cfg: DictConfig, schema: type, registries: Mapping[str, Any], chosen: Mapping[str, str],
          why: Mapping[str, str] | None = None, strict: bool = True) -> tuple[DictConfig, type]:
    """``cfg`` (composed into :func:`open_schema`) with each part section holding its shared keys and exactly
    the keys of its part in ``chosen`` (by section), typed; and the schema of that config. ``why`` says, by
    section, how the part was chosen where the chooser does not name it (``model.arch=auto``). ``strict``:
    a key the chosen part does not own is an error; else it is dropped (a config saved by an older ganlab)."""
    from omegaconf.errors import OmegaConfBaseException

    values = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(values, dict)
    hints = typing.get_type_hints(schema)
    types: dict[str, type] = {}
    for section, registry in registries.items():
        values[section], types[section] = _close_section(
            section, dict(values[section]), hints[section], registry, chosen[section], (why or {}).get(section, ""),
            strict)
    closed_schema = dataclasses.make_dataclass(
        schema.__name__, [(s, t, dataclasses.field(default_factory=t)) for s, t in types.items()], bases=(schema,))
    try:
        closed = OmegaConf.merge(OmegaConf.structured(closed_schema), values)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "the config"
        raise GanlabError(f"{key}: {str(err).splitlines()[0]}. Fix the value (`ganlab train --help` lists each "
                          "key of the chosen parts with its type and range).") from err
    assert isinstance(closed, DictConfig)
    return closed, closed_schema


def describe(cfg: DictConfig, registries: Mapping[str, Any], chosen: Mapping[str, str],
             why: Mapping[str, str] | None = None) -> str:
    """The chosen parts and each of their keys: its value here, its default and range, and what it does; then
    the keys the other parts of each section would take (for ``ganlab train --help``)."""
    lines = []
    for section, registry in registries.items():
        own = fields_of(registry.params().get(chosen[section]))
        head = f"{_choice(registry, chosen[section])}{(why or {}).get(section, '')}"
        lines.append(f"{head}: {'its keys' if own else 'no keys of its own'}")
        for name, f in own.items():
            facts = [f"default {f.default}", range_text(f.metadata), f.metadata.get("doc", "")]
            lines.append(f"  {section}.{name}={cfg[section][name]}  ({'; '.join(x for x in facts if x)})")
    lines.append("The other parts' keys (<section>.<key> once chosen; <section>.<part>.<key>: for when it is):")
    for section, registry in registries.items():
        by_keys: dict[str, list[str]] = {}
        for part, params in sorted(registry.params().items()):
            if part != chosen[section]:
                by_keys.setdefault(", ".join(fields_of(params)), []).append(part)
        lines += [f"  {_choice(registry, parts)}: {keys}" for keys, parts in by_keys.items()]
    return "\n".join(lines) + "\n"
