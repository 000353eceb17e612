"""How ``ganlab train`` composes its config: the YAML groups of ``configs/``, the schema with every part's
keys, the check of the command line's keys before Hydra starts, Hydra's composition and its errors in one
paragraph, the help text, and the one validation pass, run before anything is written."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ganlab.config import TrainConfig, open_schema, validate
from ganlab.config.parts import describe, key_error
from ganlab.errors import GanlabError


def registries() -> dict[str, Any]:
    """Every registry of parts a run is built from, by the config section whose part it names (a new section
    of parts: its registry here and its section of shared keys in ``TrainConfig``)."""
    from ganlab.augment import AUGMENTS
    from ganlab.data import DATASETS
    from ganlab.models import NETWORKS
    from ganlab.objectives import OBJECTIVES, PENALTIES

    return {r.key.split(".", 1)[0]: r for r in (NETWORKS, OBJECTIVES, PENALTIES, DATASETS, AUGMENTS)}


@cache
def schema_node() -> DictConfig:
    """The schema Hydra composes into: ``TrainConfig``, its part sections open to their parts' keys."""
    return open_schema(TrainConfig, registries())


def register_schema() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="train_schema", node=schema_node())


def config_dir() -> Path:
    """The folder of YAML config groups: inside the installed package, or the repository's ``configs/``."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "configs", here.parent / "configs"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise GanlabError(f"ganlab's configs/ folder was not found next to {here}; reinstall ganlab.")


def chosen_parts(cfg: DictConfig) -> tuple[dict[str, str], dict[str, str]]:
    """The part each part section of ``cfg`` chooses (``model.arch=auto``: the family for the data's kind), and,
    where its key does not name it, how it was chosen (for messages); an unknown part is an error."""
    from ganlab.data import kind_of
    from ganlab.models import family_name

    chosen, why = {}, {}
    for section, registry in sorted(registries().items(), key=lambda item: item[0] != "data"):
        name = str(cfg[section][registry.key.split(".", 1)[1]])
        auto = ("auto",) if section == "model" else ()  # model.arch=auto: the family made for the data
        if name not in (*auto, *registry.names()):
            raise GanlabError(f"unknown {registry.key} '{name}'. Choose {registry.choose} with one of: "
                              f"{', '.join((*auto, *registry.names()))}.")
        if name == "auto":
            kind = kind_of(chosen["data"])
            name = family_name(name, kind)
            why[section] = f" (model.arch=auto's choice for data={chosen['data']}, {kind} data)"
        chosen[section] = name
    return chosen, why


def check(cfg: DictConfig, strict: bool = True) -> DictConfig:
    """The validation pass over a composed config: the config a run trains with, each part section holding
    exactly its chosen part's keys (``strict=False``: keys of other parts are dropped, as from a checkpoint an
    older ganlab wrote)."""
    chosen, why = chosen_parts(cfg)
    closed = validate(cfg, TrainConfig, registries(), chosen, why, strict)
    check_augment(closed, chosen["data"])
    return closed


def check_augment(cfg: DictConfig, data: str) -> None:
    """The augmentation of ``cfg`` can be built (its policy names its ops) and applies to this run: to image
    data, and, for an adaptive one, to an objective whose D has an output for "real and fake alike"."""
    from ganlab.augment import build_augment
    from ganlab.data import kind_of
    from ganlab.objectives import OBJECTIVES, build_objective

    augment = build_augment(cfg.augment)
    if augment.identity:
        return
    kind = kind_of(data)
    if kind != "image":
        raise GanlabError(f"augment={augment.name} transforms images, and data={data} holds {kind} data. Drop it "
                          "(augment=none) or train on images (data=mnist, fashion_mnist, cifar10, folder, ...).")
    if augment.adaptive and build_objective(cfg.objective).decision_boundary() is None:
        fits = [n for n, o in OBJECTIVES.items() if o().decision_boundary() is not None]
        raise GanlabError(f"augment={augment.name} tunes p from r_t = E[sign(D(real))], the share of real images D "
                          f"puts on the real side of where it cannot tell them apart; objective={cfg.objective.name} "
                          f"has no such output (its D is defined up to a shift or compares pairs). Use "
                          f"augment=diffaugment, or an objective with one: {', '.join(fits)}.")


def saved_config(saved: dict[str, Any], source: object) -> DictConfig:
    """The config a checkpoint holds (``source``, for the message), as this version reads it."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return check(OmegaConf.merge(schema_node(), saved), strict=False)
    except (OmegaConfBaseException, GanlabError, KeyError) as err:
        raise GanlabError(f"{source} holds a config this version of ganlab cannot read ({str(err).splitlines()[0]}). "
                          "Use the ganlab version that wrote it, or train anew.") from err


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
    return check(cfg)


