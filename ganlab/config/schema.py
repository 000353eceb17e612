"""The configuration schema: typed sections whose every key has a documented range.

Hydra merges every YAML file of ``configs/`` into these dataclasses, so a misspelt key or a value of the wrong
type stops a run before it starts. The sections whose parts come from a registry (``model``, ``objective``,
``penalty``, ``data``, ``augment``) hold here the keys all their parts share; a part (a network family, an objective, ...)
declares the keys only it reads as a dataclass when it registers (see :mod:`ganlab.registry`), and
:mod:`ganlab.config.parts` gives the section exactly the chosen part's. Ranges live beside each key
(``field(metadata=...)`` through :func:`key`) and are checked in one pass by :mod:`ganlab.config.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING


def key(default: Any, *, lo: float | None = None, hi: float | None = None, above: float | None = None,
        below: float | None = None, choices: tuple[str, ...] | None = None, doc: str = "") -> Any:
    """A schema field with its valid range: ``lo <= v <= hi``, ``above < v < below``, or one of ``choices``."""
    meta = {k: v for k, v in dict(lo=lo, hi=hi, above=above, below=below, choices=choices, doc=doc).items()
            if v is not None and v != ""}
    return field(default=default, metadata=meta)


def range_text(meta: dict[str, Any] | Any) -> str:
    """A key's range (its ``metadata``, see :func:`key`) in words: ">= 1 and <= 4096", "one of a, b", or ""."""
    if "choices" in meta:
        return f"one of {', '.join(meta['choices'])}"
    lo, hi, above, below = (meta.get(k) for k in ("lo", "hi", "above", "below"))
    low = f">= {lo:g}" if lo is not None else f"> {above:g}" if above is not None else ""
    high = f"<= {hi:g}" if hi is not None else f"< {below:g}" if below is not None else ""
    return " and ".join(b for b in (low, high) if b)


class Norm(str, Enum):
    batch = "batch"
    layer = "layer"
    none = "none"


class Precision(str, Enum):
    auto = "auto"  # bf16 autocast where the device's matrix units make it faster (see training/device.py)
    fp32 = "fp32"
    bf16 = "bf16"


@dataclass
class ModelConfig:
    """Keys every network reads; each architecture adds its own (``model.hidden`` for MLPs, ...)."""

    name: str = MISSING
    arch: str = "auto"  # auto: the architecture that fits the data (MLP for 2-D points, conv for images)
    conditional: bool = False
    z_dim: int = key(100, lo=1, hi=65536)
    g_norm: Norm = Norm.none
    d_norm: Norm = Norm.none
    init_std: float | None = key(None, above=0, hi=10)  # N(0, std) weights as in DCGAN; None: PyTorch's default (by the real fan-in)
    spectral_norm: bool = False  # spectral normalisation of every D layer
    # the generator's exponential moving average (training/ema.py): its half-life in generated images (generator
    # steps x batch size); 0: off. Samples, evaluation, best.pt and `ganlab sample` / `eval` use the average.
    ema: float = key(0.0, lo=0, hi=1e12)
    ema_rampup: float = key(0.05, lo=0, hi=1)  # the half-life is at most this share of the images G has seen


@dataclass
class OptimConfig:
    name: str = key("adam", choices=("adam", "rmsprop"))
    lr: float = key(2e-4, above=0)  # generator learning rate (and D's unless lr_d is set)
    lr_d: float | None = key(None, above=0)
    beta1: float = key(0.5, lo=0, below=1)
    beta2: float = key(0.999, lo=0, below=1)
    # the rates over the generator steps: constant, or linear: decaying to 0 at step decay_steps, which is the
    # run's last step (trainer.steps, whatever length the run is given) unless set (training/optim.py)
    schedule: str = key("constant", choices=("constant", "linear"))
    decay_steps: int | None = key(None, lo=1)


@dataclass
class ObjectiveConfig:
    name: str = MISSING


@dataclass
class PenaltyConfig:
    name: str = "none"
    every: int = key(1, lo=1, hi=1_000_000)  # lazy regularisation (StyleGAN2): on every k-th D step, times k


@dataclass
class DataConfig:
    name: str = MISSING
    image_size: int | None = key(None, lo=4, hi=1024)  # None keeps the native size


@dataclass
class AugmentConfig:
    """Keys every augmentation reads (each adds its own: ``augment.policy``, ...)."""

    name: str = "none"


@dataclass
class TrainerConfig:
    steps: int = key(5000, lo=1, hi=100_000_000)  # generator updates
    batch_size: int = key(64, lo=1, hi=65536)
    n_critic: int = key(1, lo=1, hi=1000)  # D updates per G update
    log_every: int = key(50, lo=1)
    sample_every: int = key(500, lo=1)
    ckpt_every: int = key(1000, lo=1)
    num_samples: int = key(64, lo=1, hi=4096)  # fixed-noise grid size
    progress: bool = True
    compile: bool = False  # torch.compile G and D (the first step pays the compilation, logged as Speed/compile_s)
    # the step as CUDA graphs, one launch a step (training/graphs.py); auto: on CUDA, where it can be captured
    cuda_graphs: str = key("auto", choices=("auto", "true", "false"))
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch (SyncBatchNorm, CUDA only)


@dataclass
class EvalConfig:
    every: int = key(0, lo=0)  # evaluate every this many generator steps (0: off): Metrics/<name>, best.pt
    at_end: bool = True  # evaluate when training ends: metrics.json, and the HParams tab of a sweep
    n: int | None = key(None, lo=2, hi=1_000_000)  # samples per evaluation; None: the data set's own count
    inception_weights: str | None = None  # torch-fidelity's Inception-v3 weights file, for FID/KID/IS/PR
    cache_dir: str | None = None  # where digit classifiers are cached; None: <data.root>/ganlab (digits: ~/.cache)
    warn_diversity: float = key(0.1, lo=0, hi=1)  # warn when the fixed-noise batch's spread falls below this share
    warn_d_fake: float = key(0.02, lo=0, hi=1)  # probabilistic objectives: warn when D/fake stays below this
    warn_window: int = key(5, lo=1)  # ... for this many consecutive logs


DEVICES = ("auto", "cpu", "cuda", "mps")  # auto: cuda, then mps, then cpu


@dataclass
class DeviceConfig:
    type: str = key("auto", choices=DEVICES)
    precision: Precision = Precision.auto
    channels_last: bool | None = None  # networks that support it; None: on for CUDA and CPU


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    penalty: PenaltyConfig = field(default_factory=PenaltyConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    seed: int = key(0, lo=0, hi=2**63 - 1)
    # a run dir to continue from its last checkpoint; auto: this run's own dir if it holds one, else start (the
    # default of every job of a sweep, so that a requeued job or a re-run sweep command continues)
    resume: str | None = None
