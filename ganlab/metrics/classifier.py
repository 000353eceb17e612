"""A small digit classifier that ganlab trains on a labelled dataset's real images, for offline image metrics.

Its penultimate features give ``fid_classifier`` (the Fréchet distance used by many MNIST GAN papers in place
of Inception's), its predictions give ``class_kl`` and, for conditional models, ``label_accuracy``; on
Stacked MNIST it reads each channel's digit to count the 1,000 modes. A trained classifier is cached in a file
named by the data's name, shape and a fingerprint of its pixels, so it is trained once per dataset.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.data import ImageTensors

FEATURES = 128  # width of the penultimate layer, the features of fid_classifier
CLASSIFIABLE = ("digits", "mnist", "fashion_mnist", "stacked_mnist")  # labelled data a classifier is trained for


class Classifier(nn.Module):
    """Two conv-ReLU-maxpool blocks, a 128-wide hidden layer (the features), then one logit per class."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(7), nn.Flatten(), nn.Linear(64 * 49, FEATURES), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURES, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))

    @torch.no_grad()
    def features_and_logits(self, x: Tensor, chunk: int = 1000) -> tuple[Tensor, Tensor]:
        """Penultimate features and logits of images in [-1, 1], in eval mode and in chunks."""
        self.eval()
        feats = torch.cat([self.body(x[i : i + chunk]) for i in range(0, len(x), chunk)])
        return feats, self.head(feats)


def default_cache_dir() -> Path:
    """``$GANLAB_CACHE``, else ``$XDG_CACHE_HOME/ganlab``, else ``~/.cache/ganlab``."""
    if os.environ.get("GANLAB_CACHE"):
        return Path(os.environ["GANLAB_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ganlab"


def fingerprint(images: Tensor, labels: Tensor) -> str:
    digest = hashlib.sha1(images.cpu().numpy().tobytes())
    digest.update(labels.cpu().numpy().tobytes())
    return digest.hexdigest()[:12]


def _split(train: ImageTensors, test: ImageTensors | None) -> tuple[Tensor, Tensor, Tensor, Tensor, str]:
    """Training and test tensors: the dataset's own test split, else a fixed sixth of the training set."""
    assert train.labels is not None
    if test is not None and test.labels is not None:
        return train.images, train.labels, test.images, test.labels, "test set"
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    held = order[: max(1, len(train) // 6)]
    kept = order[len(held) :]
    return train.images[kept], train.labels[kept], train.images[held], train.labels[held], "held-out sixth"


def accuracy(model: Classifier, images: Tensor, labels: Tensor) -> float:
    _, logits = model.features_and_logits(ImageTensors.normalise(images))
    return float((logits.argmax(1) == labels).float().mean())


def train_classifier(train: ImageTensors, test: ImageTensors | None, seed: int = 0,
                     log: Any = print) -> tuple[Classifier, float, str]:
    """Train on ``train`` (Adam with a one-cycle schedule, minibatches of 128; 3 epochs of a large set, else
    enough epochs to see about 25,000 images); returns the model in eval mode, its test accuracy and what it was
    measured on. Uses its own random stream, so a training run's stream is untouched."""
    x, y, x_test, y_test, where = _split(train, test)
    num_classes = int(train.num_classes or int(y.max()) + 1)
    device = x.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        model = Classifier(x.shape[1], num_classes).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        batch = 128
        epochs = 3 if len(x) > 20_000 else min(40, math.ceil(25_000 / len(x)))
        steps = epochs * math.ceil(len(x) / batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
        start = time.perf_counter()
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(x), device=device)
            for i in range(0, len(x), batch):
                idx = order[i : i + batch]
                loss = F.cross_entropy(model(ImageTensors.normalise(x[idx])), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
        acc = accuracy(model, x_test, y_test)
    log(f"ganlab: trained the {train.name} classifier on {len(x)} images, {epochs} epochs in "
        f"{time.perf_counter() - start:.0f} s: accuracy {acc:.2%} on the {where} ({len(x_test)} images).")
    return model.eval(), acc, where


def load_or_train_classifier(train: ImageTensors, test: ImageTensors | None, cache_dir: Path,
                             log: Any = print) -> tuple[Classifier, float]:
    """The classifier cached in ``cache_dir`` for exactly these images, else a newly trained one (then cached)."""
    assert train.labels is not None
    shape = "x".join(str(s) for s in train.shape)
    path = cache_dir / f"classifier_{train.name}_{shape}_{fingerprint(train.images, train.labels)}.pt"
    device = train.images.device
    if path.is_file():
        try:
            saved = torch.load(path, map_location=device, weights_only=True)
            model = Classifier(train.shape[0], saved["num_classes"]).to(device)
            model.load_state_dict(saved["state"])
            return model.eval(), float(saved["accuracy"])
        except Exception as err:  # a broken cache file is retrained, not fatal
            log(f"ganlab: cached classifier {path} is unreadable ({type(err).__name__}); training it again.")
    model, acc, where = train_classifier(train, test, log=log)
    state = {"state": model.state_dict(), "num_classes": model.head[-1].out_features, "accuracy": acc, "measured_on": where}
    try:
        from ganlab.training.checkpoint import save_checkpoint

        save_checkpoint(state, path)
        log(f"ganlab: classifier cached at {path}")
    except OSError as err:
        log(f"ganlab: could not cache the classifier in {cache_dir} ({err.strerror}); set eval.cache_dir=<dir>.")
    return model, acc
