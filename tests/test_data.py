"""The dataset readers, on small files written in the real formats (IDX, CIFAR-10 pickles, PNG folders)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_cifar10, make_image_folder, make_mnist, write_idx
from omegaconf import OmegaConf

from ganlab.config.parts import fields_of
from ganlab.data import DATASETS, load_dataset
from ganlab.data.base import ImageTensors
from ganlab.data.idx import read_idx
from ganlab.data.mnist import StackedDigits, stack_label
from ganlab.errors import GanlabError


def data_cfg(name: str, **kw):
    """The data section of a config choosing ``name``: its keys at their defaults, ``kw`` on top."""
    own = {k: key.default for k, key in fields_of(DATASETS.params().get(name)).items()}
    return OmegaConf.create({"name": name, "image_size": None, **own, **kw})


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_idx_files_round_trip(tmp_path, name, folder, gz):
    images, labels = make_mnist(tmp_path, n=30, folder=folder, gz=gz)
    data = load_dataset(data_cfg(name=name, root=str(tmp_path)))
    assert data.shape == (1, 28, 28) and data.num_classes == 10 and len(data) == 30
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    assert torch.equal(data.labels, torch.from_numpy(labels.astype(np.int64)))
    torch.manual_seed(0)
    x, y = data.sample(7)
    torch.manual_seed(0)
    idx = torch.randint(30, (7,))  # the rows a batch draws: uniform indices, images and labels alike
    assert x.dtype == torch.float32 and torch.equal(y, data.labels[idx])
    torch.testing.assert_close(x, torch.from_numpy(images[idx.numpy()]).float().unsqueeze(1) / 127.5 - 1, rtol=0, atol=1e-6)


def test_images_are_scaled_to_the_generators_range():
    """uint8 0..255 onto [-1, 1], the range of G's tanh: 0 -> -1, 127.5 -> 0, 255 -> 1."""
    pixels = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert ImageTensors.normalise(pixels).tolist() == pytest.approx([-1.0, 51 / 127.5 - 1, 1.0])


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
    """Each image gets its own sub-folder's label, the sub-folders numbered in sorted order."""
    from PIL import Image

    colours = {"zebra": (250, 0, 0), "ant": (0, 250, 0), "moth": (0, 0, 250)}  # sorted: ant 0, moth 1, zebra 2
    for name, colour in colours.items():
        (tmp_path / name).mkdir()
        for j in range(2):
            Image.new("RGB", (40, 48), colour).save(tmp_path / name / f"{j}.png")
    data = load_dataset(data_cfg(name="folder", path=str(tmp_path), image_size=16, channels=3))
    assert data.shape == (3, 16, 16) and len(data) == 6 and data.num_classes == 3
    brightest_plane = data.images.float().mean(dim=(2, 3)).argmax(dim=1)  # red 0, green 1, blue 2
    label_of_plane = {0: 2, 1: 0, 2: 1}  # red: zebra, green: ant, blue: moth
    assert data.labels.tolist() == [label_of_plane[int(p)] for p in brightest_plane]
    assert sorted(data.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    assert data.images[0, 1].float().mean() > 240 and data.images[0, 0].float().mean() < 10  # ant: green, unmixed


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


def test_stacked_mnist_label_is_the_three_digits_read_as_a_number():
    assert stack_label(torch.tensor([[1, 2, 3], [0, 0, 7], [9, 0, 9]])).tolist() == [123, 7, 909]


def test_stacked_mnist_samples_stack_three_digit_images_under_their_label():
    """Each sample is three single-digit images as R, G and B, labelled 100 a + 10 b + c by their digits."""
    digits = torch.arange(10).repeat(3)
    images = (digits * 20).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 4, 4).contiguous()  # pixel = 20 * digit
    stacked = StackedDigits("stacked", ImageTensors("digits", images, digits, 10))
    assert stacked.shape == (3, 4, 4) and stacked.num_classes == 1000
    x, y = stacked.sample(500)
    read = ((x[:, :, 0, 0] + 1) * 127.5 / 20).round().long()  # each plane's digit
    assert torch.equal(y, read[:, 0] * 100 + read[:, 1] * 10 + read[:, 2])
    assert len(y.unique()) > 350  # fresh triples: most of the 1,000 classes among 500 samples

    def classify(planes: torch.Tensor) -> torch.Tensor:  # a perfect reader of single-digit images
        return ((planes[:, 0, 0, 0] + 1) * 127.5 / 20).round().long()

    assert torch.equal(stacked.read_labels(classify, x), y)


def test_toy_mixtures_are_centred_where_veegan_and_pacgan_put_them():
    ring = load_dataset(data_cfg(name="ring8", std=0.0)).centers.double()
    k = torch.arange(8, dtype=torch.float64) * 2 * np.pi / 8
    torch.testing.assert_close(ring, torch.stack([k.cos(), k.sin()], dim=1), rtol=0, atol=1e-6)
    grid = load_dataset(data_cfg(name="grid25", std=0.0)).centers
    assert sorted(map(tuple, grid.tolist())) == [(float(a), float(b)) for a in range(-4, 5, 2) for b in range(-4, 5, 2)]
    assert load_dataset(data_cfg(name="ring8", std=0.0)).std == 0.01 and load_dataset(data_cfg(name="grid25", std=0.0)).std == 0.05


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
