"""``ganlab train``: the Hydra app that composes a config from ``configs/`` and trains one GAN per job."""

from __future__ import annotations

import dataclasses
import difflib
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ganlab.config import GanlabError, TrainConfig, config_dir, register_schema

# Hydra flags whose value is the next word on the command line
_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--config-dir", "-cd", "--experimental-rerun"}


def _schema_fields(node: type) -> dict[str, object]:
    return {f.name: f for f in dataclasses.fields(node)}


def check_override_keys(args: list[str]) -> None:
    """Reject a misspelt ``section.key=value`` before Hydra starts, naming the valid keys of that section."""
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg in _FLAGS_WITH_VALUE:
            skip_next = True
            continue
        if arg.startswith(("-", "+", "~", "hydra.")) or "=" not in arg:
            continue
        key = arg.split("=", 1)[0]
        if "." not in key:
            continue
        node: type = TrainConfig
        path: list[str] = []
        for part in key.split("."):
            fields = _schema_fields(node)
            if part not in fields:
                where = ".".join(path) or "the top level"
                close = difflib.get_close_matches(part, list(fields), n=1)
                hint = f" Did you mean '{'.'.join([*path, close[0]])}'?" if close else ""
                raise GanlabError(
                    f"unknown config key '{key}'.{hint} Valid keys in {where}: {', '.join(fields)}. "
                    "Print the whole config with `ganlab train --cfg job`; add a new key with '+key=value'."
                )
            path.append(part)
            field_type = fields[part].type  # type: ignore[attr-defined]
            resolved = getattr(sys.modules[TrainConfig.__module__], str(field_type), None)
            if not (isinstance(resolved, type) and dataclasses.is_dataclass(resolved)):
                break
            node = resolved


def _resume_args(args: list[str]) -> list[str]:
    """A resumed run writes into its own run dir, and keeps the config Hydra saved there untouched."""
    for arg in args:
        if arg.startswith("resume="):
            run_dir = Path(arg.split("=", 1)[1]).expanduser()
            if not (run_dir / "checkpoints" / "last.pt").is_file():
                raise GanlabError(
                    f"cannot resume from '{run_dir}': it has no checkpoints/last.pt. Pass the run directory "
                    "that `ganlab train` printed at its start (it holds checkpoints/ and the TensorBoard events)."
                )
            if "-m" in args or "--multirun" in args:
                raise GanlabError("resume=<run dir> continues one run; it cannot be combined with -m/--multirun.")
            return [f"hydra.run.dir={run_dir}", "hydra.output_subdir=null"]
    return []


@hydra.main(version_base=None, config_path=None, config_name="train")
def _task(cfg: DictConfig) -> None:
    from ganlab.training.trainer import train

    try:
        train(cfg, run_dir=Path(HydraConfig.get().runtime.output_dir), overrides=HydraConfig.get().overrides.task)
    except GanlabError as err:
        print(f"ganlab train: error: {err}", file=sys.stderr)
        sys.exit(2)


def app_help(args: list[str]) -> str | None:
    """The text of Hydra's app help (``ganlab train --help``): the config groups and the composed config, in the
    template of ``hydra.help``. Hydra's own listing looks up every option of its internal groups too and takes
    a second; the groups here are the YAML files of the config folders. None where this cannot stand in for
    Hydra (a flag it does not know, a template asking for more): Hydra then answers itself."""
    from string import Template

    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict
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
            cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as err:  # e.g. model=<no such preset>
        raise GanlabError(str(err).split("\nConfig search path:")[0]) from err
    template = str(cfg.hydra.help.template)
    if "$FLAGS_HELP" in template or "$HYDRA_CONFIG_GROUPS" in template:
        return None
    groups: dict[str, set[str]] = {}
    for folder in dirs:
        for path in folder.rglob("*.yaml"):
            group = path.parent.relative_to(folder).as_posix()
            if group != "." and not group.startswith("hydra"):
                groups.setdefault(group, set()).add(path.stem)
    with open_dict(cfg):
        del cfg["hydra"]
    listing = "".join(f"{group}: {', '.join(sorted(options))}\n" for group, options in sorted(groups.items()))
    return Template(template).substitute(APP_CONFIG_GROUPS=listing, CONFIG=OmegaConf.to_yaml(cfg))


def run_hydra(args: list[str]) -> int:
    """Run the Hydra app with ``args`` as its command line (everything after ``ganlab train``)."""
    check_override_keys(args)
    register_schema()
    if "--help" in args or "-h" in args:
        text = app_help([a for a in args if a not in ("--help", "-h")])
        if text is not None:
            print(text)
            return 0
    args = [*args, *_resume_args(args)]
    # the configs live in the package (or the repository); --config-dir still adds a user's own folder
    args = ["--config-path", str(config_dir()), *args] if "--config-path" not in args else args
    sys.argv = ["ganlab train", *args]
    _task()
    return 0