def composition_error(err: Exception) -> GanlabError:
    """Hydra's message for a command line it cannot compose a config from, with OmegaConf's reason beneath it."""
    text = str(err).split("\nConfig search path:")[0].split("\nTo append to your config use")[0].strip()
    cause = str(err.__cause__ or "").strip()
    if cause and cause.splitlines()[0] not in text:
        text = f"{text}: {cause.splitlines()[0]}"
    hint = ("`ganlab train --cfg hydra <the same overrides>` prints the keys there are" if "hydra." in text else
            "`ganlab train --help` lists the groups and keys, `ganlab train --cfg job` prints the composed config")
    return GanlabError(f"{text.rstrip('.')}. {hint}.")


@contextlib.contextmanager
def hydra_errors_raised() -> Iterator[None]:
    """Hydra's errors come back here as exceptions (HYDRA_FULL_ERROR), to be said in one paragraph, where Hydra
    would print them itself, half as a traceback, and exit 1."""
    from hydra.errors import HydraException

    saved = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    except HydraException as err:  # composing the config (the task's own errors are not HydraExceptions)
        raise composition_error(err) from err
    finally:
        if saved is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved


# Hydra flags whose value is the next word on the command line
_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--config-dir", "-cd", "--experimental-rerun"}


def _fields(node: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(node)}


def _section(f: dataclasses.Field) -> type | None:
    """The dataclass of a section field (e.g. ``model``), or None for a plain key."""
    if f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
        return None
    made = f.default_factory()  # type: ignore[misc]
    return type(made) if dataclasses.is_dataclass(made) else None


def _groups(args: list[str]) -> set[str]:
    """The config groups (folders of YAML options) of ganlab's configs and of any ``--config-dir``."""
    dirs = [config_dir()] + [Path(args[i + 1]).expanduser() for i, a in enumerate(args[:-1]) if a in ("--config-dir", "-cd")]
    return {p.relative_to(d).as_posix() for d in dirs if d.is_dir() for p in d.rglob("*") if p.is_dir()}


CLOSED = ("ganlab's configs are closed: a key that nothing reads is an error, not a silent default. "
          "`ganlab train --help` lists the keys of the chosen parts, `ganlab train --cfg job` prints the config.")


def _check_key(key: str, names: list[str]) -> None:
    """A key outside the part sections: each of its names one of the schema's, down to a plain key."""
    node: type | None = TrainConfig
    for i, name in enumerate(names):
        fields = _fields(node)  # type: ignore[arg-type]
        if name not in fields:
            where = ".".join(names[:i]) or "the top level"
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f" Did you mean '{'.'.join([*names[:i], close[0]])}'?" if close else ""
            raise GanlabError(f"unknown config key '{key}'.{hint} Valid keys in {where}: {', '.join(fields)}. {CLOSED}")
        node = _section(fields[name])
        if node is None:
            break


