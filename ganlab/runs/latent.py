"""The latent space: seeded Gaussian latents, walks between them (slerp, lerp), and vector arithmetic."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

ARITHMETIC_NOISE = 0.25  # DCGAN Fig. 7: the neighbours of a result are Y + U(-0.25, 0.25) noise


def latents(n: int, z_dim: int, seed: int | None = None) -> Tensor:
    """``n`` standard Gaussian latents on the CPU: from their own generator seeded by ``seed`` (the same for the
    same ``n`` and ``seed`` everywhere in ganlab), or from torch's global stream when ``seed`` is None."""
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    return torch.randn(n, z_dim, generator=gen)


def latent_chunks(n: int, z_dim: int, seed: int, chunk: int = 1024) -> Iterator[Tensor]:
    """``latents(n, z_dim, seed)`` in pieces of ``chunk`` rows: the same numbers, drawn in turn from one
    generator, so that a large ``n`` needs memory for one piece only."""
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, n, chunk):
        yield torch.randn(min(chunk, n - start), z_dim, generator=gen)


def grid_labels(n: int, num_classes: int) -> Tensor:
    """The classes in equal shares, in order (``arange(n) * classes // n``): one grid row per class when ``n``
    is a multiple of them."""
    return torch.arange(n) * num_classes // n


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """``(1 - t) a + t b`` for each ``t``: ``a``, ``b`` ``(..., d)``, ``t`` ``(s,)`` -> ``(..., s, d)``."""
    t = t.to(a.dtype)[:, None]
    return (1 - t) * a[..., None, :] + t * b[..., None, :]


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents): along the great circle between
    ``a`` and ``b``, so a walk between two typical Gaussian latents keeps a typical norm where lerp's midpoint
    shrinks towards 0. Shapes as :func:`lerp`; (anti)parallel ``a`` and ``b`` fall back to lerp."""
    t = t.to(a.dtype)[:, None]
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True)).clamp_min(1e-12)
    omega = cos.clamp(-1, 1).acos()[..., None, :]  # (..., 1, 1)
    sin = omega.sin()
    parallel = sin.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    wa = torch.where(parallel, 1 - t, ((1 - t) * omega).sin() / safe)
    wb = torch.where(parallel, t, (t * omega).sin() / safe)
    return wa * a[..., None, :] + wb * b[..., None, :]


def walks(start: Tensor, end: Tensor, steps: int, mode: str = "slerp") -> Tensor:
    """``steps`` latents from each row of ``start`` to the same row of ``end`` (both ends included):
    ``(n, d)`` -> ``(n, steps, d)``."""
    t = torch.linspace(0, 1, steps)
    return (slerp if mode == "slerp" else lerp)(start, end, t)


def concept_vector(z: Tensor, a: Sequence[int], b: Sequence[int], c: Sequence[int]) -> Tensor:
    """DCGAN's vector arithmetic (Radford et al. 2016, Fig. 7): mean(z[a]) - mean(z[b]) + mean(z[c])."""
    return z[list(a)].mean(0) - z[list(b)].mean(0) + z[list(c)].mean(0)


def neighbours(y: Tensor, seed: int, count: int = 8) -> Tensor:
    """``y`` and ``count`` neighbours ``y + U(-0.25, 0.25)`` (seeded), ``y`` in the middle: ``(count + 1, d)``."""
    gen = torch.Generator().manual_seed(seed)
    noise = (torch.rand(count, y.shape[-1], generator=gen) * 2 - 1) * ARITHMETIC_NOISE
    around = y.cpu() + noise
    half = count // 2
    return torch.cat([around[:half], y.cpu()[None], around[half:]])
