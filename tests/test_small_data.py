"""Training on few images: data.limit picks the same N for a seed, stratified by class, while evaluation still
compares with the whole data set; D's output on held-out real images is logged beside the training images'."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
from conftest import make_mnist, read_scalars, tiny_trainer
from omegaconf import OmegaConf
from test_references import make_test_split
from torch import nn

from ganlab.data import ImageTensors, load_dataset
from ganlab.data.base import quotas
from ganlab.errors import GanlabError
from ganlab.metrics.base import Settings
from ganlab.metrics.classifier import ClassifierMetrics
from ganlab.objectives import build_objective
from ganlab.training.monitor import HeldOutCheck

pytestmark = pytest.mark.usefixtures("single_thread")


def digits(limit: int | None = None, seed: int = 0):
    return load_dataset(OmegaConf.create({"name": "digits", "image_size": None, "limit": limit}), seed=seed)


def rows(data: ImageTensors) -> list[bytes]:
    return [bytes(im.numpy().tobytes()) + bytes([int(y)]) for im, y in zip(data.images, data.labels, strict=True)]


def test_data_limit_keeps_n_images_per_class_in_proportion_the_same_for_a_seed():
    full = digits()
    counts = torch.bincount(full.labels, minlength=10).double()
    part = digits(500, seed=3)
    assert len(part) == 500 and part.whole is not part and torch.equal(part.whole.images, full.images)
    kept = torch.bincount(part.labels, minlength=10).double()
    assert ((kept - 500 * counts / counts.sum()).abs() < 1).all()  # in proportion, rounded
    assert set(rows(part)) <= set(rows(full)) and len(set(rows(part))) == len(set(rows(full)) & set(rows(part)))
    again, other = digits(500, seed=3), digits(500, seed=4)
    assert torch.equal(again.images, part.images) and torch.equal(again.labels, part.labels)
    assert not torch.equal(other.images, part.images)
    assert torch.bincount(digits(10, seed=1).labels, minlength=10).tolist() == [1] * 10  # every class kept


def test_data_limit_without_labels_takes_the_first_n_of_the_seeded_shuffle():
    images = torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1).expand(50, 1, 4, 4).contiguous()
    part = ImageTensors("plain", images, None).limited(7, seed=5)
    first = torch.randperm(50, generator=torch.Generator().manual_seed(5))[:7].sort().values
    assert part.images[:, 0, 0, 0].tolist() == first.tolist()


def test_quotas_share_n_by_largest_remainders_within_each_class():
    assert quotas(torch.tensor([50, 30, 20]), 10).tolist() == [5, 3, 2]
    assert quotas(torch.tensor([1, 1, 98]), 10).tolist() == [1, 1, 8]  # each class one, the rest by share
    assert quotas(torch.tensor([5, 5, 5]), 7).tolist() in ([3, 2, 2], [2, 3, 2], [2, 2, 3])
    assert quotas(torch.tensor([3, 0, 9]), 12).tolist() == [3, 0, 9]
    assert quotas(torch.tensor([40, 30, 30]), 2).sum() == 2


def test_data_limit_refuses_more_images_than_there_are_and_generated_data():
    with pytest.raises(GanlabError, match=r"data.limit=5000 is more than the 1,797 training images of data=digits"):
        digits(5000)
    with pytest.raises(GanlabError, match="data.limit=10: data=grid25 draws a fresh sample"):
        load_dataset(OmegaConf.create({"name": "grid25", "std": 0.0, "limit": 10}))


def test_a_limited_run_is_judged_against_the_whole_data_and_logs_d_on_held_out_images(tmp_path):
    """The classifier, the training features of fid_classifier and the real data's reference are the whole
    data set's, whatever the limit; the run logs D/real_heldout and D/real_train at each log."""
    root, cache = tmp_path / "data", tmp_path / "cache"
    make_mnist(root)
    make_test_split(root, list(range(10)) * 3)
    config = {"name": "mnist", "root": str(root), "download": False, "image_size": None}
    full = load_dataset(OmegaConf.create(config))
    part = load_dataset(OmegaConf.create({**config, "limit": 20}), seed=1)
    settings = Settings(torch.device("cpu"), 64, cache_dir=cache, log=lambda s: None)
    on_full, on_part = ClassifierMetrics(full, settings), ClassifierMetrics(part, settings)
    assert len(part) == 20 and on_full.real_features is not None and on_part.real_features is not None
    assert len(on_part.real_features) == len(full)  # every one of the 64 images, not the 20 it trained on
    assert torch.equal(on_part.real_features, on_full.real_features)
    assert on_part.reference() == on_full.reference()

    run = tmp_path / "run"
    tiny_trainer(run, "model=dcgan", "data=mnist", f"data.root={root}", "data.limit=20", f"eval.cache_dir={cache}",
                 "eval.at_end=false").fit()
    scalars = read_scalars(run)
    assert [s for s, _ in scalars["D/real_heldout"]] == [5, 10, 15, 20] == [s for s, _ in scalars["D/real_train"]]
    assert all(0 < v < 1 for _, v in scalars["D/real_heldout"] + scalars["D/real_train"])  # probabilities

    critic = tmp_path / "critic"  # a critic's raw outputs are named as such (training/tags.py)
    tiny_trainer(critic, "model=wgan_gp", "data=mnist", f"data.root={root}", "data.limit=20",
                 f"eval.cache_dir={cache}", "eval.at_end=false").fit()
    logged = read_scalars(critic)
    assert len(logged["D/critic_real_heldout"]) == len(logged["D/critic_real_train"]) == 4
    assert "D/real_heldout" not in logged


