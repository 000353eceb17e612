"""Multilayer perceptrons (Goodfellow et al. 2014): for 2-D points, and for images as flat vectors."""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import DictConfig
from torch import Tensor, nn

from ganlab.config.schema import key
from ganlab.config.spec import DataSpec
from ganlab.models import NETWORKS, Networks, norm_name
from ganlab.models.layers import norm_layer, with_label


@dataclass
class MLPParams:
    hidden: int = key(256, lo=1, hi=65536, doc="width of each hidden layer")
    layers: int = key(2, lo=1, hi=64, doc="hidden layers")
    d_dropout: float = key(0.0, lo=0, below=1, doc="dropout after each hidden layer of D")


class MLPGenerator(nn.Module):
    """z (and a one-hot label) -> ReLU hidden layers -> x; tanh output for images, linear for points."""

    def __init__(self, z_dim: int, out_shape: tuple[int, ...], hidden: int, layers: int, norm: str,
                 num_classes: int | None = None, tanh: bool = True):
        super().__init__()
        self.z_dim, self.out_shape, self.num_classes = z_dim, tuple(out_shape), num_classes
        width = z_dim + (num_classes or 0)
        blocks: list[nn.Module] = []
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), norm_layer(norm, hidden, conv=False), nn.ReLU()]
            width = hidden
        blocks.append(nn.Linear(width, math.prod(self.out_shape)))
        if tanh:
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(with_label(z, y, self.num_classes)).view(-1, *self.out_shape)


class MLPDiscriminator(nn.Module):
    """x (and a one-hot label) -> LeakyReLU(0.2) hidden layers -> one logit per sample."""

    def __init__(self, in_shape: tuple[int, ...], hidden: int, layers: int, norm: str,
                 num_classes: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.num_classes = num_classes
        width = math.prod(in_shape) + (num_classes or 0)
        blocks: list[nn.Module] = []
        for i in range(layers):
            # no normalisation on the input layer, as in DCGAN
            blocks += [nn.Linear(width, hidden), norm_layer(norm if i else "none", hidden, conv=False), nn.LeakyReLU(0.2)]
            if dropout:
                blocks.append(nn.Dropout(dropout))
            width = hidden
        blocks.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(with_label(x.flatten(1), y, self.num_classes)).view(-1)


@NETWORKS.register("mlp", params=MLPParams)
class MLP(Networks):
    """Multilayer perceptrons: any data, as flat vectors."""

    default_for = ("points",)

    @classmethod
    def build(cls, cfg: DictConfig, spec: DataSpec, num_classes: int | None) -> tuple[nn.Module, nn.Module]:
        G = MLPGenerator(cfg.z_dim, spec.shape, cfg.hidden, cfg.layers, norm_name(cfg.g_norm), num_classes,
                         tanh=spec.kind == "image")
        D = MLPDiscriminator(spec.shape, cfg.hidden, cfg.layers, norm_name(cfg.d_norm), num_classes, cfg.d_dropout)
        return G, D
