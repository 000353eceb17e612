"""Generators and discriminators. :func:`build_models` picks the architecture that fits the data."""

from __future__ import annotations

from omegaconf import DictConfig
from torch import nn

from ganlab.config import GanlabError
from ganlab.data import Dataset
from ganlab.models.conv import ConvDiscriminator, ConvGenerator, conv_plan
from ganlab.models.layers import apply_spectral_norm, init_normal
from ganlab.models.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["ConvDiscriminator", "ConvGenerator", "MLPDiscriminator", "MLPGenerator", "build_models"]


def build_models(cfg: DictConfig, data: Dataset) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator for ``cfg`` (the ``model`` group) on ``data``."""
    num_classes = data.num_classes if cfg.conditional else None
    if cfg.conditional and not data.num_classes:
        raise GanlabError(
            f"model={cfg.name} is conditional and needs labelled data, but data={data.name} has no labels. "
            "Use data=digits, mnist, fashion_mnist, cifar10 or a folder with class sub-folders, "
            "or set model.conditional=false."
        )
    arch = str(cfg.arch.value if hasattr(cfg.arch, "value") else cfg.arch)
    if arch == "auto":
        arch = "mlp" if data.kind == "points" else "conv"
    if arch == "conv":
        if data.kind != "image":
            raise GanlabError(f"model.arch=conv needs image data; data={data.name} is 2-D points. Use model.arch=mlp.")
        try:
            conv_plan(data.shape[1])
        except ValueError as err:
            raise GanlabError(f"{err}: set data.image_size to one of those sizes, or use model.arch=mlp.") from err
        G: nn.Module = ConvGenerator(cfg.z_dim, data.shape, cfg.channels, _norm(cfg.g_norm), num_classes)
        D: nn.Module = ConvDiscriminator(data.shape, cfg.channels, _norm(cfg.d_norm), num_classes)
    else:
        G = MLPGenerator(cfg.z_dim, data.shape, cfg.hidden, cfg.layers, _norm(cfg.g_norm), num_classes,
                         tanh=data.kind == "image")
        D = MLPDiscriminator(data.shape, cfg.hidden, cfg.layers, _norm(cfg.d_norm), num_classes, cfg.d_dropout)
    if cfg.init_std:
        init_normal(G, cfg.init_std)
        init_normal(D, cfg.init_std)
    if cfg.spectral_norm:
        apply_spectral_norm(D)
    return G, D


def _norm(value: object) -> str:
    return str(getattr(value, "value", value))
