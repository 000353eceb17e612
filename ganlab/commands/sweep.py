"""What a job of a sweep (``ganlab train -m``) does beyond a single run, whichever Hydra launcher started it:
its share of the CPU cores (joblib), ``resume=auto`` (a requeued or re-run job continues its own run dir), and
what a run stopped by a signal tells the user.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NoReturn

from omegaconf import DictConfig

from ganlab.config import to_container
from ganlab.console import say
from ganlab.errors import GanlabError

AUTO = "auto"
# keys a continued run may change: how long it trains, what it shows and evaluates (not what it trains)
FREE_ON_RESUME = ("resume", "trainer.steps", "trainer.progress", "eval.")


def launched_by(hydra_cfg: DictConfig, plugin: str) -> bool:
    """Whether this job's Hydra launcher is ``plugin``'s (``joblib``, ``submitit``: any option made from it)."""
    return plugin in str(hydra_cfg.launcher.get("_target_", ""))


def prepare_job(cfg: DictConfig, hydra_cfg: DictConfig) -> None:
    """A sweep job continues its own run dir when it holds one (``resume=auto`` unless ``resume`` is set), and a
    joblib job keeps to its share of the cores."""
    from hydra.types import RunMode

    if hydra_cfg.mode == RunMode.MULTIRUN and cfg.resume is None:
        cfg.resume = AUTO
    if launched_by(hydra_cfg, "joblib"):
        from ganlab.commands.stopping import record_in_worker

        record_in_worker()  # a signal in the job's setup stops it at its first step (not the worker)
        limit_threads(int(hydra_cfg.launcher.n_jobs))


def compared_overrides(overrides: list[str]) -> list[str]:
    """The command-line overrides a run shows in TensorBoard's HParams tab beside its main hyperparameters: a
    single run's own; a sweep job's swept ones only (``key=a,b``, a range, an Optuna search's ``params``), so
    that the keys every job shares do not crowd the columns shown at first (TensorBoard shows five)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return list(overrides)
    hydra_cfg = HydraConfig.get()
    swept = set(hydra_cfg.sweeper.get("params") or {})
    launched = Path(str(hydra_cfg.sweep.dir)) / "multirun.yaml"  # the sweep's command line, as Hydra saved it
    if launched.is_file():
        try:
            words = [str(w) for w in OmegaConf.load(launched).hydra.overrides.task]
            swept |= {o.key_or_group for o in OverridesParser.create().parse_overrides(words) if o.is_sweep_override()}
        except (HydraException, OmegaConfBaseException, ValueError):
            pass  # a file not of Hydra's making: the searched keys alone
    return [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in swept]


def limit_threads(n_jobs: int) -> int:
    """A joblib job's torch threads: cores // n_jobs (joblib's count of the cores, n_jobs < 0 read as joblib
    reads it), unless OMP_NUM_THREADS is set (by the user, or to that same share by joblib's process workers,
    which pass on the user's value), which torch then follows. Returns the threads the job runs with."""
    import joblib
    import torch

    cores = joblib.cpu_count()
    jobs = n_jobs if n_jobs > 0 else max(cores + 1 + n_jobs, 1)
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(cores // jobs, 1))
    threads = torch.get_num_threads()
    say(f"ganlab: joblib job, {threads} torch thread{'s' * (threads > 1)} ({cores} cores, n_jobs={n_jobs}"
        f"{', OMP_NUM_THREADS=' + os.environ['OMP_NUM_THREADS'] if 'OMP_NUM_THREADS' in os.environ else ''})")
    return threads


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def continued_state(cfg: DictConfig, run_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """``resume=auto``: the checkpoint to continue from (its path and state: the newest readable one) when
    ``run_dir`` holds one of this same run (the same config but for ``FREE_ON_RESUME``), None when it holds none
    (a new run starts)."""
    from ganlab.runs.checkpoint import newest_checkpoint

    cfg.resume = None
    folder = run_dir / "checkpoints"
    if not [*folder.glob("last.pt"), *folder.glob("step_*.pt")]:
        return None
    from ganlab.commands.compose import check, saved_config

    path, state, _ = newest_checkpoint(run_dir)
    here, there = _flat(to_container(check(cfg))), _flat(to_container(saved_config(state["config"], path)))
    differ = sorted((k for k in here.keys() | there.keys() if here.get(k) != there.get(k)
                     and not k.startswith(FREE_ON_RESUME)), key=lambda k: (not k.endswith(".name"), k))
    if differ:
        shown = "; ".join(f"{k}: {there.get(k, '(unset)')} there, {here.get(k, '(unset)')} here" for k in differ[:6])
        raise GanlabError(
            f"resume=auto: {run_dir} already holds another run ({shown}); resume=auto continues only the same "
            "run. Give this run a directory of its own (a new hydra.sweep.dir / hydra.run.dir), or continue that "
            f"run with its own config: ganlab train resume={run_dir}."
        )
    return path, state


def finished_run(run_dir: Path, state: dict[str, Any]) -> dict[str, float]:
    """A run that resume=auto finds at its last step is not trained again: its final metrics, as written."""
    say(f"ganlab: {run_dir} already holds this run, finished at step {state['step']}: nothing to train "
        "(resume=auto; pass a larger trainer.steps to train on).")
    path = run_dir / "metrics.json"
    try:
        metrics = json.loads(path.read_text()) if path.is_file() else {}
    except (json.JSONDecodeError, OSError, UnicodeDecodeError):
        metrics = {}
    if not isinstance(metrics, dict):  # not what ganlab writes: the run's metrics are unknown
        metrics = {}
    return {k: v for k, v in metrics.items() if k != "step" and isinstance(v, (int, float))}


def stopped(run_dir: Path, step: int, steps: int, signum: int, hydra_cfg: DictConfig) -> NoReturn:
    """Say where a run stopped by a signal stands and how to continue it, then exit (see training/signals.py);
    a sweep's job raises :class:`~ganlab.commands.stopping.JobStopped` instead (its status "stopped"), so that
    the sweep ends with its summary, unless submitit requeues it."""
    from hydra.types import RunMode

    from ganlab.commands.search import is_search
    from ganlab.commands.stopping import JobStopped, request_stop
    from ganlab.runs.rundir import write_status
    from ganlab.training.signals import exit_after, name

    job_returns = hydra_cfg.mode == RunMode.MULTIRUN
    if job_returns and not is_search(hydra_cfg):  # a search draws new trials when re-run
        how = (f"run the same sweep command again with hydra.sweep.dir={hydra_cfg.sweep.dir}: each job continues "
               "its own run dir (resume=auto)")
    else:
        how = f"ganlab train resume={run_dir}"
    if job_returns and launched_by(hydra_cfg, "submitit") and name(signum) == f"SIG{_submitit_signal()}":
        how = f"submitit requeues the job (within max_num_timeout) and it continues by itself; else {how}"
        job_returns = False
    elif job_returns and not launched_by(hydra_cfg, "submitit"):  # the sweep's other jobs: stop, or do not start
        request_stop(Path(str(hydra_cfg.sweep.dir)), signum)
    message = (f"{name(signum)}: stopped after step {step} of {steps} and saved "
               f"{run_dir / 'checkpoints' / 'last.pt'}. To continue: {how}.")
    say(f"ganlab: {message}")
    if job_returns:
        # the job returns: a job process that exits leaves a submitit sweep waiting 15 s for its result, then
        # failing with submitit's traceback, and a joblib sweep without its pool; this way the summary lists it
        write_status(run_dir, "stopped", step=step,
                     error=f"{name(signum)} after step {step} (last.pt saved): run the sweep again to continue it")
        raise JobStopped(f"{name(signum)} after step {step} (last.pt saved)")
    exit_after(signum)


def _submitit_signal() -> str:
    """The signal submitit asks SLURM for before a time limit or a preemption (its requeue signal)."""
    return os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
