"""``train(cfg)``: set up a run from its config, then loop GAN steps while logging, sampling and checkpointing."""

from __future__ import annotations

import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ganlab.config import GanlabError, TrainConfig, validate
from ganlab.data import load_dataset
from ganlab.logging import RunLogger
from ganlab.models import build_models
from ganlab.objectives import build_objective
from ganlab.objectives.penalties import build_penalty
from ganlab.training.checkpoint import load_checkpoint, save_checkpoint
from ganlab.training.device import autocast_dtype, resolve_device, use_channels_last
from ganlab.training.monitor import Monitor
from ganlab.training.samples import SampleRenderer
from ganlab.training.step import GANStep, compile_networks

GROUPS = ("model", "objective", "penalty", "data", "device")


def build_optimizers(cfg: DictConfig, G: nn.Module, D: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam or RMSprop for G and D; each updates all its tensors in one fused (or multi-tensor) kernel."""
    lr_d = cfg.lr_d if cfg.lr_d is not None else cfg.lr
    if cfg.name == "rmsprop":
        return (torch.optim.RMSprop(G.parameters(), lr=cfg.lr, foreach=True),
                torch.optim.RMSprop(D.parameters(), lr=lr_d, foreach=True))
    betas = (cfg.beta1, cfg.beta2)
    fused = {"fused": True} if next(G.parameters()).device.type in ("cpu", "cuda") else {"foreach": True}
    return (torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=betas, **fused),
            torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas, **fused))


def build_schedulers(cfg: DictConfig, *opts: torch.optim.Optimizer) -> list[torch.optim.lr_scheduler.LRScheduler]:
    """Linear decay to 0 over ``optim.decay_steps`` generator steps, or a constant rate."""
    horizon = cfg.decay_steps

    def factor(step: int) -> float:
        return max(0.0, 1.0 - step / horizon) if horizon else 1.0

    return [torch.optim.lr_scheduler.LambdaLR(opt, factor) for opt in opts]


def resumed_config(saved: dict[str, Any], overrides: list[str]) -> DictConfig:
    """The run's own config, with the command line's ``key=value`` overrides (e.g. trainer.steps) on top."""
    keys = [o for o in overrides if not o.startswith("resume=")]
    groups = [o for o in keys if o.split("=", 1)[0].lstrip("+~") in (*GROUPS, "seed")]
    if groups:
        raise GanlabError(
            f"a resumed run keeps its model, data, objective, penalty, device and seed; drop {', '.join(groups)} "
            "from the command line (key overrides such as trainer.steps=M are allowed), or start a new run."
        )
    cfg = OmegaConf.merge(OmegaConf.structured(TrainConfig), saved, OmegaConf.from_dotlist(keys))
    assert isinstance(cfg, DictConfig)
    return cfg


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def data_spec(data: Any) -> dict[str, Any]:
    """What a checkpoint needs to rebuild the networks without loading the data."""
    return {"name": data.name, "kind": data.kind, "shape": list(data.shape), "num_classes": data.num_classes}


def spec_namespace(spec: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(**{**spec, "shape": tuple(spec["shape"])})


class Trainer:
    """Holds everything one run needs; :meth:`fit` is the training loop."""

    def __init__(self, cfg: DictConfig, run_dir: Path, resume_state: dict[str, Any] | None = None,
                 overrides: list[str] | tuple[str, ...] = ()):
        validate(cfg)
        self.cfg, self.run_dir = cfg, run_dir
        torch.manual_seed(cfg.seed)
        self.device = resolve_device(cfg.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.data = load_dataset(cfg.data).to(self.device)
        G, D = build_models(cfg.model, self.data)
        is_conv = self.data.kind == "image" and G.__class__.__name__.startswith("Conv")
        channels_last = use_channels_last(cfg.device, self.device, is_conv)
        memory_format = torch.channels_last if channels_last else torch.preserve_format
        self.G, self.D = G.to(self.device, memory_format=memory_format), D.to(self.device, memory_format=memory_format)
        self.opt_g, self.opt_d = build_optimizers(cfg.optim, self.G, self.D)
        self.schedulers = build_schedulers(cfg.optim, self.opt_g, self.opt_d)
        self.objective = build_objective(cfg.objective)
        self.penalty = build_penalty(cfg.penalty)
        self.step_fn = GANStep(self.G, self.D, self.opt_g, self.opt_d, self.objective, self.penalty,
                               cfg.trainer.n_critic, cfg.trainer.batch_size,
                               autocast_dtype(cfg.device, self.device), channels_last,
                               compile_networks(self.G, self.D) if cfg.trainer.compile else None,
                               penalty_every=cfg.penalty.every)
        self.samples = SampleRenderer(self.G, self.data, cfg.trainer.num_samples, cfg.seed, self.device)
        self.monitor = Monitor(cfg.eval, self.objective.probabilistic, self.G, self.data, self.samples.z,
                               self.samples.y, cfg.seed, self.device, cfg.trainer.steps)
        self.evaluator: Any = None  # built at the first evaluation (it may train a classifier)
        self.best: dict[str, Any] | None = None  # {"metric", "value", "step"} of checkpoints/best.pt
        self.final_metrics: dict[str, float] = {}
        self.overrides = list(overrides)
        self.step = 0
        if resume_state is not None:
            self.load_state(resume_state)
        self.ckpt_dir = run_dir / "checkpoints"

    # ----------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "config": OmegaConf.to_container(self.cfg, resolve=True, enum_to_str=True),
            "data": data_spec(self.data),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "schedulers": [s.state_dict() for s in self.schedulers],
            "step_fn": self.step_fn.state_dict(),
            "rng": _rng_state(self.device),
            "best": self.best,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            for sched, s in zip(self.schedulers, state["schedulers"], strict=True):
                sched.load_state_dict(s)
        except (KeyError, RuntimeError, ValueError) as err:
            raise GanlabError(f"the checkpoint does not fit this run's networks ({err}).") from err
        # the optimiser state carries the checkpoint's rates: take the config's, so a resume can change optim.lr
        o = self.cfg.optim
        for sched, base in zip(self.schedulers, (o.lr, o.lr if o.lr_d is None else o.lr_d), strict=True):
            sched.base_lrs = [base] * len(sched.base_lrs)
            for group, rule in zip(sched.optimizer.param_groups, sched.lr_lambdas, strict=True):
                group["initial_lr"], group["lr"] = base, base * rule(sched.last_epoch)
        _set_rng_state(state["rng"], self.device)
        self.step = int(state["step"])
        self.step_fn.load_state_dict(state.get("step_fn", {"d_steps": self.step * self.cfg.trainer.n_critic}))
        self.best = state.get("best")

    def save(self, periodic: bool) -> None:
        state = self.state_dict()
        if periodic:
            save_checkpoint(state, self.ckpt_dir / f"step_{self.step:07d}.pt")
        save_checkpoint(state, self.ckpt_dir / "last.pt")

    # ----------------------------------------------------------------------------------------- loop
    def fit(self) -> None:
        t = self.cfg.trainer
        logger = RunLogger(self.run_dir, resume_step=self.step + 1 if self.step else None)
        names = self.step_fn.stat_names
        acc, count = torch.zeros(len(names), device=self.device), 0
        batch_images = t.batch_size * t.n_critic
        progress = _progress(t, self.step)
        tick, tick_step = time.perf_counter(), self.step
        first = self.step + 1
        try:
            while self.step < t.steps:
                self.step += 1
                log_now = self.step % t.log_every == 0 or self.step == t.steps
                stats, grads = self.step_fn(self.data, measure_grads=log_now)
                if t.compile and self.step == first:  # this call traced and compiled G and D
                    self._report_compile(logger, time.perf_counter() - tick)
                    if not log_now:  # the first window's speed leaves the compilation out
                        tick, tick_step = time.perf_counter(), self.step
                for sched in self.schedulers:
                    sched.step()
                acc += stats
                count += 1
                if log_now:
                    values = dict(zip(names, (acc / count).tolist(), strict=True))
                    self._check_finite(values)
                    now = time.perf_counter()
                    values["GradNorm/D"], values["GradNorm/G"] = grads.tolist()
                    values["LR/D"], values["LR/G"] = self.opt_d.param_groups[0]["lr"], self.opt_g.param_groups[0]["lr"]
                    values["Speed/img_per_s"] = batch_images * (self.step - tick_step) / max(now - tick, 1e-9)
                    values.update(self.monitor.measure(values))
                    logger.scalars(values, self.step)
                    for warning in self.monitor.warnings(values, self.step):
                        _say(warning, progress)
                    acc.zero_()
                    count, tick, tick_step = 0, now, self.step
                    if progress is not None:
                        progress.set_postfix_str(
                            f"D {values['Loss/D']:.3f}  G {values['Loss/G']:.3f}  {values['Speed/img_per_s']:.0f} img/s")
                if self.step % t.sample_every == 0 or self.step == t.steps:
                    picture = self.samples.render(step=self.step)
                    logger.image("Samples", picture, self.step)
                    self.samples.save(picture, self.run_dir / "samples" / f"step_{self.step:07d}.png")
                e = self.cfg.eval
                if (e.every and self.step % e.every == 0) or (e.at_end and self.step == t.steps):
                    self.evaluate(logger, progress)
                if self.step % t.ckpt_every == 0 or self.step == t.steps:
                    if count:  # never checkpoint weights that have gone non-finite since the last log
                        self._check_finite(dict(zip(names, (acc / count).tolist(), strict=True)))
                    self.save(periodic=self.step % t.ckpt_every == 0)
                if progress is not None:
                    progress.update(1)
            logger.hparams(hparams(self.cfg, self.overrides), {f"Metrics/{k}": v for k, v in self.final_metrics.items()})
        finally:
            if progress is not None:
                progress.close()
            logger.close()
        print(f"ganlab: done, {self.step} generator steps. Samples: {self.run_dir / 'samples'}; "
              f"checkpoint: {self.ckpt_dir / 'last.pt'}")

    def evaluate(self, logger: RunLogger, progress: Any = None) -> dict[str, float]:
        """Compute the metrics, log them as Metrics/<name>, keep checkpoints/best.pt by the headline metric;
        at the last step also write metrics.json. Never touches the training run's random stream."""
        from ganlab.metrics.evaluator import Evaluator, metrics_table, write_metrics_json

        if self.evaluator is None:
            e = self.cfg.eval
            self.evaluator = Evaluator(self.data, self.cfg.data, self.device, n=e.n, inception_weights=e.inception_weights,
                                       cache_dir=e.cache_dir, seed=self.cfg.seed, log=lambda m: _say(m, progress))
        metrics = self.evaluator(self.G)
        logger.scalars({f"Metrics/{k}": v for k, v in metrics.items()}, self.step)
        headline = self.evaluator.headline
        if headline and headline.better(metrics[headline.name], self.best["value"] if self.best else None):
            self.best = {"metric": headline.name, "value": metrics[headline.name], "step": self.step}
            save_checkpoint(self.state_dict(), self.ckpt_dir / "best.pt")
            write_metrics_json(self.ckpt_dir / "best.json", self.step, metrics)
        if self.step == self.cfg.trainer.steps:
            self.final_metrics = metrics
            write_metrics_json(self.run_dir / "metrics.json", self.step, metrics)
            _say(metrics_table(metrics, self.step), progress)
        return metrics

    def _report_compile(self, logger: RunLogger, seconds: float) -> None:
        print(f"ganlab: torch.compile of G and D took {seconds:.1f} s (the first step: traced, compiled and run)")
        logger.scalars({"Speed/compile_s": seconds}, self.step)

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


def _say(message: str, progress: Any) -> None:
    """Print a line to the console without breaking the progress bar."""
    if progress is not None:
        progress.write(message)
    else:
        print(message, flush=True)


def hparams(cfg: DictConfig, overrides: list[str]) -> dict[str, Any]:
    """The run's main hyperparameters and every key set on the command line (a sweep's swept values), for
    TensorBoard's HParams tab. A config group chosen on the command line (model=wgan) shows as its name."""
    keys = ["model.name", "objective.name", "penalty.name", "data.name", "optim.lr", "trainer.n_critic",
            "trainer.batch_size", "seed"]
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


def train(cfg: DictConfig, run_dir: Path, overrides: list[str] | tuple[str, ...] = ()) -> Trainer:
    """Train a run described by ``cfg`` in ``run_dir`` (or continue the one named by ``cfg.resume``)."""
    state = None
    if cfg.resume:
        state = load_checkpoint(Path(cfg.resume) / "checkpoints" / "last.pt")
        cfg = resumed_config(state["config"], list(overrides))
        cfg.resume = None
        if cfg.trainer.steps <= state["step"]:
            raise GanlabError(
                f"the run is already at step {state['step']}; pass trainer.steps=<M> with M > {state['step']} to go on."
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(cfg, run_dir, resume_state=state, overrides=overrides)
    verb = f"resuming at step {trainer.step}" if state else "training"
    print(f"ganlab: {verb} model={cfg.model.name} data={cfg.data.name} objective={cfg.objective.name} "
          f"penalty={cfg.penalty.name} on {trainer.device}, {cfg.trainer.steps} steps -> {run_dir}")
    trainer.fit()
    return trainer
