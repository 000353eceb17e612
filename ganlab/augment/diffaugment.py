"""DiffAugment (Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

Every image D sees, real or generated, in the D phase and the G phase alike, goes through the same random,
differentiable transformations, so D cannot memorise the few training images and G still gets gradients through
them. The paper's three policies, applied to every image with their own random draws per image:

- ``color``: brightness (add U[-0.5, 0.5)), saturation (scale each pixel's distance from its channel mean by
  U[0, 2); no change on grayscale), contrast (scale the distance from the image's mean by U[0.5, 1.5));
- ``translation``: shift by a whole number of pixels, up to 1/8 of the side each way, filling with 0 (mid-grey
  in ganlab's [-1, 1] range);
- ``cutout``: zero a square of half the side at a random place (clipped at the border).

The paper's CIFAR-10 setting is ``color,translation,cutout`` (the default here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.augment import AUGMENTS
from ganlab.augment.base import Augment, parse_policy
from ganlab.config.schema import key

TRANSLATION = 0.125  # the largest shift, as a share of the side
CUTOUT = 0.5  # the side of the cut square, as a share of the image's


@dataclass
class DiffAugmentParams:
    policy: Any = key("color,translation,cutout", doc="the ops, a list ([color,cutout]) or a string: color, "
                      "translation, cutout")


def color(aug: Augment, x: Tensor) -> Tensor:
    n, device = x.shape[0], x.device
    x = x + (aug.draw(n, 1, 1, 1, device=device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (aug.draw(n, 1, 1, 1, device=device) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (aug.draw(n, 1, 1, 1, device=device) + 0.5) + mean


def translation(aug: Augment, x: Tensor) -> Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * TRANSLATION + 0.5), int(w * TRANSLATION + 0.5)
    u = aug.draw(n, 2, device=x.device)  # integer shifts in [-s, s], uniformly
    dy = (u[:, 0] * (2 * sh + 1)).floor().long()
    dx = (u[:, 1] * (2 * sw + 1)).floor().long()
    padded = F.pad(x, (sw, sw, sh, sh))
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])  # (n, h), into padded's rows
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def cutout(aug: Augment, x: Tensor) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT + 0.5), int(w * CUTOUT + 0.5)
    u = aug.draw(n, 2, device=x.device)  # the square's top-left corner, from above the image to its last row
    top = (u[:, 0] * (h + 1 - ch % 2)).floor() - ch // 2
    left = (u[:, 1] * (w + 1 - cw % 2)).floor() - cw // 2
    ys, xs = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    inside_y = (ys[None, :] >= top[:, None]) & (ys[None, :] < top[:, None] + ch)
    inside_x = (xs[None, :] >= left[:, None]) & (xs[None, :] < left[:, None] + cw)
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])
    return x * keep[:, None].to(x.dtype)


OPS = {"color": color, "translation": translation, "cutout": cutout}


@AUGMENTS.register("diffaugment", params=DiffAugmentParams)
class DiffAugment(Augment):
    """The ops of ``policy``, in the order given, on every image D sees."""

    name = "diffaugment"
    identity = False

    def __init__(self, policy: Any = "color,translation,cutout"):
        self.ops = parse_policy(policy, tuple(OPS), self.name)

    def transform(self, x: Tensor) -> Tensor:
        for op in self.ops:
            x = OPS[op](self, x)
        return x
