"""Where a run computes: the ``device`` config group (auto -> cuda -> mps -> cpu) and its precision."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from ganlab.config.schema import DEVICES
from ganlab.console import say
from ganlab.errors import GanlabError


def resolve_device(cfg: DictConfig) -> torch.device:
    kind = cfg.type
    if kind not in DEVICES:
        raise GanlabError(f"device={kind} is not a device ganlab runs on. Choose one of: {', '.join(DEVICES)}.")
    has_mps = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise GanlabError(
            f"device=cuda was asked for, but PyTorch {torch.__version__} sees no CUDA GPU on this machine. "
            "Use device=cpu (or device=auto, which picks the best device present)."
        )
    if kind == "mps" and not has_mps:
        raise GanlabError("device=mps was asked for, but this PyTorch build has no usable MPS backend. Use device=cpu.")
    return torch.device(kind)


def cpu_has_bf16_matrix_units() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX tiles or AVX512-BF16) and oneDNN uses them.
    Without them bf16 is emulated: a ganlab step ran 3-20x slower in bf16 than in fp32 on an AVX2-only CPU."""
    cpu = torch.cpu
    units = getattr(cpu, "_is_amx_tile_supported", lambda: False)() or getattr(
        cpu, "_is_avx512_bf16_supported", lambda: False)()
    return bool(units) and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast_dtype(cfg: DictConfig, device: torch.device, prefers_bf16: bool) -> torch.dtype | None:
    """The autocast dtype of a run, or None for plain fp32 (weights, optimiser state, losses and penalties stay
    fp32 either way). ``precision: auto`` picks bf16 on CUDA GPUs that support it, and on a CPU with bf16
    matrix units for network families that gain from it (``prefers_bf16``: convolutions; the small MLPs are
    bound by per-op overhead and measured no faster). ``precision: bf16`` on a CPU without those units warns."""
    precision = str(getattr(cfg.precision, "value", cfg.precision))
    if precision == "fp32":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu":
        units = cpu_has_bf16_matrix_units()
        if precision == "bf16" and not units:
            say("ganlab: warning: device.precision=bf16 on a CPU without bf16 matrix units (AMX or AVX512-BF16): "
                "bf16 is emulated here and runs several times slower than fp32; device.precision=auto picks fp32.")
        if precision == "auto":
            return torch.bfloat16 if units and prefers_bf16 else None
    return torch.bfloat16 if precision == "bf16" else None


# torch.compile's inductor checks each fallback op's output strides against its meta function, whose
# convolution_backward predicts NCHW where cuDNN returns NHWC (pytorch/pytorch#171622): a compiled conv net in
# channels-last layout fails its first backward on CUDA ("expected size 256==256, stride 16==1", H200, torch 2.11)
COMPILED_NHWC = "pytorch/pytorch#171622: torch.compile mispredicts the strides of cuDNN's channels-last convolution_backward"


def use_channels_last(cfg: DictConfig, device: torch.device, is_conv: bool, compiled: bool = False) -> bool:
    """NHWC layout for convolutional networks: by default on CUDA (cuDNN) and CPU (oneDNN), where it is faster
    (DCGAN 32x32, batch 256, on 2 CPU cores: 16% per step); an MLP never uses it. A ``compiled`` conv net on
    CUDA stays NCHW (:data:`COMPILED_NHWC`); asked for NHWC there, it is refused before training."""
    if not is_conv:
        return False
    if compiled and device.type == "cuda":
        if cfg.channels_last:
            raise GanlabError(f"trainer.compile=true with device.channels_last=true cannot train on CUDA ({COMPILED_NHWC}). "
                              "Drop device.channels_last (compiled conv nets then run in NCHW) or trainer.compile.")
        return False
    return bool(cfg.channels_last) if cfg.channels_last is not None else device.type in ("cuda", "cpu")
