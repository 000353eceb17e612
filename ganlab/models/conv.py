"""DCGAN networks (Radford et al. 2016): strided (transposed) convolutions, no pooling, no dense hidden layers.

An image side must be ``base * 2^k`` with base 4 or 7 (8, 16, 28, 32, 64, ...): the generator projects z to a
base x base map and doubles it k times; the discriminator halves the image k times and ends in a base x base
convolution that gives one logit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import DictConfig
from torch import Tensor, nn

from ganlab.config.schema import key
from ganlab.config.spec import DataSpec
from ganlab.errors import GanlabError
from ganlab.models import NETWORKS, Networks, norm_name
from ganlab.models.layers import norm_layer, with_label


@dataclass
class ConvParams:
    channels: int = key(64, lo=1, hi=4096, doc="base width (DCGAN's ngf / ndf)")


def conv_plan(size: int) -> tuple[int, int]:
    """``(base, k)`` with ``size == base * 2**k``, base in (4, 7), k >= 1."""
    for base in (4, 7):
        k, side = 0, size
        while side > base and side % 2 == 0:
            side //= 2
            k += 1
        if side == base and k >= 1:
            return base, k
    raise ValueError(f"image side {size} is not 4*2^k or 7*2^k (8, 14, 16, 28, 32, 56, 64, ...)")


def fan_in_init(layer: nn.ConvTranspose2d) -> None:
    """PyTorch's default init (U(+-1/sqrt(fan_in)), as for ``nn.Conv2d``) with a transposed convolution's real fan-in.

    ``nn.ConvTranspose2d`` computes its default bound from the weight's second dimension, its *output* channels
    (pytorch/pytorch#30079), so the last layer of G (64 channels -> 1, kernel 4) drew its weights from
    U(+-1/4) where each output pixel sums 64 x 2 x 2 = 256 terms (U(+-1/16)). Its outputs start 4x too large,
    tanh saturates, and the per-phase sums of the stride-2 kernels give the image a fixed pattern of period 4 (a
    grid of bright dots) that early WGAN-GP training has not removed after 500 steps. Each output pixel sums
    in_channels x (kernel / stride)^2 terms (in_channels on the 1 x 1 input of the first layer, ``stride == 1``)."""
    taps = (layer.kernel_size[0] // layer.stride[0]) * (layer.kernel_size[1] // layer.stride[1]) \
        if layer.stride[0] > 1 else 1
    bound = 1 / math.sqrt(layer.in_channels * taps)
    nn.init.uniform_(layer.weight, -bound, bound)
    if layer.bias is not None:
        nn.init.uniform_(layer.bias, -bound, bound)


class ConvGenerator(nn.Module):
    """z -> ConvTranspose to base x base -> k x (ConvTranspose stride 2, norm, ReLU) -> tanh image."""

    def __init__(self, z_dim: int, out_shape: tuple[int, int, int], channels: int, norm: str,
                 num_classes: int | None = None):
        super().__init__()
        self.z_dim, self.out_shape, self.num_classes = z_dim, tuple(out_shape), num_classes
        base, k = conv_plan(out_shape[1])
        width = channels * 2 ** (k - 1)
        blocks: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + (num_classes or 0), width, base, 1, 0, bias=norm != "batch"),
            norm_layer(norm, width, conv=True),
            nn.ReLU(),
        ]
        for _ in range(k - 1):
            blocks += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=norm != "batch"),
                       norm_layer(norm, width // 2, conv=True), nn.ReLU()]
            width //= 2
        blocks += [nn.ConvTranspose2d(width, out_shape[0], 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*blocks)
        for layer in self.net:
            if isinstance(layer, nn.ConvTranspose2d):
                fan_in_init(layer)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(with_label(z, y, self.num_classes)[:, :, None, None])


class ConvDiscriminator(nn.Module):
    """image -> k x (Conv stride 2, norm, LeakyReLU(0.2)) -> Conv base x base -> one logit per sample."""

    def __init__(self, in_shape: tuple[int, int, int], channels: int, norm: str, num_classes: int | None = None):
        super().__init__()
        self.num_classes = num_classes
        base, k = conv_plan(in_shape[1])
        width = channels
        blocks: list[nn.Module] = [nn.Conv2d(in_shape[0] + (num_classes or 0), width, 4, 2, 1), nn.LeakyReLU(0.2)]
        for _ in range(k - 1):
            blocks += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=norm != "batch"),
                       norm_layer(norm, width * 2, conv=True), nn.LeakyReLU(0.2)]
            width *= 2
        blocks.append(nn.Conv2d(width, 1, base, 1, 0))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(with_label(x, y, self.num_classes)).view(-1)


@NETWORKS.register("conv", params=ConvParams)
class Conv(Networks):
    """DCGAN's strided convolutions: images whose side is 4 * 2^k or 7 * 2^k."""

    kinds = ("image",)
    default_for = ("image",)
    channels_last = True
    bf16_on_cpu = True  # DCGAN step 2.6x the textbook loop in bf16 vs 1.2x in fp32 on an AMX CPU (issue 16)

    @classmethod
    def check(cls, spec: DataSpec) -> None:
        try:
            conv_plan(spec.shape[1])
        except ValueError as err:
            raise GanlabError(f"{err}: set data.image_size to one of those sizes, or use model.arch=mlp.") from err

    @classmethod
    def build(cls, cfg: DictConfig, spec: DataSpec, num_classes: int | None) -> tuple[nn.Module, nn.Module]:
        shape = (spec.shape[0], spec.shape[1], spec.shape[2])
        G = ConvGenerator(cfg.z_dim, shape, cfg.channels, norm_name(cfg.g_norm), num_classes)
        D = ConvDiscriminator(shape, cfg.channels, norm_name(cfg.d_norm), num_classes)
        return G, D
