"""What every augmentation is: a differentiable map of a batch of images, drawn afresh at each call, and
whatever state it adapts (ADA's probability ``p``).

The step calls an augmentation once per evaluation of D (real and fake batches alike), in fp32 whatever the
autocast, and tells it D's verdict on the real images it saw (:meth:`Augment.observe`) so that an adaptive one can
steer its strength. Everything here runs on the device without reading a value back to the host, so that the
step can be captured as a CUDA graph: random numbers come from torch's default generator on the images' device,
an adaptive strength is a device tensor updated by device arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ganlab.augment import AUGMENTS
from ganlab.errors import GanlabError
from ganlab.shares import ALL, Share

Stats = dict[str, Tensor]


def parse_policy(policy: Any, ops: tuple[str, ...], part: str) -> tuple[str, ...]:
    """The op names of ``augment.policy``: a list (``augment.policy=[color,cutout]`` on the command line) or one
    comma-separated string (``augment.policy='color,cutout'``, quoted there: Hydra reads an unquoted comma as a
    sweep), each one of ``ops``; an unknown or repeated name, or none, is a GanlabError naming the valid ones."""
    words = str(policy).split(",") if isinstance(policy, str) else [str(w) for w in policy]
    names = tuple(w.strip() for w in words if w.strip())
    unknown = [n for n in names if n not in ops]
    if unknown or not names or len(set(names)) != len(names):
        what = (f"has no op '{unknown[0]}'" if unknown else "names no op" if not names
                else "names an op twice")
        shown = policy if isinstance(policy, str) else f"[{','.join(words)}]"
        raise GanlabError(f"augment.policy={shown}: augment={part} {what}. Its ops: {', '.join(ops)} (a list, e.g. "
                          f"augment.policy=[{','.join(ops[:2])}]); augment=none trains without augmentation.")
    return names


class Augment:
    """No augmentation; the base of the others (``identity``: the step leaves D's inputs as they are)."""

    name = "none"
    identity = True
    adaptive = False  # adjusts its strength from D's outputs on real images (observe/adjust)
    share: Share = ALL  # what a random draw keeps of a global batch's (a rank's share under torchrun)
    # the mean over the processes of a data-parallel run (set by the trainer), so that an adaptive strength
    # stays the same on every rank
    reduce: Callable[[Tensor], Tensor] = staticmethod(lambda t: t)  # type: ignore[assignment]

    def __call__(self, x: Tensor) -> Tensor:
        """``x`` (N, C, H, W) augmented, in fp32 (autocast off) and in ``x``'s memory layout."""
        if self.identity:
            return x
        channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        with torch.autocast(x.device.type, enabled=False):
            out = self.transform(x.float())
        return out.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def pair(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        """``a`` and ``b`` (a real and a fake batch) augmented in one call, each image with its own draws: half
        the launches of two calls, which on a GPU is most of an augmentation's cost."""
        if self.identity:
            return a, b
        both = self(torch.cat([a, b]))
        return both[:len(a)], both[len(a):]

    def transform(self, x: Tensor) -> Tensor:
        """The augmentation proper, on fp32 images in [-1, 1] (nominally: G's outputs may stray)."""
        return x

    def draw(self, n: int, *shape: int, device: torch.device, normal: bool = False) -> Tensor:
        """``n`` rows of U[0, 1) (or N(0, 1)) numbers of ``shape`` for a batch of ``n`` images: this rank's
        rows of the global batch's draw."""
        fn = torch.randn if normal else torch.rand
        return self.share(lambda m: fn(m, *shape, device=device), n)

    def observe(self, signs: Tensor, count: int) -> None:
        """D's verdicts on ``count`` real images of one step: the sum of their signs (+1 real, -1 fake)."""

    def stats(self) -> Stats:
        """Device tensors to log after a step (``Augment/p``, ...)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (nothing for a fixed augmentation)."""

    def to(self, device: torch.device) -> Augment:
        return self


AUGMENTS.register("none")(Augment)


def lognormal(u: Tensor, std_log2: float) -> Tensor:
    """exp2 of N(0, ``std_log2``) numbers ``u`` (standard normal): a scale factor, as ADA draws them."""
    return torch.exp2(u * std_log2)


def affine(x: Tensor, theta: Tensor) -> Tensor:
    """``x`` resampled through ``theta`` (N, 2, 3), which maps each output position to the input position it
    reads, in pixel units about the image centre; bilinear, mirroring the image beyond its border."""
    n, _, h, w = x.shape
    sx, sy = 2.0 / w, 2.0 / h  # pixels -> grid_sample's [-1, 1] units (Python numbers: no copy to the device)
    scaled = torch.stack([torch.stack([theta[:, 0, 0], theta[:, 0, 1] * (sx / sy), theta[:, 0, 2] * sx], -1),
                          torch.stack([theta[:, 1, 0] * (sy / sx), theta[:, 1, 1], theta[:, 1, 2] * sy], -1)], 1)
    grid = torch.nn.functional.affine_grid(scaled, [n, x.shape[1], h, w], align_corners=False).to(x.dtype)
    return resample(x, grid.detach())


def resample(x: Tensor, grid: Tensor) -> Tensor:
    """``grid_sample(x, grid)``, bilinear with the border mirrored, twice differentiable in ``x`` on every device
    (the grid a constant: :class:`_Resample`)."""
    return _Resample.apply(x, grid)


# grid_sampler_2d's enums: bilinear interpolation, reflection padding (aten/src/ATen/native/GridSampler.h)
BILINEAR, REFLECTION = 0, 2


class _Resample(torch.autograd.Function):
    """Bilinear resampling of ``x`` at a fixed ``grid``, differentiable twice in ``x`` on every device.

    R1 on augmented reals differentiates D's gradient with respect to the images before the augmentation, so
    training takes the gradient of a gradient through the resampling. CUDA's ``grid_sample`` has no derivative
    for its backward ("derivative for aten::grid_sampler_2d_backward is not implemented"; the CPU takes a
    slower composite path that has one). At a fixed grid the resampling is a linear map S of ``x``: its
    backward is S transposed (:class:`_ResampleTransposed`), whose own backward is S again. The grid is made
    from random draws and never needs a gradient.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, grid: Tensor) -> Tensor:
        ctx.save_for_backward(x, grid)
        return torch.grid_sampler(x, grid, BILINEAR, REFLECTION, False)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        x, grid = ctx.saved_tensors
        return _ResampleTransposed.apply(grad, x, grid), None


class _ResampleTransposed(torch.autograd.Function):
    """S transposed applied to ``grad`` (the shape of the resampled images) at ``grid``, S as above."""

    @staticmethod
    def forward(ctx: Any, grad: Tensor, x: Tensor, grid: Tensor) -> Tensor:
        ctx.save_for_backward(grid)
        return torch.ops.aten.grid_sampler_2d_backward(grad, x, grid, BILINEAR, REFLECTION, False,
                                                       [True, False])[0]

    @staticmethod
    def backward(ctx: Any, grad2: Tensor) -> tuple[Tensor, None, None]:
        (grid,) = ctx.saved_tensors
        return _Resample.apply(grad2, grid), None, None

