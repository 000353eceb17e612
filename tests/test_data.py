"""The dataset readers, on small files written in the real formats (IDX, CIFAR-10 pickles, PNG folders)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_cifar10, make_image_folder, make_mnist, write_idx
from omegaconf import OmegaConf

from ganlab.commands.config import schema
from ganlab.data import load_dataset
from ganlab.data.idx import read_idx
from ganlab.errors import GanlabError


def data_cfg(**kw):
    return OmegaConf.merge(OmegaConf.structured(schema()().data), kw)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_idx_files_round_trip(tmp_path, name, folder, gz):
    images, labels = make_mnist(tmp_path, n=30, folder=folder, gz=gz)
    data = load_dataset(data_cfg(name=name, root=str(tmp_path)))
    assert data.shape == (1, 28, 28) and data.num_classes == 10 and len(data) == 30
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    assert torch.equal(data.labels, torch.from_numpy(labels.astype(np.int64)))
    x, y = data.sample(7)
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1 and y.shape == (7,)


def test_idx_reader_rejects_truncated_and_foreign_files(tmp_path):
    path = tmp_path / "imgs"
    write_idx(path, np.zeros((4, 3, 3), np.uint8))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(GanlabError, match="truncated"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(GanlabError, match="not an IDX file"):
        read_idx(path)


def test_cifar10_pickles(tmp_path):
    batches = make_cifar10(tmp_path, per_batch=6)
    data = load_dataset(data_cfg(name="cifar10", root=str(tmp_path)))
    assert data.shape == (3, 32, 32) and len(data) == 30 and data.num_classes == 10
    first = torch.from_numpy(batches[0][0][0].reshape(3, 32, 32))
    assert torch.equal(data.images[0], first)  # rows are R plane, G plane, B plane
    assert data.labels.tolist()[:6] == batches[0][1]


def test_missing_files_name_what_to_put_where(tmp_path):
    with pytest.raises(GanlabError) as err:
        load_dataset(data_cfg(name="cifar10", root=str(tmp_path)))
    msg = str(err.value)
    assert "data_batch_1" in msg and "cifar-10-batches-py" in msg and "data.root" in msg
    with pytest.raises(GanlabError, match="train-images-idx3-ubyte"):
        load_dataset(data_cfg(name="mnist", root=str(tmp_path)))


def test_image_folder_with_classes_and_resize(tmp_path):
    make_image_folder(tmp_path, classes=("a", "b", "c"), per_class=2, size=40)
    data = load_dataset(data_cfg(name="folder", path=str(tmp_path), image_size=16, channels=3))
    assert data.shape == (3, 16, 16) and len(data) == 6 and data.num_classes == 3
    assert sorted(data.labels.tolist()) == [0, 0, 1, 1, 2, 2]


def test_flat_image_folder_is_unlabelled_and_grayscale(tmp_path):
    make_image_folder(tmp_path, classes=(), per_class=3, size=20)
    data = load_dataset(data_cfg(name="folder", path=str(tmp_path), image_size=8, channels=1))
    assert data.shape == (1, 8, 8) and data.num_classes is None
    with pytest.raises(GanlabError, match="data.path"):
        load_dataset(data_cfg(name="folder"))


def test_digits_bundled_and_resized():
    data = load_dataset(data_cfg(name="digits"))
    assert data.shape == (1, 8, 8) and len(data) == 1797 and data.num_classes == 10
    assert data.images.max() == 255
    big = load_dataset(data_cfg(name="digits", image_size=32))
    assert big.shape == (1, 32, 32)


@pytest.mark.parametrize("name,n_modes,std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_toy_mixtures_match_their_definition(name, n_modes, std):
    data = load_dataset(data_cfg(name=name, std=std))
    assert len(data.centers) == n_modes
    torch.manual_seed(0)
    x, y = data.sample(20000)
    assert y is None and x.shape == (20000, 2)
    nearest = torch.cdist(x, data.centers).min(dim=1).values
    # distance to the nearest centre of a 2-D Gaussian is Rayleigh(std): mean std * sqrt(pi / 2)
    assert abs(nearest.mean().item() - std * (np.pi / 2) ** 0.5) < 0.05 * std
    counts = torch.bincount(torch.cdist(x, data.centers).argmin(dim=1), minlength=n_modes)
    assert counts.min() > 0.7 * 20000 / n_modes
