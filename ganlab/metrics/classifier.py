"""A small digit classifier that ganlab trains on a labelled dataset's real images, for offline image metrics.

It judges any data set that names labelled images for it (``Dataset.classifier_data``). Its penultimate
features give ``fid_classifier`` (the Fréchet distance used by many MNIST GAN papers in place of Inception's),
its predictions give ``class_kl`` and, for conditional models, ``label_accuracy``; on data whose classes are
modes to count (Stacked MNIST: the data set reads a sample's label from the classifier's readings), ``modes``
and ``reverse_kl``. A trained classifier is cached in a file named by the data's name, shape and a fingerprint
of its pixels, so it is trained once per data set.
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

from ganlab.data import Dataset, ImageTensors
from ganlab.errors import GanlabError
from ganlab.metrics import METRICS
from ganlab.metrics.base import Headline, Metric, Settings
from ganlab.metrics.frechet import frechet_distance_of
from ganlab.metrics.toy import kl_to_uniform
from ganlab.runs import save_checkpoint

FEATURES = 128  # width of the penultimate layer, the features of fid_classifier


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
        save_checkpoint(state, path)
        log(f"ganlab: classifier cached at {path}")
    except GanlabError as err:  # not fatal: the classifier is trained again next time
        log(f"ganlab: could not cache the classifier ({err}) Set eval.cache_dir=<dir> to cache it elsewhere.")
    return model, acc


@METRICS.register("classifier")
class ClassifierMetrics(Metric):
    """``fid_classifier``, ``class_kl`` (or ``modes`` and ``reverse_kl``), ``label_accuracy`` and the judge's own
    ``classifier_accuracy``, for data that names the labelled images its classifier learns from."""

    headlines = (Headline("reverse_kl", lower_is_better=True, rank=10),
                 Headline("fid_classifier", lower_is_better=True, rank=20))

    @classmethod
    def applies(cls, data: Dataset, settings: Settings) -> bool:
        return data.classifier_data() is not None and bool(data.num_classes)

    def __init__(self, data: Dataset, settings: Settings):
        super().__init__(data, settings)
        judged = data.classifier_data()
        assert judged is not None
        cache = settings.cache_dir or data.cache_dir or default_cache_dir()
        self.model, self.accuracy = load_or_train_classifier(judged, judged.test_split(), cache, log=settings.log)
        self.real_features: Tensor | None = None
        self.held: tuple[Tensor, Tensor, str] | None = None  # the real images the classifier held out, for the reference
        if judged is data.whole:  # real features for fid_classifier, from a fixed subset of the images it trained on
            x, _, x_held, y_held, where = _split(judged, judged.test_split())
            idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[: settings.n]
            self.real_features = self.model.features_and_logits(ImageTensors.normalise(x[idx.to(x.device)]))[0]
            held = torch.randperm(len(x_held), generator=torch.Generator().manual_seed(0))[: settings.n].to(x.device)
            self.held = (x_held[held], y_held[held], where)

    def classify(self, images: Tensor) -> Tensor:
        return self.model.features_and_logits(images)[1].argmax(1)

    def __call__(self, fake: Tensor, y: Tensor | None) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.real_features is not None:
            feats, logits = self.model.features_and_logits(fake)
            pred = logits.argmax(1)
            out["fid_classifier"] = frechet_distance_of(feats.cpu().numpy(), self.real_features.cpu().numpy())
        else:
            pred = self.data.read_labels(self.classify, fake)
        counts = torch.bincount(pred, minlength=int(self.data.num_classes or 0))
        if self.data.counts_modes:
            out.update({"modes": float((counts > 0).sum()), "reverse_kl": kl_to_uniform(counts)})
        else:
            out["class_kl"] = kl_to_uniform(counts)
        if y is not None:
            out["label_accuracy"] = float((pred == y).float().mean())
        out["classifier_accuracy"] = float(self.accuracy)
        return out

    def reference(self) -> tuple[dict[str, float], str] | None:
        """The metrics of the real images the classifier held out (data it judges through another, such as Stacked
        MNIST: fresh real samples); ``classifier_accuracy`` is the judge's own, not a sample's."""
        if self.held is None:
            found = super().reference()
        else:
            images, labels, where = self.held
            found = self(ImageTensors.normalise(images), labels), f"{len(images)} images of the {where}"
        if found is None:
            return None
        values, source = found
        return {k: v for k, v in values.items() if k != "classifier_accuracy"}, source
