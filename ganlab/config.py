"""The configuration schema.

Every YAML file in ``configs/`` is merged into these dataclasses when Hydra composes a run, so a misspelt
key or a value of the wrong type stops the run before it starts, with Hydra's message naming the key.
Checks that a type cannot express (a positive batch size, a known objective name) live in :func:`validate`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from omegaconf import MISSING, DictConfig


class GanlabError(Exception):
    """An error in what the user asked for: printed as one paragraph, without a traceback."""


class Arch(str, Enum):
    auto = "auto"  # MLP for 2-D points, convolutional for images
    mlp = "mlp"
    conv = "conv"


class Norm(str, Enum):
    batch = "batch"
    layer = "layer"
    none = "none"


class Precision(str, Enum):
    auto = "auto"  # bf16 autocast on CUDA, fp32 elsewhere
    fp32 = "fp32"
    bf16 = "bf16"


@dataclass
class ModelConfig:
    name: str = MISSING
    arch: Arch = Arch.auto
    conditional: bool = False
    z_dim: int = 100
    hidden: int = 256  # MLP width
    layers: int = 2  # MLP hidden layers
    channels: int = 64  # conv base width (DCGAN's ngf / ndf)
    g_norm: Norm = Norm.none
    d_norm: Norm = Norm.none
    d_dropout: float = 0.0
    init_std: float | None = None  # N(0, std) weights as in DCGAN; None keeps PyTorch's default init
    spectral_norm: bool = False  # spectral normalisation of every D layer


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | rmsprop
    lr: float = 2e-4  # generator learning rate (and D's unless lr_d is set)
    lr_d: float | None = None
    beta1: float = 0.5
    beta2: float = 0.999
    # linear decay to 0 over this many generator steps; its own horizon, so resuming with more steps keeps it
    decay_steps: int | None = None


@dataclass
class ObjectiveConfig:
    name: str = MISSING
    # f-GAN objectives only: G maximises E_Q[g_f(D(G(z)))] (true, the paper's choice) instead of minimising
    # -E_Q[f*(g_f(D(G(z))))]; None for the others (minimax and non_saturating are separate objectives)
    non_saturating: bool | None = None


@dataclass
class PenaltyConfig:
    name: str = "none"  # none | clip | gp | gp_one_sided | r1 | r2
    weight: float = 10.0  # lambda of a gradient penalty, gamma of R1 / R2
    clip: float = 0.01  # weight-clipping bound
    every: int = 1  # lazy regularisation (StyleGAN2): a gradient penalty on every k-th D step only, times k


@dataclass
class DataConfig:
    name: str = MISSING
    root: str = "data"  # where mnist / fashion_mnist / cifar10 files live (torchvision's layout)
    path: str | None = None  # the image folder, for data=folder
    image_size: int | None = None  # None keeps the native size
    channels: int | None = None  # folder: 1 (grayscale) or 3 (RGB)
    download: bool = False  # fetch missing files when the network allows
    std: float = 0.0  # 2-D mixtures: standard deviation of each Gaussian


@dataclass
class TrainerConfig:
    steps: int = 5000  # generator updates
    batch_size: int = 64
    n_critic: int = 1  # D updates per G update
    log_every: int = 50
    sample_every: int = 500
    ckpt_every: int = 1000
    num_samples: int = 64  # fixed-noise grid size
    progress: bool = True
    compile: bool = False  # torch.compile G and D (the first step pays the compilation, logged as Speed/compile_s)


@dataclass
class EvalConfig:
    every: int = 0  # evaluate every this many generator steps (0: off): Metrics/<name>, checkpoints/best.pt
    at_end: bool = True  # evaluate when training ends: metrics.json, and the HParams tab of a sweep
    n: int | None = None  # samples per evaluation; None: 2,500 for 2-D toys, 10,000 images, 26,000 stacked_mnist
    inception_weights: str | None = None  # torch-fidelity's Inception-v3 weights file, for FID/KID/IS/PR
    cache_dir: str | None = None  # where digit classifiers are cached; None: <data.root>/ganlab (digits: ~/.cache)
    warn_diversity: float = 0.1  # warn when the fixed-noise batch's spread falls below this share of real data's
    warn_d_fake: float = 0.02  # probabilistic objectives: warn when D/fake stays below this (D wins outright)
    warn_window: int = 5  # ... for this many consecutive logs


@dataclass
class DeviceConfig:
    type: str = "auto"  # auto | cpu | cuda | mps
    precision: Precision = Precision.auto
    channels_last: bool | None = None  # conv models only; None: on for CUDA and CPU


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    penalty: PenaltyConfig = field(default_factory=PenaltyConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    seed: int = 0
    resume: str | None = None  # a run dir to continue from its last checkpoint


def register_schema() -> None:
    from hydra.core.config_store import ConfigStore  # only `ganlab train` needs Hydra

    ConfigStore.instance().store(name="train_schema", node=TrainConfig)


def config_dir() -> Path:
    """The folder of YAML config groups: inside the installed package, or the repository's ``configs/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "configs", here.parent / "configs"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise GanlabError(f"ganlab's configs/ folder was not found next to {here}; reinstall ganlab.")


