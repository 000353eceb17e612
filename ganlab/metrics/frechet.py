"""The Fréchet distance between two Gaussians fitted to feature sets (the formula behind FID).

d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2). The trace of the matrix square root is computed as
the sum of square roots of the eigenvalues of S1^1/2 S2 S1^1/2, a symmetric positive semi-definite matrix with
the same spectrum as S1 S2, so no non-symmetric square root (and no complex round-off) is involved.
"""

from __future__ import annotations

import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of ``features`` (N, D), in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need at least 2 feature vectors of shape (N, D), got {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """The squared Fréchet (2-Wasserstein) distance between N(mu1, s1) and N(mu2, s2)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(s1).astype(np.float64), np.atleast_2d(s2).astype(np.float64)
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eig, 0, None)).sum()
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt, 0.0))


def frechet_distance_of(features1: np.ndarray, features2: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets."""
    return frechet_distance(*gaussian_stats(features1), *gaussian_stats(features2))
