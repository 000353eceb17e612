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


def check_model_data(choices: Any) -> None:
    """``model_data`` is no group to pick: the preset tuned for a model on a data set
    (``configs/model_data/<model>_<data>.yaml``) applies by itself when both are chosen. Given on the command line
    it must be that one (``~model_data`` leaves it out); ``choices``: Hydra's ``hydra.runtime.choices``."""
    chosen, model, data = choices.get("model_data"), choices.get("model"), choices.get("data")
    if chosen not in (None, f"{model}_{data}"):
        raise GanlabError(
            f"model_data={chosen} does not go with model={model} data={data}: the tuned preset of a model on a data "
            f"set applies by itself when model= and data= name it (here configs/model_data/{model}_{data}.yaml, where "
            f"there is one). Drop model_data=, or choose the pair it tunes ({' '.join(_pair(chosen))}); "
            "~model_data trains the model preset untuned.")


def _pair(name: str) -> list[str]:
    """``model=<m> data=<d>`` for a ``<m>_<d>`` model_data option (model names may hold an underscore)."""
    models = sorted((p.stem for p in (config_dir() / "model").glob("*.yaml")), key=len, reverse=True)
    model = next((m for m in models if name.startswith(f"{m}_")), name.split("_")[0])
    return [f"model={model}", f"data={name[len(model) + 1:]}"]


def compose_config(overrides: list[str]) -> DictConfig:
    """The config ``ganlab train <overrides>`` would run with, composed in-process and validated (for scripts
    and tests)."""
    from hydra import compose, initialize_config_dir

    register_schema()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        cfg = compose(config_name="train", overrides=overrides)
    check(cfg, overrides)
    return cfg
