"""The training loop: GAN steps, logged, sampled, evaluated and checkpointed (``Trainer.fit``)."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from ganlab.config import to_container
from ganlab.console import route_through, say, say_once
from ganlab.errors import GanlabError
from ganlab.metrics.base import Settings
from ganlab.runs import save_checkpoint
from ganlab.training import tags
from ganlab.training.build import Parts
from ganlab.training.monitor import HeldOutCheck, Monitor
from ganlab.training.optim import build_schedulers, current_rate, load_optimizer, optimizer_state
from ganlab.training.samples import SampleRenderer
from ganlab.training.signals import StopSignals
from ganlab.training.state import GROUPS, rng_state, set_rng_state
from ganlab.training.step import Stats
from ganlab.training.tensorboard import RunLogger, SilentLogger
from ganlab.training.window import Window


class Trainer(Parts):
    """One run: its parts (:class:`Parts`), its place (``step``), and the loop that moves it (:meth:`fit`)."""

    def __init__(self, cfg: DictConfig, run_dir: Path, *, resume_state: dict[str, Any] | None = None,
                 overrides: list[str] | tuple[str, ...] = ()):
        super().__init__(cfg)
        self.run_dir, self.ckpt_dir = run_dir, run_dir / "checkpoints"
        self.samples = SampleRenderer(self.generator, self.data, num_samples=cfg.trainer.num_samples, seed=cfg.seed,
                                      device=self.device)
        self.monitor = Monitor(cfg.eval, self.G, self.data, z=self.samples.z, y=self.samples.y,
                               probabilistic=self.objective.probabilistic, seed=cfg.seed, device=self.device,
                               total_steps=cfg.trainer.steps,
                               held_out=HeldOutCheck(self.D, self.data, self.objective, cfg.trainer.batch_size,
                                                     cfg.seed, self.device, self.gan_step.autocast))
        self.evaluator: Any = None  # built at the first evaluation (it may train a classifier)
        self.best: dict[str, Any] | None = None  # {"metric", "value", "step"} of checkpoints/best.pt
        self.final_metrics: dict[str, float] = {}
        self.overrides = list(overrides)
        self.step = 0
        self.stopped_by: int | None = None  # the signal that ended fit() before trainer.steps (see signals.py)
        self.window = Window(self.ranks.average)
        self.saved_window: tuple[int, dict[str, Any]] = (-1, {})  # the step and shared state of the last save
        if resume_state is not None:
            self.load_state(resume_state)
        self.schedulers = build_schedulers(cfg, (self.opt_g, self.opt_d), self.step)

    # ----------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "config": to_container(self.cfg),
            "data": self.spec.to_dict(),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": optimizer_state(self.opt_g),
            "opt_d": optimizer_state(self.opt_d),
            "gan_step": self.gan_step.state_dict(),
            "rng": rng_state(self.device),
            "best": self.best,
            **(self.ema.state_dict() if self.ema is not None else {}),
            "world_size": self.ranks.world,  # processes that trained it (trainer.batch_size is per process)
            # the ranks' average, as every rank computed it in save() (best.pt between saves: rank 0's share)
            "window": self.saved_window[1] if self.saved_window[0] == self.step else self.window.state_dict(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            load_optimizer(self.opt_g, state["opt_g"])
            load_optimizer(self.opt_d, state["opt_d"])
            if self.ema is not None:
                self.ema.load_state_dict(state, self.G)
        except (KeyError, RuntimeError, ValueError) as err:
            raise GanlabError(f"the checkpoint does not fit this run's networks ({err}).") from err
        set_rng_state(state["rng"], self.device)
        self.step = int(state["step"])
        # "step_fn": what checkpoints called it before the step could be a CUDA graph
        saved_step = state.get("gan_step", state.get("step_fn", {"d_steps": self.step * self.cfg.trainer.n_critic}))
        self.gan_step.load_state_dict(saved_step)
        self.best = state.get("best")
        saved = (int(state.get("world_size", 1)), int(state["config"]["trainer"]["batch_size"]))
        note = self.ranks.resume_note(*saved, self.cfg.trainer.batch_size)
        if note:
            say(note)
        self.window = Window(self.ranks.average, self.step)  # a checkpoint from before ganlab kept the window
        if "window" in state:
            self.window.load_state_dict(state["window"], self.device)
            self.saved_window = (self.step, state["window"])

    def save(self, periodic: bool) -> None:
        if self.saved_window[0] != self.step:  # every rank, at the loop's saves (evaluate()'s reuse it)
            self.saved_window = (self.step, self.window.shared_state())
        if not self.ranks.lead:
            return  # rank 0 writes the checkpoints of a data-parallel run
        state = self.state_dict()
        if periodic:
            save_checkpoint(state, self.ckpt_dir / f"step_{self.step:07d}.pt")
        save_checkpoint(state, self.ckpt_dir / "last.pt")

    # ----------------------------------------------------------------------------------------- loop
    def train_step(self, measure_grads: bool = False) -> Stats:
        """One generator step as the loop takes it: the GAN step (replayed as CUDA graphs where it can be), the
        schedules, the statistics window. Returns the gradient norms when measured (the step's other statistics
        wait in the window)."""
        stats, grads = (self.graphed or self.gan_step)(self.data, measure_grads=measure_grads)
        for sched in self.schedulers:
            sched.step()
        self.window.add(stats)
        return grads

    def fit(self) -> None:
        t = self.cfg.trainer
        lead = self.ranks.lead  # under torchrun, rank 0 alone logs, draws samples and evaluates
        # a resumed run drops what was logged after the window it continues (a partial window's last log too);
        # one that only finishes (stopped in its last evaluation) keeps all it logged
        resume_step = (self.step if self.step >= t.steps else self.window.start) + 1 if self.step else None
        logger = RunLogger(self.run_dir, resume_step=resume_step) if lead else SilentLogger()
        if self.step and lead:
            self.samples.relog(logger, self.run_dir / "samples", self.window.start, self.step, t.sample_every)
        batch_images = t.batch_size * t.n_critic * self.ranks.world  # the global batch's real images
        progress = _progress(t, self.step) if lead else None
        route_through(progress.write if progress is not None else None)
        tick, tick_step = time.perf_counter(), self.step
        first = self.step + 1
        stop = StopSignals().install()
        try:
            if lead and self.step >= t.steps and self.cfg.eval.at_end:  # finishing: the last evaluation
                self.evaluate(logger)
            while self.step < t.steps:
                self.step += 1
                log_now = self.step % t.log_every == 0 or self.step == t.steps
                grads = self.train_step(measure_grads=log_now)
                if t.compile and self.step == first:  # this call traced and compiled G and D
                    self._report_compile(logger, time.perf_counter() - tick)
                    if not log_now:  # the first window's speed leaves the compilation out
                        tick, tick_step = time.perf_counter(), self.step
                if log_now:
                    values = self.window.means()
                    self._check_finite(values)
                    now = time.perf_counter()
                    values.update({k: float(v) for k, v in grads.items()})
                    values[tags.LR_D], values[tags.LR_G] = current_rate(self.opt_d), current_rate(self.opt_g)
                    values[tags.SPEED] = batch_images * (self.step - tick_step) / max(now - tick, 1e-9)
                    values.update(self.monitor.measure(values))
                    logger.scalars(values, self.step)
                    for warning in self.monitor.warnings(values, self.step):
                        say(warning)
                    if self.step % t.log_every == 0:  # a partial last window stays in the checkpoint
                        self.window.clear(self.step)
                    tick, tick_step = now, self.step
                    if progress is not None:
                        progress.set_postfix_str(
                            f"D {values[tags.LOSS_D]:.3f}  G {values[tags.LOSS_G]:.3f}  {values[tags.SPEED]:.0f} img/s")
                if lead and (self.step % t.sample_every == 0 or self.step == t.steps):
                    picture = self.samples.render(step=self.step)
                    logger.image("Samples", picture, self.step)
                    self.samples.save(picture, self.run_dir / "samples" / f"step_{self.step:07d}.png")
                if self.step % t.ckpt_every == 0 or self.step == t.steps:
                    self._check_finite(self.window.means())  # never checkpoint weights gone non-finite since the log
                    self.save(periodic=self.step % t.ckpt_every == 0)
                e = self.cfg.eval
                if lead and ((e.every and self.step % e.every == 0) or (e.at_end and self.step == t.steps)):
                    self.evaluate(logger)
                if progress is not None:
                    progress.update(1)
                if self._stop_now(stop) and self.step < t.steps:  # a signal: end here, resumable
                    self._check_finite(self.window.means())
                    self.save(periodic=False)
                    # another process's signal (torchrun forwards them to all): stop as on a SIGTERM here
                    self.stopped_by = stop.received if stop.received is not None else signal.SIGTERM
                    break
            else:
                if lead:
                    logger.image("Samples/interpolation", self.samples.interpolation(self.step), self.step)
                logger.hparams(hparams(self.cfg, self.overrides), self.final_metrics, self.step)
        finally:
            stop.restore()
            route_through(None)
            if progress is not None:
                progress.close()
            logger.close()
        if self.stopped_by is None:
            say(f"ganlab: done, {self.step} generator steps. Samples: {self.run_dir / 'samples'}; "
                f"checkpoint: {self.ckpt_dir / 'last.pt'}")

    def _stop_now(self, stop: StopSignals) -> bool:
        """Whether a stop signal arrived: under torchrun, at any process (decided together, so that no process
        stops while another waits in an all-reduce)."""
        if self.ranks.world == 1:
            return stop.received is not None
        return bool(self.ranks.average(torch.tensor([float(stop.received is not None)])).item() > 0)

    def evaluate(self, logger: RunLogger) -> dict[str, float]:
        """Compute the metrics, log them as Metrics/<name>, keep checkpoints/best.pt by the headline metric;
        at the last step also write metrics.json. Never touches the training run's random stream."""
        from ganlab.metrics.evaluator import Evaluator, metrics_table, write_metrics_json

        if self.evaluator is None:
            e = self.cfg.eval
            settings = Settings(self.device, int(e.n or self.data.eval_samples), self.cfg.seed, e.inception_weights,
                                Path(e.cache_dir).expanduser() if e.cache_dir else None, say_once)  # once a sweep
            self.evaluator = Evaluator(self.data, settings)
        metrics = self.evaluator(self.generator)
        logger.scalars({f"{tags.METRICS}{k}": v for k, v in metrics.items()}, self.step)
        headline = self.evaluator.headline
        if headline and headline.better(metrics[headline.name], self.best["value"] if self.best else None):
            self.best = {"metric": headline.name, "value": metrics[headline.name], "step": self.step}
            save_checkpoint(self.state_dict(), self.ckpt_dir / "best.pt")
            write_metrics_json(self.ckpt_dir / "best.json", self.step, metrics)
            if self.step % self.cfg.trainer.ckpt_every == 0 or self.step == self.cfg.trainer.steps:
                self.save(periodic=False)  # last.pt records the new best as well
        if self.step == self.cfg.trainer.steps:
            self.final_metrics = metrics
            reference = self.evaluator.reference(metrics)
            write_metrics_json(self.run_dir / "metrics.json", self.step, metrics, *reference)
            say(metrics_table(metrics, self.step, *reference))
        return metrics

    def _report_compile(self, logger: RunLogger, seconds: float) -> None:
        say(f"ganlab: torch.compile of G and D took {seconds:.1f} s (the first step: traced, compiled and run)")
        logger.scalars({tags.COMPILE_S: seconds}, self.step)

    def _check_finite(self, values: dict[str, float]) -> None:
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if not bad:
            return
        last = self.ckpt_dir / "last.pt"
        kept = f"The last good checkpoint is kept at {last}." if last.exists() else "No checkpoint had been written yet."
        raise GanlabError(
            f"training diverged: {', '.join(f'{k}={v}' for k, v in bad.items())} around step {self.step}. "
            f"{kept} Try a lower learning rate (optim.lr), a gradient penalty (penalty=gp or r1), "
            "or device.precision=fp32; TensorBoard shows how the losses got there."
        )


