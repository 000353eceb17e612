"""``ganlab train``: the Hydra app that composes a config from ``configs/`` and trains one GAN per job."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ganlab.commands.compose import (
    app_help,
    check_override_keys,
    compose_app,
    config_dir,
    hydra_errors_raised,
    register_schema,
)
from ganlab.commands.jobs import every_trial_failed, prepare, run_job
from ganlab.commands.search import check_search, objective
from ganlab.commands.sweep import AUTO, compared_overrides, finished_run, prepare_job, stopped
from ganlab.config import guard
from ganlab.errors import GanlabError
from ganlab.files import disk_errors


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
    trainer = Trainer(cfg, run_dir, resume_state=state, overrides=compared_overrides(list(overrides)))
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


def _job_dir() -> Path:
    """The run dir of the job Hydra was setting up (this process holds it), else the working folder."""
    from ganlab.runs.rundir import held

    return next(iter(held()), Path.cwd())


def main(args: list[str]) -> int:
    """Run the Hydra app with ``args`` as its command line (everything after ``ganlab train``)."""
    completing = "-sc" in args or "--shell-completion" in args  # Hydra's (see ganlab/cli.py): no overrides to check
    if not completing:
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
    sys.argv = ["ganlab" if completing else "ganlab train", *args]  # completion: the command the shell completes
    with disk_errors("Free some space (or choose a writable place with hydra.run.dir=<dir>) and run the command "
                     "again.", _job_dir), hydra_errors_raised(), every_trial_failed():  # Hydra's own writes too
        _task()
    return 0
