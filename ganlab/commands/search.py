"""Hyperparameter search with Hydra's Optuna sweeper (``hydra/sweeper=optuna``, ``hparams_search=<preset>``).

Each trial is a run; the Hydra task returns the run's headline metric (``ganlab.metrics.base.headlines``: what the metric families declare), which
the study minimises or maximises as the metric wants. A trial that fails (diverges, or ends with no finite
metric) raises its error: Hydra records the job as failed, and the sweeper (hydra-optuna-sweeper 1.3) tells the
study so, logs "Failed experiment: <the error>" and goes on while the failed share of a batch of trials stays
within ``hydra.sweeper.max_failure_rate``, which ganlab sets to 1.0 unless it is given. (Returning NaN instead
crashes that sweeper with optuna 2.10: it tells the study the trial failed *with* a value, which optuna refuses.)
Before any trial starts, :func:`check_search` refuses a search with nothing to optimise or over keys that do not
exist.
"""

from __future__ import annotations

import math
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig

from ganlab.errors import GanlabError


def is_search(hydra_cfg: DictConfig) -> bool:
    """Whether the sweeper uses the task's return value (Optuna's)."""
    return "optuna" in str(hydra_cfg.sweeper.get("_target_", ""))


def objective(metrics: dict[str, float], hydra_cfg: DictConfig) -> float | None:
    """What a run's Hydra task returns: its headline metric (None without one). In a search, a run without a
    finite one is a failed trial."""
    from ganlab.metrics.base import headline_for

    headline = headline_for(metrics)
    value = float(metrics[headline.name]) if headline else None
    if is_search(hydra_cfg) and (value is None or not math.isfinite(value)):
        raise GanlabError(f"the trial ended without a finite headline metric ({headline.name if headline else 'none'}"
                          f"={value}: e.g. reverse_kl is undefined when no sample lies near a mode).")
    return value


class FailedTrial(JobReturn):
    """A failed trial as the sweeper gets it: reading its value raises the trial's error, as Hydra's own JobReturn
    does, but without first writing Hydra's "Error executing job with overrides: [...]" line, so that each failed
    trial is the one line the sweeper writes: "Failed experiment: <the error>"."""

    @property
    def return_value(self) -> Any:
        if self.status == JobStatus.FAILED:
            raise self._return_value
        return self._return_value

    @return_value.setter
    def return_value(self, value: Any) -> None:
        self._return_value = value


def quiet_failure(hydra_cfg: DictConfig, job_return: JobReturn) -> None:
    """A search's failed trial reads as a :class:`FailedTrial` (Hydra's callback ``on_job_end``, see jobs.py)."""
    if is_search(hydra_cfg) and job_return.status == JobStatus.FAILED:
        job_return.__class__ = FailedTrial


def quiet_optuna() -> None:
    """Optuna's own lines through Hydra's log format (not in its colours, whose escape codes fill a log file),
    its warnings only."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()


def _direction(sweeper: DictConfig) -> Any:
    value = sweeper.get("direction")
    return getattr(value, "name", value)


def check_search(args: list[str]) -> list[str]:
    """Before a multirun starts: when its sweeper is Optuna, refuse a search over a key that does not exist, a
    search with no metric to optimise (``eval.at_end=false``) and a direction against the metric's; returns the
    arguments to add (``hydra.sweeper.max_failure_rate=1.0`` unless given: failed trials do not end the study)."""
    from ganlab.commands.compose import check_override_keys, compose_app
    from ganlab.config.guard import split_sweeps
    from ganlab.metrics.base import headlines

    plain, swept = split_sweeps(args)
    found = compose_app(plain)
    if found is None or not is_search(found[0].hydra):
        return []
    composed = found[0]
    sweeper = composed.hydra.sweeper
    params = dict(sweeper.get("params") or {})
    if not params and not swept:
        raise GanlabError("hydra/sweeper=optuna has no search space: give one on the command line, e.g. "
                          "'optim.lr=tag(log, interval(1e-5, 1e-2))', or choose a preset: hparams_search=gan_grid25.")
    try:
        check_override_keys([f"{k}={v}" for k, v in params.items()])
    except GanlabError as err:
        raise GanlabError(f"hydra.sweeper.params (the search space): {err}") from err
    if not composed.eval.at_end:
        raise GanlabError(
            "a search (hydra/sweeper=optuna) optimises each run's headline metric, measured by the evaluation at "
            "the end of the run; eval.at_end=false leaves nothing to optimise. Drop eval.at_end=false.")
    declared = headlines()
    lower = {h.lower_is_better for h in declared}
    wanted = ("minimize" if True in lower else "maximize") if len(lower) == 1 else None
    if wanted and _direction(sweeper) != wanted:
        names = ", ".join(h.name for h in declared)
        raise GanlabError(
            f"hydra.sweeper.direction={_direction(sweeper)}: the headline metric a search optimises ({names}, the "
            f"first a run measures) is {'lower' if wanted == 'minimize' else 'higher'} is better, so the search "
            f"must {wanted} it. Drop hydra.sweeper.direction.")
    quiet_optuna()
    given = any(a.startswith("hydra.sweeper.max_failure_rate=") for a in args)
    return [] if given or sweeper.max_failure_rate else ["hydra.sweeper.max_failure_rate=1.0"]
