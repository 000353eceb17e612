"""ADA: adaptive discriminator augmentation (Karras, Aittala, Hellsten, Laine, Lehtinen & Aila 2020, "Training
Generative Adversarial Networks with Limited Data").

Each op of the pipeline is applied to each image D sees with probability ``p``, which the run tunes as it
trains: the overfitting heuristic r_t = E[sign(D(x_real))] (on the augmented real images D sees, its raw output
taken against where the objective's optimal D puts a sample that real and fake share: 0 for the logistic and hinge
losses, 0.5 for least squares) rises towards 1 as D memorises the training set. Every ``interval`` steps, r_t
over those steps is compared with ``target`` and p moves by ``sign(r_t - target) * N / speed``, N the real
images D judged meanwhile: p would go from 0 to 1 in ``speed`` real images of a D that stays too sure. The
paper's 500k was for runs of 5-25M images; ganlab's image presets train about 1M (dcgan: 9,000 steps of 128), so
the default here is 100k: p can cross its range in a tenth of such a run. p, r_t and the adjustment live on the device (no host reads, so the step stays one CUDA graph); the step
reports ``Augment/p`` and the trainer logs it, with ``Augment/rt``, to TensorBoard; a checkpoint keeps p and the
interval's running sums exactly.

The paper's pipeline ("bgc": blit, geometric, colour), and what this module does of it. Implemented, each op
applied with probability p per image and drawn as the paper draws it:

- blit: ``xflip`` (mirror left-right half the time), ``rotate90`` (by 0, 90, 180 or 270 degrees),
  ``xint`` (an integer translation, uniform up to 1/8 of the side);
- geometric: ``scale`` (isotropic, log2-normal with sd 0.2), ``rotate`` (uniform angle), ``aniso``
  (x by s and y by 1/s, log2-normal with sd 0.2), ``xfrac`` (a fractional translation, normal with sd 1/8 of the
  side);
- colour: ``brightness`` (add N(0, 0.2)), ``contrast`` (scale about mid-grey, log2-normal with sd 0.5),
  ``saturation`` (scale each pixel's distance from its channel mean, log2-normal with sd 1; no change on
  grayscale).

Not implemented: ``lumaflip`` and ``hue`` (rotations in RGB colour space, for colour data only), the
image-space filtering ``imgfilter``, the corruptions ``noise`` and ``cutout`` (all outside "bgc" but the last
two); the paper's second rotation (it rotates before and after ``aniso``, each with 1 - sqrt(1 - p): here once,
with p); and its anti-aliased resampling (2x supersampling through a symmetric wavelet filter, padding by
reflection): the geometric ops here compose into one affine map per image, sampled once bilinearly with the
border mirrored (``torch.nn.functional.grid_sample``). The blits are exact under it: a flip, a quarter turn or a
whole-pixel shift lands every pixel centre on a pixel centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ganlab.augment import AUGMENTS
from ganlab.augment.base import Augment, Stats, affine, lognormal, parse_policy
from ganlab.config.schema import key

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "saturation")
XINT, SCALE_STD, AXIS_STD, XFRAC_STD = 0.125, 0.2, 0.2, 0.125  # the paper's strengths (shares of the side)
BRIGHTNESS_STD, CONTRAST_STD, SATURATION_STD = 0.2, 0.5, 1.0


@dataclass
class AdaParams:
    policy: Any = key(",".join(GEOMETRIC + COLOUR), doc=f"the ops, a list or a string: {', '.join(GEOMETRIC + COLOUR)}")
    target: float = key(0.6, above=0, below=1, doc="the r_t = E[sign(D(real))] that p is tuned to hold")
    speed: float = key(100_000, above=0, hi=1e12, doc="real images D judges for p to go from 0 to 1 (at most)")
    interval: int = key(4, lo=1, hi=1_000_000, doc="generator steps between adjustments of p")
    p: float = key(0.0, lo=0, hi=1, doc="p at the start of a run")


def _rotation(angle: Tensor) -> Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


@AUGMENTS.register("ada", params=AdaParams)
class ADA(Augment):
    """The pipeline's ops of ``policy`` at the adaptive probability ``p`` (a device tensor)."""

    name = "ada"
    identity = False
    adaptive = True

    def __init__(self, policy: Any = AdaParams.policy, target: float = 0.6, speed: float = 100_000,
                 interval: int = 4, p: float = 0.0):
        self.ops = parse_policy(policy, GEOMETRIC + COLOUR, self.name)
        self.target, self.speed, self.interval = float(target), float(speed), int(interval)
        self.p = torch.tensor(float(p))
        # the adjustment interval's running sums: D's signs, the images judged, the steps taken (device tensors)
        self.signs, self.count, self.steps = torch.zeros(()), torch.zeros(()), torch.zeros(())

    def to(self, device: torch.device) -> ADA:
        for name in ("p", "signs", "count", "steps"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def _applied(self, n: int, device: torch.device) -> Tensor:
        """Which of ``n`` images an op applies to (probability p each), as 1.0 / 0.0."""
        return (self.draw(n, device=device) < self.p).float()

    def _geometry(self, n: int, h: int, w: int, device: torch.device) -> Tensor:
        """Each image's affine map (N, 2, 3), in pixels about the image's centre: the geometric ops composed."""
        matrix = torch.eye(2, device=device).expand(n, 2, 2)
        shift = torch.zeros(n, 2, device=device)
        for op in (o for o in GEOMETRIC if o in self.ops):
            on, u = self._applied(n, device), self.draw(n, 2, device=device)
            if op == "xflip":
                flip = 1 - 2 * on * (u[:, 0] < 0.5).float()
                step = torch.diag_embed(torch.stack([flip, torch.ones_like(flip)], -1))
            elif op == "rotate90":
                step = _rotation(on * (u[:, 0] * 4).floor() * (math.pi / 2)).round()
            elif op in ("xint", "xfrac"):
                v = (u * 2 - 1) * XINT if op == "xint" else self.draw(n, 2, device=device, normal=True) * XFRAC_STD
                moved = torch.stack([v[:, 0] * w, v[:, 1] * h], -1)  # in pixels
                shift = shift + on[:, None] * (moved.round() if op == "xint" else moved)
                continue
            elif op == "scale":
                s = lognormal(self.draw(n, device=device, normal=True), SCALE_STD) ** on
                step = torch.diag_embed(torch.stack([s, s], -1))
            elif op == "rotate":
                step = _rotation(on * (u[:, 0] * 2 - 1) * math.pi)
            else:  # aniso
                s = lognormal(self.draw(n, device=device, normal=True), AXIS_STD) ** on
                step = torch.diag_embed(torch.stack([s, 1 / s], -1))
            matrix, shift = step @ matrix, (step @ shift[:, :, None])[:, :, 0]
        return torch.cat([matrix, shift[:, :, None]], dim=2)

    def _colour(self, x: Tensor) -> Tensor:
        n, device = x.shape[0], x.device
        for op in (o for o in COLOUR if o in self.ops):
            on, z = self._applied(n, device)[:, None, None, None], self.draw(n, 1, 1, 1, device=device, normal=True)
            if op == "brightness":
                x = x + on * z * BRIGHTNESS_STD
            elif op == "contrast":
                x = x * lognormal(z, CONTRAST_STD) ** on
            else:  # saturation
                mean = x.mean(dim=1, keepdim=True)
                x = mean + (x - mean) * lognormal(z, SATURATION_STD) ** on
        return x

    def transform(self, x: Tensor) -> Tensor:
        if any(op in self.ops for op in GEOMETRIC):
            x = affine(x, self._geometry(x.shape[0], x.shape[2], x.shape[3], x.device))
        return self._colour(x)

    def observe(self, signs: Tensor, count: int) -> None:
        """Add a step's verdicts on ``count`` real images (all ranks' means under torchrun) and, at the end of
        every ``interval`` steps, move p by sign(r_t - target) * images / speed, clamped to [0, 1]."""
        mean = self.reduce(signs.detach().float().reshape(1) / count)[0]
        self.signs.add_(mean * count)
        self.count.add_(count)
        self.steps.add_(1)
        due = (self.steps >= self.interval).float()
        rt = self.signs / self.count
        self.p.copy_((self.p + due * torch.sign(rt - self.target) * self.count / self.speed).clamp(0, 1))
        keep = 1 - due
        self.signs.mul_(keep), self.count.mul_(keep), self.steps.mul_(keep)

    def stats(self) -> Stats:
        return {"Augment/p": self.p.clone()}

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k).detach().cpu().clone() for k in ("p", "signs", "count", "steps")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in ("p", "signs", "count", "steps"):
            if k in state:
                getattr(self, k).copy_(torch.as_tensor(state[k]))
