"""``key=value`` arguments of the commands other than ``train`` (``sample``, ``eval``, ``report``, ...), and their
``--help``, written from the same dataclass: each key with its default, its range and what it means."""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from collections.abc import Iterator
from typing import Any

from omegaconf import MISSING, DictConfig

from ganlab.config.checks import check_ranges
from ganlab.config.schema import range_text
from ganlab.errors import GanlabError

HELP_FLAGS = ("-h", "--help", "help")
UNBOUNDED = 2**31  # an upper bound this large is no limit a user meets: help leaves it out
WIDTH = 110  # help's lines

# what the keys several commands share mean (a field's own ``doc`` wins)
SHARED_DOCS = {
    "run": "a run dir written by `ganlab train` (outputs/runs/<date>_<time>_<model>_<data>)",
    "out": "the file to write",
    "seed": "of the latents: the same seed, the same samples",
    "label": "conditional models: the class to draw",
    "device": "auto (cuda, then mps, then cpu), cpu, cuda or mps",
    "checkpoint": "last, best, or the name of a file in <run>/checkpoints",
    "weights": "ema or raw; unset: G's moving average where the checkpoint holds one, else G's own weights",
}


def _keys(schema: type, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field]]:
    """Every key of ``schema``, a nested section's as ``section.key``."""
    for f in dataclasses.fields(schema):
        made = f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        if dataclasses.is_dataclass(made):
            yield from _keys(type(made), f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f


def _default(f: dataclasses.Field) -> str:
    value = getattr(f.default, "value", f.default)
    if value is MISSING:
        return "required"
    if value is None:
        return "unset"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _limits(meta: dict[str, Any], doc: str) -> str:
    """A key's range as help shows it: "1 to 1000", ">= 0", the choices where its words do not name them."""
    lo, hi = meta.get("lo", meta.get("above")), meta.get("hi", meta.get("below"))
    if "choices" in meta:
        return "" if all(c in doc for c in meta["choices"]) else range_text(meta)
    if hi is not None and hi >= UNBOUNDED:
        meta = {k: v for k, v in meta.items() if k != "hi"}
    elif "lo" in meta and "hi" in meta:
        return f"{lo:,} to {hi:,}"
    return range_text(meta)


def command_help(schema: type, command: str) -> str:
    """``ganlab <command> --help``: what the command does, every key (required ones first) with its default and
    range, and examples: the dataclass's docstring gives its first paragraph and its lines that start with
    ``ganlab <command>``."""
    doc = inspect.cleandoc(schema.__doc__ or "")
    examples = [line.strip() for line in doc.splitlines() if line.strip().startswith(f"ganlab {command}")]
    keys = sorted(_keys(schema), key=lambda k: _default(k[1]) != "required")  # stable: the schema's order
    rows = []
    for name, f in keys:
        words = f.metadata.get("doc") or SHARED_DOCS.get(name.split(".")[-1], "")
        limits = _limits(dict(f.metadata), words)
        rows.append((name, _default(f), f"{words} ({limits})" if limits else words))
    width = [max(len(r[i]) for r in [("key", "default", ""), *rows]) for i in (0, 1)]
    indent = " " * (6 + sum(width))
    table = [textwrap.fill(f"  {n:<{width[0]}}  {d:<{width[1]}}  {w}", WIDTH, subsequent_indent=indent)
             for n, d, w in [("key", "default", ""), *rows]]
    required = " ".join(f"{name}=<{name}>" for name, f in keys if _default(f) == "required")
    return "\n".join([f"usage: ganlab {command} {required} [key=value ...]", "",
                      textwrap.fill(doc.split("\n\n")[0], WIDTH), "", *table, "",
                      "examples:" if len(examples) > 1 else "example:", *(f"  {e}" for e in examples)]) + "\n"


def parse_args(args: list[str], schema: type, command: str) -> DictConfig:
    """Parse ``key=value`` words into ``schema`` (a dataclass); unknown keys, bad types and missing
    required keys become a GanlabError naming the valid keys. ``-h``/``--help`` prints :func:`command_help` and
    exits 0."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if any(a in HELP_FLAGS for a in args):
        print(command_help(schema, command), end="")
        raise SystemExit(0)
    valid = ", ".join(name for name, _ in _keys(schema))
    bad = [a for a in args if "=" not in a or a.startswith("=")]
    if bad:
        raise GanlabError(f"expected key=value words, got {' '.join(bad)}. `ganlab {command}` takes: {valid} "
                          f"(`ganlab {command} --help` says what each means).")
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.from_dotlist(args))
    except OmegaConfBaseException as err:
        full_key = getattr(err, "full_key", None)
        msg = f"unknown key '{full_key}'" if "not in" in str(err) and full_key else str(err).splitlines()[0]
        raise GanlabError(f"{msg}. `ganlab {command}` takes: {valid}.") from err
    given = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(given, dict)
    missing = sorted(k for k, v in given.items() if v == "???")
    if missing:
        raise GanlabError(f"`ganlab {command}` needs {', '.join(f'{k}=<value>' for k in missing)} (it takes: {valid}).")
    for name, value in given.items():
        try:
            cfg[name]  # an interpolation (${oc.env:NAME}) resolves now, or the key is named
        except OmegaConfBaseException as err:
            raise GanlabError(f"{name}={value}: {str(err).splitlines()[0]}. An interpolation must name a set "
                              f"environment variable (${{oc.env:NAME}}) or another key of `ganlab {command}` "
                              f"({valid}).") from err
    assert isinstance(cfg, DictConfig)
    check_ranges(cfg, schema, hint=f"Fix {{key}}= on the command line (`ganlab {command}` takes: {valid}).")
    return cfg