LOGISTIC = build_objective({"name": "non_saturating"})  # D outputs a logit, reported as its sigmoid


class NoisyD(nn.Module):
    """BatchNorm (running statistics), dropout (random) and spectral norm (a power iteration): all a D may
    change or draw when it runs in training mode."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.utils.parametrizations.spectral_norm(nn.Linear(64, 16)),
                                 nn.BatchNorm1d(16), nn.LeakyReLU(0.2), nn.Dropout(0.5), nn.Linear(16, 1))

    def forward(self, x, y=None):
        return self.net(x).view(-1)


def test_the_held_out_check_measures_d_as_it_trains_and_leaves_the_run_as_it_was():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (200, 1, 8, 8), dtype=torch.uint8)
    test = ImageTensors("t_test", images[150:], None)
    data = ImageTensors("t", images[:150], None, test=lambda: test)
    D = NoisyD()
    check = HeldOutCheck(D, data, LOGISTIC, 32, seed=7, device=torch.device("cpu"),
                         autocast=contextlib.nullcontext)
    buffers, rng = [b.clone() for b in D.buffers()], torch.get_rng_state()
    values = check.measure()
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(a, b) for a, b in zip(buffers, D.buffers(), strict=True)) and D.training
    assert D.net[4].training  # the dropout is back in training mode
    twin = copy.deepcopy(D)
    twin.net[4].eval()
    with torch.no_grad():
        held = ImageTensors.normalise(test.images[torch.randperm(50, generator=torch.Generator().manual_seed(0))[:32]])
        expected = torch.sigmoid(twin(held)).mean()
    assert values["D/real_heldout"] == pytest.approx(float(expected), rel=1e-6)
    assert values.keys() == {"D/real_heldout", "D/real_train"} and check.measure() == values  # nothing moved
    cpu = torch.device("cpu")
    assert HeldOutCheck(D, digits(), LOGISTIC, 32, 0, cpu, contextlib.nullcontext).measure() == {}
    grid = load_dataset(OmegaConf.create({"name": "grid25", "std": 0.0}))
    assert HeldOutCheck(nn.Linear(2, 1), grid, LOGISTIC, 32, 0, cpu,
                        contextlib.nullcontext).measure() == {}


def test_the_fixed_batches_come_from_their_own_seeded_stream():
    data = ImageTensors("t", torch.randint(0, 256, (100, 1, 8, 8), dtype=torch.uint8), None,
                        test=lambda: ImageTensors("t_test", torch.zeros(10, 1, 8, 8, dtype=torch.uint8), None))
    D, state = NoisyD(), torch.get_rng_state()
    first = HeldOutCheck(D, data, LOGISTIC, 16, 3, torch.device("cpu"), contextlib.nullcontext)
    assert torch.equal(torch.get_rng_state(), state)
    second = HeldOutCheck(D, data, LOGISTIC, 16, 3, torch.device("cpu"), contextlib.nullcontext)
    assert torch.equal(first.batches[0][1], second.batches[0][1]) and len(first.batches[1][1]) == 10
