"""``key=value`` arguments of the commands other than ``train`` (``sample``, ``eval``, ``report``, ...)."""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig

from ganlab.config.checks import check_ranges
from ganlab.errors import GanlabError


def parse_args(args: list[str], schema: type, command: str) -> DictConfig:
    """Parse ``key=value`` words into ``schema`` (a dataclass); unknown keys, bad types and missing
    required keys become a GanlabError naming the valid keys."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    valid = ", ".join(f.name for f in dataclasses.fields(schema))
    bad = [a for a in args if "=" not in a or a.startswith("=")]
    if bad:
        raise GanlabError(f"expected key=value words, got {' '.join(bad)}. `ganlab {command}` takes: {valid}.")
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
