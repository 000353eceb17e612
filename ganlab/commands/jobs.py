"""``ganlab train`` as Hydra jobs: a run is validated before its dir exists, one process holds a run dir, each
job records its status, and a sweep outlives its failed jobs.

Hydra calls :class:`Jobs` (``hydra.callbacks`` in ``configs/train.yaml``) around the jobs, and each job's task
runs through :func:`run_job`. Everything a job records is in its own dir (``status.json``, see
:mod:`ganlab.runs.rundir`), so it holds when a launcher runs the jobs in other processes or on other machines:
the sweep's summary is read back from the job dirs at its end.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from ganlab.commands import stopping
from ganlab.commands.compose import check, check_model_data, saved_config
from ganlab.commands.search import is_search, quiet_failure
from ganlab.commands.sweep import AUTO, continued_state
from ganlab.config import to_container
from ganlab.console import error, say, warn
from ganlab.errors import GanlabError
from ganlab.files import refuse_links, writing
from ganlab.runs.rundir import (
    STATUS,
    claim_dir,
    finished,
    lock_run_dir,
    read_status,
    release_run_dir,
    run_contents,
    sweep_links,
    unsaved_config,
    write_status,
)
from ganlab.training.distributed import launched

_CREATED: set[Path] = set()  # run dirs this process made for a run (removed again if it is refused)


@contextlib.contextmanager
def exit_on_error() -> Iterator[None]:
    """Where Hydra would print a GanlabError with a traceback (or a callback's as a warning): one paragraph, exit 2."""
    try:
        yield
    except GanlabError as err:
        error(f"ganlab train: error: {err}")
        raise SystemExit(2) from None


def prepare(cfg: DictConfig, overrides: list[str] | tuple[str, ...],
            run_dir: Path | None = None) -> tuple[DictConfig, dict[str, Any] | None, str]:
    """The config a run trains with and, when it resumes, the checkpoint it continues from (and a line saying
    which): everything a run is refused for that can be decided before it is built. ``resume=auto`` continues
    the run ``run_dir`` holds, if any (see :func:`ganlab.commands.sweep.continued_state`)."""
    from ganlab.metrics.inception import find_weights
    from ganlab.runs.checkpoint import newest_checkpoint
    from ganlab.training.optim import resumed_schedule
    from ganlab.training.state import resumed_config

    if HydraConfig.initialized():
        check_model_data(HydraConfig.get().runtime.choices)
    state, source = None, ""
    if cfg.resume == AUTO:
        found = continued_state(cfg, run_dir) if run_dir is not None else None
        cfg.resume = None
        if found is not None:
            path, state = found
            source = str(path)
    elif cfg.resume and (first := unsaved_config(Path(cfg.resume))) is not None:  # stopped before any checkpoint
        source = f"{cfg.resume} (stopped before its first checkpoint: starting it again from step 0)"
        saved = saved_config(first, cfg.resume)
        cfg = resumed_config(OmegaConf.get_type(saved), to_container(saved), list(overrides))
        cfg.resume = None
    elif cfg.resume:
        path, state, notes = newest_checkpoint(Path(cfg.resume))
        source = f"{path}" + (f" ({'; '.join(notes)})" if notes else "")
        unfinished = not finished(Path(cfg.resume))  # stopped in its last evaluation: finishing it is allowed
        saved = saved_config(state["config"], path)
        cfg = resumed_config(OmegaConf.get_type(saved), to_container(saved), list(overrides))
        cfg.resume = None
        if cfg.trainer.steps < state["step"] + (not unfinished):
            raise GanlabError(
                f"the run is already at step {state['step']}; pass trainer.steps=<M> with M > {state['step']} to go on."
            )
    cfg = check(cfg)
    if state is not None:  # where resuming moves the decay's end, say so (a rate left at 0 is refused)
        note = resumed_schedule(state["config"], cfg, state["step"])
        source = f"{source}\n{note}" if note else source
    if cfg.eval.inception_weights:
        find_weights(cfg.eval.inception_weights)  # a file that is not the weights is refused now, not at the end
    return cfg, state, source


def _explicit(config: DictConfig, key: str) -> bool:
    return any(str(o).split("=", 1)[0].lstrip("+~") == key for o in config.hydra.overrides.hydra)


def open_run_dir(config: DictConfig) -> Path:
    """Before Hydra makes a single run's dir: validate the run, then take its dir (a new one by default; a
    given one must not hold another run unless resuming) and hold it for this process."""
    HydraConfig.instance().set_config(config)  # for ${hydra:...} in a user's config
    task_cfg = copy.deepcopy(config)
    with read_write(task_cfg), open_dict(task_cfg):
        del task_cfg["hydra"]
    run_dir = Path(str(config.hydra.run.dir))
    prepare(task_cfg, list(config.hydra.overrides.task), run_dir)
    if not launched().lead:
        return run_dir  # under torchrun, rank 0 takes the run dir (the others write nothing)
    if not config.resume and not _explicit(config, "hydra.run.dir"):
        run_dir = claim_dir(run_dir)
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.run.dir = str(run_dir)
        _CREATED.add(run_dir.resolve())
        lock_run_dir(run_dir)
        return run_dir
    existed = run_dir.exists()
    lock_run_dir(run_dir)  # a dir another process runs in is refused, naming it
    if not existed:
        _CREATED.add(run_dir.resolve())
    held = run_contents(run_dir)
    if held and not config.resume:
        release_run_dir(run_dir)
        raise GanlabError(
            f"hydra.run.dir={run_dir} already holds a run ({', '.join(held)}); a second run there would overwrite its "
            f"checkpoints and mix their logs. Continue it with `ganlab train resume={run_dir} trainer.steps=<M>`, "
            "or leave hydra.run.dir out for a new dir."
        )
    return run_dir


def open_sweep_dir(config: DictConfig) -> None:
    """A sweep's dir: a new one by default (``<dir>-2`` when a sweep started the same second). A given one may
    hold the jobs of an earlier start of the same sweep: each job continues its own run (``resume=auto``)."""
    sweep = Path(str(config.hydra.sweep.dir))
    if _explicit(config, "hydra.sweep.dir"):
        refuse_links(sweep_links(sweep))
        with writing(sweep, "Choose a writable place with hydra.sweep.dir=<dir>."):
            sweep.mkdir(parents=True, exist_ok=True)
        return
    claimed = claim_dir(sweep)
    if claimed != sweep:  # the jobs compose their config from the overrides: the claimed dir must be one
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.sweep.dir = str(claimed)
            config.hydra.overrides.hydra.append(f"hydra.sweep.dir={claimed}")


def _forget(run_dir: Path) -> None:
    """Remove a run dir this process made for a run that was refused before it wrote anything."""
    own = [m for m in run_contents(run_dir) if m not in (".hydra/config.yaml", STATUS)]
    if run_dir.resolve() in _CREATED and not own:
        shutil.rmtree(run_dir, ignore_errors=True)


def _started_here(run_dir: Path) -> bool:
    with contextlib.suppress(GanlabError):
        status = read_status(run_dir)
        return status.get("status") == "running" and status.get("pid") == os.getpid()
    return False


def run_job(train: Callable[[DictConfig, Path, list[str]], Any], cfg: DictConfig) -> Any:
    """One Hydra job: ``train(cfg, run_dir, overrides)`` in the job's dir, held by this process; returns what
    ``train`` returns. A single run's error ends the command (exit 2; a refused run leaves no dir behind). A
    sweep's job records its error in its dir's status.json and returns None, so the other jobs run (a search's
    trial raises it: the study counts the trial as failed); :class:`Jobs` sums them up at the end."""
    hydra = HydraConfig.get()
    run_dir, overrides = Path(hydra.runtime.output_dir), list(hydra.overrides.task)
    sweep = hydra.mode == RunMode.MULTIRUN
    if not launched().lead:  # under torchrun: rank 0 holds the run dir and records its status
        with exit_on_error(), contextlib.suppress(stopping.JobStopped):  # a submitit job's other tasks stop too
            return train(cfg, run_dir, overrides)
        return None
    job = f" (job {run_dir.name})" if sweep else ""
    try:
        lock_run_dir(run_dir)
    except GanlabError as err:  # another process runs there: its dir is left alone
        error(f"ganlab train: error: {err}{job}")
        if not sweep:
            raise SystemExit(2) from None
        return None
    try:
        if sweep:
            stopping.not_started(Path(str(hydra.sweep.dir)))
        return train(cfg, run_dir, overrides)
    except stopping.JobStopped as err:  # a signal stopped the sweep: this job saved and stopped, or did not start
        stopping.note_stopped(run_dir, err)
        if is_search(hydra):
            raise  # a failed trial
        return None
    except GanlabError as err:
        if sweep or _started_here(run_dir):
            with contextlib.suppress(GanlabError):  # a full disk: the error that says so matters more
                write_status(run_dir, "failed", error=str(err))
        else:
            release_run_dir(run_dir)
            _forget(run_dir)
        if sweep and is_search(hydra):
            raise  # a failed trial: the study records it and goes on (see commands/search.py)
        error(f"ganlab train: error: {err}{job}")
        if not sweep:
            raise SystemExit(2) from None
        return None
    except Exception as err:  # a bug: its traceback is printed and kept, and the sweep goes on
        if not sweep:
            raise
        traceback.print_exc()
        write_status(run_dir, "failed", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
        return None
    finally:
        release_run_dir(run_dir)


def sweep_summary(sweep: Path) -> tuple[str, bool]:
    """A sweep's outcome read from its job dirs: one line per job that did not finish, and whether all did."""
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and (p / ".hydra").is_dir()) if sweep.is_dir() else []
    lines, done = [], 0
    for job in jobs:
        try:
            status = read_status(job)
        except GanlabError as err:
            status = {"status": "unknown", "error": str(err)}
        state = status.get("status", "no status")
        if state == "done":
            done += 1
            continue
        error = str(status.get("error", "")).splitlines()[0][:160] if status.get("error") else ""
        lines.append(f"  {job.name}: {state}" + (f": {error}" if error else ""))
    head = f"ganlab: sweep {sweep}: {done} of {len(jobs)} jobs done"
    head += f", {len(jobs) - done} did not finish:" if lines else "."
    return "\n".join([head, *lines, f"Compare them: ganlab report {sweep}"]), not lines


class Jobs(Callback):
    """Hydra's callback for ganlab's jobs (configured under ``hydra.callbacks`` in configs/train.yaml)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        with exit_on_error():
            open_run_dir(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        with exit_on_error():
            open_sweep_dir(config)
        stopping.start_sweep(Path(str(config.hydra.sweep.dir)))  # a signal to the sweep stops its jobs (commands/stopping.py)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        quiet_failure(config.hydra, job_return)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        signum = stopping.end_sweep()
        summary, ok = sweep_summary(Path(str(config.hydra.sweep.dir)))
        (say if ok else warn)(summary)
        if signum is not None:
            stopping.exit_stopped(Path(str(config.hydra.sweep.dir)), signum)
        if not ok and not is_search(config.hydra):  # a search's failed trials are part of its answer
            raise SystemExit(2)


@contextlib.contextmanager
def every_trial_failed() -> Iterator[None]:
    """A search whose every trial failed ends with its summary and one paragraph: the Optuna sweeper asks the
    study for its best trial at the end, which optuna answers with a ValueError when none completed."""
    try:
        yield
    except ValueError as err:
        sweep = stopping.running_sweep()
        if sweep is None or "No trials are completed" not in str(err):
            raise
        signum = stopping.end_sweep()
        warn(sweep_summary(sweep)[0])
        if signum is not None:  # stopped by a signal before any trial completed
            stopping.exit_stopped(sweep, signum)
        raise GanlabError("no trial of the search completed (each job's error is above), so the study has no best "
                          "trial. Fix what they say (or widen the search space) and run the search again.") from err
