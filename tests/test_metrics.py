"""Metric formulas against hand-made cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganlab.data.toys import grid_centers, ring_centers
from ganlab.metrics.frechet import frechet_distance, frechet_distance_of
from ganlab.metrics.toy import kl_to_uniform, mode_metrics


def test_samples_exactly_on_every_mode_score_perfectly():
    centers = grid_centers()
    points = centers.repeat(100, 1)  # 2,500 points, 100 on each of the 25 modes
    assert mode_metrics(points, centers, std=0.05) == {"modes": 25.0, "hq_fraction": 1.0, "reverse_kl": 0.0}


def test_all_samples_on_one_mode():
    centers = grid_centers()
    points = centers[7].repeat(2500, 1) + 0.01
    m = mode_metrics(points, centers, std=0.05)
    assert m["modes"] == 1 and m["hq_fraction"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(25))


def test_high_quality_means_within_three_standard_deviations():
    centers = ring_centers(8, 1.0)
    std = 0.01
    inside = centers[:4] + torch.tensor([0.0, 2.9 * std])  # four modes hit, just inside 3 sigma
    outside = centers[4:] + torch.tensor([0.0, 3.1 * std])  # the other four missed, just outside
    m = mode_metrics(torch.cat([inside, outside]), centers, std)
    assert m["modes"] == 4 and m["hq_fraction"] == 0.5
    assert m["reverse_kl"] == pytest.approx(math.log(8 / 4))  # uniform over half of the modes


def test_no_high_quality_sample_leaves_reverse_kl_undefined():
    m = mode_metrics(torch.full((10, 2), 1.0), grid_centers(), std=0.05)
    assert m["modes"] == 0 and m["hq_fraction"] == 0 and math.isnan(m["reverse_kl"])
    assert kl_to_uniform(torch.tensor([3, 1])) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))


def test_frechet_distance_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_two_gaussians_is_the_closed_form():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1, s2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    # closed form through the principal square roots: tr(S1 + S2 - 2 (S2^1/2 S1 S2^1/2)^1/2)
    w, v = np.linalg.eigh(s2)
    r2 = v @ np.diag(np.sqrt(w)) @ v.T
    w, v = np.linalg.eigh(r2 @ s1 @ r2)
    cross = v @ np.diag(np.sqrt(w)) @ v.T
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * cross)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    # commuting (diagonal) covariances: sum of (sqrt(a) - sqrt(b))^2
    d1, d2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
    assert frechet_distance(np.zeros(3), np.diag(d1), np.ones(3), np.diag(d2)) == pytest.approx(3 + 1 + 1 + 9)
    # and from samples: two large draws of known Gaussians approach it
    x = rng.multivariate_normal(mu1, s1, size=200_000)
    y = rng.multivariate_normal(mu2, s2, size=200_000)
    assert frechet_distance_of(x, y) == pytest.approx(expected, rel=0.02)