# the HParams tab's columns of every run: TensorBoard shows 5 at first (those that differ between the runs first,
# then by name), so these five are what a run's model, data and optimiser are at a glance
HPARAMS = ["model.name", "data.name", "optim.lr", "trainer.batch_size", "trainer.n_critic"]


def hparams(cfg: DictConfig, overrides: list[str]) -> dict[str, Any]:
    """The run's main hyperparameters (:data:`HPARAMS`) and every key set on the command line (a sweep's swept
    values), for TensorBoard's HParams tab. A config group chosen on the command line (objective=hinge) shows as
    its name."""
    keys = list(HPARAMS)
    for o in overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        key = f"{key}.name" if key in GROUPS else key
        if key not in keys and not key.startswith(("hydra.", "resume")):
            keys.append(key)
    out: dict[str, Any] = {}
    for key in keys:
        value = OmegaConf.select(cfg, key, default=None)
        if value is None or isinstance(value, (DictConfig, list)) or OmegaConf.is_config(value):
            continue
        out[key] = value if isinstance(value, (bool, int, float, str)) else str(getattr(value, "value", value))
    return out


def _progress(t: DictConfig, start: int) -> Any:
    if not t.progress:
        return None
    from tqdm import tqdm

    return tqdm(total=t.steps, initial=start, desc="train", unit="step", dynamic_ncols=True, mininterval=0.5)
