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