def check_override_keys(args: list[str]) -> None:
    """Reject a misspelt or unknown ``key=value`` (with or without ``+``) before Hydra starts, naming the valid
    keys of its section: the schema is closed, so no key is ever accepted and ignored."""
    skip_next, groups = False, None
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg in _FLAGS_WITH_VALUE:
            skip_next = True
            continue
        key = arg.split("=", 1)[0].lstrip("+~")
        if arg.startswith("-") or ("=" not in arg and not arg.startswith("~")) or key.split(".")[0] == "hydra" \
                or key.startswith("hydra/"):
            continue
        if "." not in key and (arg.startswith(("+", "~")) or key not in _fields(TrainConfig)):
            groups = groups if groups is not None else _groups(args)
            if key in groups:
                continue  # a config group that is no key (hparams_search=...), or the user's own (+experiment=...)
        sections = registries()
        names = key.split(".")
        if names[0] in sections and len(names) > 1:
            base = _section(_fields(TrainConfig)[names[0]])
            wrong = key_error(names[0], names[1:], base, sections[names[0]])  # type: ignore[arg-type]
            if wrong:
                raise GanlabError(f"unknown config key '{key}'. {wrong} {CLOSED}")
        else:
            _check_key(key, names)
        if arg.startswith("~"):
            raise GanlabError(f"{arg} would remove '{key}', which every run needs: ganlab's configs are closed. Set it to "
                              f"another value instead ({key}=<value>; `ganlab train --cfg job` shows its default).")


def compose_app(args: list[str]) -> tuple[DictConfig, list[Path]] | None:
    """The config ``ganlab train <args>`` composes, Hydra's part included, and its config folders; None where a
    flag asks for more than composing (Hydra then answers itself)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    dirs, overrides, words = [config_dir()], [], iter(args)
    for arg in words:
        if arg in ("--config-dir", "-cd"):
            dirs.append(Path(next(words, ".")).expanduser().resolve())
        elif arg in _FLAGS_WITH_VALUE:
            return None
        elif not arg.startswith("-"):
            overrides.append(arg)
    if len(dirs) > 1:
        overrides.append(f"hydra.searchpath=[{','.join(f'file://{d}' for d in dirs[1:])}]")
    try:
        with initialize_config_dir(config_dir=str(dirs[0]), version_base=None):
            return compose(config_name="train", overrides=overrides, return_hydra_config=True), dirs
    except (HydraException, OmegaConfBaseException) as err:  # e.g. model=<no such preset>
        raise composition_error(err) from err


def app_help(args: list[str]) -> str | None:
    """The text of Hydra's app help (``ganlab train --help``): the config groups, the config a run would train
    with and each key of its chosen parts (value, default, range, what it does), in the template of ``hydra.help``. Hydra's own listing looks up every option of its internal groups too and takes
    a second; the groups here are the YAML files of the config folders. None where this cannot stand in for
    Hydra (a flag it does not know, a template asking for more): Hydra then answers itself."""
    from string import Template

    from omegaconf import OmegaConf, open_dict

    composed = compose_app(args)
    if composed is None:
        return None
    cfg, dirs = composed
    template = str(cfg.hydra.help.template)
    if "$FLAGS_HELP" in template or "$HYDRA_CONFIG_GROUPS" in template:
        return None
    groups: dict[str, set[str]] = {}
    for folder in dirs:
        for path in folder.rglob("*.yaml"):
            group = path.parent.relative_to(folder).as_posix()
            if group != "." and not group.startswith("hydra") and group != "model_data":  # follows model and data
                groups.setdefault(group, set()).add(path.stem)
    with open_dict(cfg):
        del cfg["hydra"]
    chosen, why = chosen_parts(cfg)
    closed = check(cfg)
    listing = "".join(f"{group}: {', '.join(sorted(options))}\n" for group, options in sorted(groups.items()))
    parts = describe(closed, registries(), chosen, why)
    text = f"{OmegaConf.to_yaml(closed)}\n== The chosen parts' keys (model=<preset> data=<set> ... picks them) ==\n{parts}"
    return Template(template).substitute(APP_CONFIG_GROUPS=listing, CONFIG=text)