def compose_config(overrides: list[str]) -> DictConfig:
    """The config ``ganlab train <overrides>`` would run with, composed in-process (for scripts and tests)."""
    from hydra import compose, initialize_config_dir

    register_schema()
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        return compose(config_name="train", overrides=overrides)


def validate(cfg: DictConfig) -> None:
    """Checks that types cannot express. Raises GanlabError naming the key and what to do."""
    from ganlab.objectives import F_OBJECTIVES, OBJECTIVES
    from ganlab.objectives.penalties import GRADIENT_PENALTIES, PENALTIES

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise GanlabError(message)

    t = cfg.trainer
    for key in ("steps", "batch_size", "n_critic", "log_every", "sample_every", "ckpt_every", "num_samples"):
        need(t[key] > 0, f"trainer.{key} must be a positive integer, got {t[key]}.")
    need(cfg.optim.lr > 0, f"optim.lr must be positive, got {cfg.optim.lr}.")
    need(cfg.optim.name in ("adam", "rmsprop"), f"optim.name must be one of adam, rmsprop; got '{cfg.optim.name}'.")
    need(
        cfg.objective.name in OBJECTIVES,
        f"Unknown objective '{cfg.objective.name}'. Choose objective=<name> with one of: {', '.join(OBJECTIVES)}.",
    )
    need(
        cfg.objective.get("non_saturating") is None or cfg.objective.name in F_OBJECTIVES,
        f"objective.non_saturating applies to the f-GAN objectives ({', '.join(F_OBJECTIVES)}), not to "
        f"objective={cfg.objective.name}. For the original GAN choose objective=minimax (saturating generator "
        "loss) or objective=non_saturating; drop objective.non_saturating otherwise.",
    )
    need(
        cfg.penalty.name in PENALTIES,
        f"Unknown penalty '{cfg.penalty.name}'. Choose penalty=<name> with one of: {', '.join(PENALTIES)}.",
    )
    need(cfg.penalty.weight >= 0, f"penalty.weight must be non-negative, got {cfg.penalty.weight}.")
    need(cfg.penalty.clip > 0, f"penalty.clip must be positive, got {cfg.penalty.clip}.")
    need(cfg.penalty.every >= 1, f"penalty.every must be a positive number of D steps, got {cfg.penalty.every}.")
    need(
        cfg.penalty.every == 1 or cfg.penalty.name in GRADIENT_PENALTIES,
        f"penalty.every (lazy regularisation) applies to the gradient penalties {', '.join(GRADIENT_PENALTIES)}, "
        f"not to penalty={cfg.penalty.name}; drop penalty.every or choose one of those penalties.",
    )
    e = cfg.eval
    need(e.every >= 0, f"eval.every must be 0 (off) or a positive number of steps, got {e.every}.")
    need(e.n is None or e.n >= 2, f"eval.n must be at least 2 samples, got {e.n}.")
    need(e.warn_window > 0, f"eval.warn_window must be a positive number of logs, got {e.warn_window}.")
    need(cfg.model.z_dim > 0, f"model.z_dim must be positive, got {cfg.model.z_dim}.")
    need(
        cfg.device.type in ("auto", "cpu", "cuda", "mps"),
        f"device.type must be one of auto, cpu, cuda, mps; got '{cfg.device.type}'.",
    )


def parse_args(args: list[str], schema: type, command: str) -> DictConfig:
    """Parse ``key=value`` words into ``schema`` (a dataclass); unknown keys, bad types and missing
    required keys become a GanlabError naming the valid keys."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    valid = ", ".join(f.name for f in dataclasses.fields(schema))
    bad = [a for a in args if "=" not in a or a.startswith("=")]
    if bad:
        raise GanlabError(f"expected key=value words, got {' '.join(bad)}. `ganlab {command}` takes: {valid}.")
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.from_dotlist(args))
    except OmegaConfBaseException as err:
        msg = str(err).splitlines()[0]
        raise GanlabError(f"{msg}. `ganlab {command}` takes: {valid}.") from err
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise GanlabError(f"`ganlab {command}` needs {', '.join(f'{k}=<value>' for k in missing)} (it takes: {valid}).")
    assert isinstance(cfg, DictConfig)
    return cfg
