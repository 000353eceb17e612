"""Multilayer perceptrons (Goodfellow et al. 2014): for 2-D points, and for images as flat vectors."""

from __future__ import annotations

import math

from torch import Tensor, nn

from ganlab.models.layers import norm_layer, with_label


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
