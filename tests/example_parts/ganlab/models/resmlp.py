"""Residual MLPs (an example part: tests/test_parts.py adds it to a copy of ganlab). It declares ``hidden`` as the
MLP family does, with its own default and range: only the chosen family's apply."""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import DictConfig
from torch import Tensor, nn

from ganlab.config.schema import key
from ganlab.config.spec import DataSpec
from ganlab.models import NETWORKS, Networks
from ganlab.models.layers import with_label


@dataclass
class ResMLPParams:
    hidden: int = key(48, lo=8, hi=4096, doc="width of the residual blocks")
    blocks: int = key(2, lo=1, hi=16, doc="residual blocks")


class Residual(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class ResidualNet(nn.Module):
    """A flat input (and a one-hot label) -> residual blocks -> ``out_shape`` (``()``: one logit per sample)."""

    def __init__(self, n_in: int, out_shape: tuple[int, ...], hidden: int, blocks: int, num_classes: int | None,
                 z_dim: int | None = None, tanh: bool = False):
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, tuple(out_shape)
        layers = [nn.Linear(n_in + (num_classes or 0), hidden), *(Residual(hidden) for _ in range(blocks)),
                  nn.LeakyReLU(0.2), nn.Linear(hidden, math.prod(self.out_shape))]
        self.net = nn.Sequential(*layers, *([nn.Tanh()] if tanh else []))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(with_label(x.flatten(1), y, self.num_classes)).view(-1, *self.out_shape)


@NETWORKS.register("resmlp", params=ResMLPParams)
class ResMLP(Networks):
    """Residual MLPs on any data, as flat vectors (never picked by model.arch=auto)."""

    @classmethod
    def build(cls, cfg: DictConfig, spec: DataSpec, num_classes: int | None) -> tuple[nn.Module, nn.Module]:
        G = ResidualNet(cfg.z_dim, spec.shape, cfg.hidden, cfg.blocks, num_classes, cfg.z_dim, spec.kind == "image")
        D = ResidualNet(math.prod(spec.shape), (), cfg.hidden, cfg.blocks, num_classes)
        return G, D
