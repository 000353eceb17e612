"""The networks' conditioning: the class label, one-hot, reaches both G and D, in the MLPs and the conv nets."""

from __future__ import annotations

import pytest
import torch

from ganlab.models.conv import ConvDiscriminator, ConvGenerator
from ganlab.models.layers import with_label
from ganlab.models.mlp import MLPDiscriminator, MLPGenerator

pytestmark = pytest.mark.usefixtures("single_thread")


def test_the_label_is_appended_one_hot_to_vectors_and_as_constant_planes_to_images():
    y = torch.tensor([2, 0])
    out = with_label(torch.full((2, 3), 5.0), y, 4)
    assert out.tolist() == [[5, 5, 5, 0, 0, 1, 0], [5, 5, 5, 1, 0, 0, 0]]
    planes = with_label(torch.full((2, 1, 2, 3), 5.0), y, 3)
    assert planes.shape == (2, 4, 2, 3) and torch.equal(planes[:, 0], torch.full((2, 2, 3), 5.0))
    assert planes[:, 1:].amax(dim=(2, 3)).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert torch.equal(planes[:, 1:].amin(dim=(2, 3)), planes[:, 1:].amax(dim=(2, 3)))  # constant planes
    x = torch.randn(2, 3)
    assert with_label(x, None, None) is x
    with pytest.raises(ValueError, match="conditional"):
        with_label(x, None, 10)


@pytest.mark.parametrize("family", ["mlp", "conv"])
def test_the_class_label_changes_what_g_draws_and_how_d_judges(family):
    """With the same noise, G draws something else for another class; D scores the same image differently
    when told another class (for every sample: the label is not lost on the way)."""
    torch.manual_seed(0)
    shape = (1, 8, 8)
    if family == "mlp":
        G, D = MLPGenerator(16, shape, 32, 2, "none", 10), MLPDiscriminator(shape, 32, 2, "none", 10)
    else:
        G, D = ConvGenerator(16, shape, 8, "batch", 10), ConvDiscriminator(shape, 8, "none", 10)
    G.eval()
    z, x = torch.randn(6, 16), torch.rand(6, *shape) * 2 - 1
    a, b = torch.tensor([0, 1, 2, 3, 4, 5]), torch.tensor([9, 8, 7, 6, 0, 5])
    differs = (G(z, a) - G(z, b)).flatten(1).abs().amax(dim=1)
    assert (differs[:5] > 1e-4).all() and differs[5] < 1e-6  # the last sample has the same class in both
    scores = (D(x, a) - D(x, b)).abs()
    assert (scores[:5] > 1e-5).all() and scores[5] < 1e-6


def test_transposed_convolutions_start_from_their_real_fan_in():
    """nn.ConvTranspose2d's default bound comes from its output channels: G's last layer (64 -> 1) drew U(+-1/4)
    and its images started saturated under a period-4 grid of dots, which WGAN-GP (no N(0, 0.02) init) kept for
    hundreds of steps. Each output pixel sums in_channels x (kernel / stride)^2 terms (in_channels on the 1 x 1
    input of the first layer): the bound is 1 / sqrt of that, as nn.Conv2d's."""
    torch.manual_seed(0)
    G = ConvGenerator(100, (1, 28, 28), 64, "batch")
    layers = [m for m in G.net if isinstance(m, torch.nn.ConvTranspose2d)]
    for layer, fan_in in zip(layers, (100, 128 * 4, 64 * 4), strict=True):
        bound = fan_in ** -0.5
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
    with torch.no_grad():
        x = G(torch.randn(512, 100))
    assert (x.abs() > 0.99).float().mean() < 0.001  # PyTorch's default bound: 11 % of the pixels saturated
    phases = torch.stack([x.mean(0)[0, i::4, j::4].mean() for i in range(4) for j in range(4)])
    assert phases.std() < 0.2  # PyTorch's default bound: 0.33, the grid of dots
