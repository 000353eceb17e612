"""The composed config of ``ganlab train``: the YAML groups of ``configs/``, the schema with every part's keys,
and the one validation pass, run before anything is written."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ganlab.config import train_schema, validate
from ganlab.errors import GanlabError


def registries() -> dict[str, Any]:
    """Every registry of parts a run is built from, by the config key that names a part."""
    from ganlab.data import DATASETS
    from ganlab.models import NETWORKS
    from ganlab.objectives import OBJECTIVES, PENALTIES

    return {r.key: r for r in (NETWORKS, OBJECTIVES, PENALTIES, DATASETS)}


@cache
def schema() -> type:
    """The full schema (``TrainConfig`` with the keys each registered part owns)."""
    return train_schema(registries())


def register_schema() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="train_schema", node=schema())


def config_dir() -> Path:
    """The folder of YAML config groups: inside the installed package, or the repository's ``configs/``."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "configs", here.parent / "configs"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise GanlabError(f"ganlab's configs/ folder was not found next to {here}; reinstall ganlab.")


def check(cfg: DictConfig, overrides: list[str] | tuple[str, ...] = ()) -> None:
    """The validation pass over a composed config and the overrides it was composed with."""
    validate(cfg, schema(), registries(), overrides)


def compose_config(overrides: list[str]) -> DictConfig:
    """The config ``ganlab train <overrides>`` would run with, composed in-process and validated (for scripts
    and tests)."""
    from hydra import compose, initialize_config_dir

    register_schema()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        cfg = compose(config_name="train", overrides=overrides)
    check(cfg, overrides)
    return cfg
