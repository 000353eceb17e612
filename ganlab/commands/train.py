"""``ganlab train``: the Hydra app that composes a config from ``configs/`` and trains one GAN per job."""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ganlab.commands.config import config_dir, register_schema, schema
from ganlab.commands.jobs import composition_error, hydra_errors_raised, prepare, run_job
from ganlab.commands.search import check_search, every_trial_failed, objective
from ganlab.commands.sweep import AUTO, finished_run, prepare_job, stopped
from ganlab.config import guard
from ganlab.errors import GanlabError
from ganlab.files import disk_errors

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
        if "." not in key and (arg.startswith(("+", "~")) or key not in _fields(schema())):
            groups = groups if groups is not None else _groups(args)
            if key in groups:
                continue  # a config group that is no key (hparams_search=...), or the user's own (+experiment=...)
        node: type | None = schema()
        path: list[str] = []
        for part in key.split("."):
            fields = _fields(node)  # type: ignore[arg-type]
            if part not in fields:
                where = ".".join(path) or "the top level"
                close = difflib.get_close_matches(part, list(fields), n=1)
                hint = f" Did you mean '{'.'.join([*path, close[0]])}'?" if close else ""
                raise GanlabError(
                    f"unknown config key '{key}'.{hint} Valid keys in {where}: {', '.join(fields)}. ganlab's "
                    "configs are closed: a key that nothing reads is an error, not a silent default. Print the "
                    "whole config with `ganlab train --cfg job`."
                )
            path.append(part)
            node = _section(fields[part])
            if node is None:
                break
        if arg.startswith("~"):
            raise GanlabError(f"{arg} would remove '{key}', which every run needs: ganlab's configs are closed. Set it to "
                              f"another value instead ({key}=<value>; `ganlab train --cfg job` shows its default).")


def _resume_args(args: list[str]) -> list[str]:
    """A resumed run writes into its own run dir, and keeps the config Hydra saved there untouched."""
    for arg in args:
        if arg.startswith("resume=") and arg != f"resume={AUTO}":
            run_dir = Path(arg.split("=", 1)[1]).expanduser()
            if not (run_dir / "checkpoints").is_dir() and not (run_dir / ".hydra" / "config.yaml").is_file():
                raise GanlabError(
                    f"cannot resume from '{run_dir}': it has no checkpoints/last.pt or step_*.pt. Pass the run "
                    "directory that `ganlab train` printed at its start (it holds checkpoints/ and the TensorBoard events)."
                )
            if "-m" in args or "--multirun" in args:
                raise GanlabError("resume=<run dir> continues one run; it cannot be combined with -m/--multirun.")
            return [f"hydra.run.dir={run_dir}", "hydra.output_subdir=null"]
    return []


def train(cfg: DictConfig, run_dir: Path, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, float]:
    """Train a run described by ``cfg`` in ``run_dir`` (or continue the one named by ``cfg.resume``, or with
    ``resume=auto`` the one ``run_dir`` holds); returns its final metrics (none without ``eval.at_end``)."""
    from ganlab.console import say
    from ganlab.files import writing
    from ganlab.runs.rundir import finished, write_status
    from ganlab.training.distributed import agree_run_dir, join, peer_errors
    from ganlab.training.loop import Trainer

    ranks = join()  # under torchrun: the process group of the run's processes (training/distributed.py)
    run_dir = agree_run_dir(ranks, run_dir)  # rank 0's, on every rank
    cfg, state, source = prepare(cfg, overrides, run_dir)
    if state is not None and (state["step"] > cfg.trainer.steps or state["step"] == cfg.trainer.steps
                              and finished(run_dir)):  # resume=auto found it done (else it finishes it)
        return finished_run(run_dir, state)
    if source:
        say(f"ganlab: resuming from {source}")
    if ranks.lead:
        run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(cfg, run_dir, resume_state=state, overrides=overrides)
    verb = "training" if not state else f"resuming at step {trainer.step}" if trainer.step < cfg.trainer.steps else \
        f"finishing the run stopped at its last step ({trainer.step})"
    say(f"ganlab: {verb} model={cfg.model.name} data={cfg.data.name} objective={cfg.objective.name} "
        f"penalty={cfg.penalty.name} on {trainer.device}{ranks.describe(cfg.trainer.batch_size)}, {cfg.trainer.steps} steps "
        f"-> {run_dir}")
    if ranks.lead:
        write_status(run_dir, "running", step=trainer.step)
    first_step, wall, cpu = trainer.step, time.perf_counter(), time.process_time()
    with writing(run_dir, "Fix that (the last checkpoint is kept) and go on with "
                          f"`ganlab train resume={run_dir} trainer.steps={cfg.trainer.steps}`."), \
            peer_errors(run_dir, cfg.trainer.steps):
        trainer.fit()
    if trainer.stopped_by is not None:  # its status stays "running": `ganlab report` shows it as stopped
        stopped(run_dir, trainer.step, cfg.trainer.steps, trainer.stopped_by, HydraConfig.get())
    if ranks.lead:  # the time this process trained and evaluated, from first_step (> 0 when it resumed)
        write_status(run_dir, "done", step=trainer.step, first_step=first_step,
                     seconds=round(time.perf_counter() - wall, 1), cpu_seconds=round(time.process_time() - cpu, 1))
    return trainer.final_metrics


@hydra.main(version_base=None, config_path=None, config_name="train")
def _task(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()
    prepare_job(cfg, hydra_cfg)
    # what a search (hydra/sweeper=optuna) optimises: the run's headline metric
    return run_job(lambda c, d, o: objective(train(c, d, o), hydra_cfg), cfg)


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
    """The text of Hydra's app help (``ganlab train --help``): the config groups and the composed config, in the
    template of ``hydra.help``. Hydra's own listing looks up every option of its internal groups too and takes
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
            if group != "." and not group.startswith("hydra"):
                groups.setdefault(group, set()).add(path.stem)
    with open_dict(cfg):
        del cfg["hydra"]
    listing = "".join(f"{group}: {', '.join(sorted(options))}\n" for group, options in sorted(groups.items()))
    return Template(template).substitute(APP_CONFIG_GROUPS=listing, CONFIG=OmegaConf.to_yaml(cfg))


def _job_dir() -> Path:
    """The run dir of the job Hydra was setting up (this process holds it), else the working folder."""
    from ganlab.runs.rundir import held

    return next(iter(held()), Path.cwd())


def main(args: list[str]) -> int:
    """Run the Hydra app with ``args`` as its command line (everything after ``ganlab train``)."""
    args = guard.command_line(args)
    check_override_keys(args)
    register_schema()
    if "--help" in args or "-h" in args:
        text = app_help([a for a in args if a not in ("--help", "-h")])
        if text is not None:
            print(text)
            return 0
    args = guard.hydra_quoted([*args, *_resume_args(args)])
    guard.check_command(args, compose_app)  # what the config makes run, and the names that become paths
    if os.environ.get("WORLD_SIZE", "1") != "1":  # torchrun's processes: only rank 0's Hydra writes
        from ganlab.training.distributed import hydra_args

        args = hydra_args(args)
    if "-m" in args or "--multirun" in args:
        args += check_search(args)
    # the configs live in the package (or the repository); --config-dir still adds a user's own folder
    args = ["--config-path", str(config_dir()), *args] if "--config-path" not in args else args
    sys.argv = ["ganlab train", *args]
    with disk_errors("Free some space (or choose a writable place with hydra.run.dir=<dir>) and run the command "
                     "again.", _job_dir), hydra_errors_raised(), every_trial_failed():  # Hydra's own writes too
        _task()
    return 0
