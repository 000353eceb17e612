"""``Evaluator``: the metrics that fit a run's data, computed from its generator on a fixed batch of noise.

- 2-D mixtures: the VEEGAN / PacGAN protocol (``modes``, ``hq_fraction``, ``reverse_kl``) on 2,500 points.
- digits, MNIST, Fashion-MNIST: a classifier trained on the real images gives ``fid_classifier``, ``class_kl``
  and, for conditional models, ``label_accuracy``; Stacked MNIST: ``modes`` and ``reverse_kl`` over its
  1,000 classes, each channel's digit read by the MNIST classifier.
- any images: FID, KID, Inception Score, precision and recall, when Inception weights are at hand.

Evaluating never draws from the training run's random stream: noise and labels come from the evaluator's own
generator, and everything else runs inside ``torch.random.fork_rng``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data import Dataset, ImageTensors
from ganlab.metrics.frechet import frechet_distance_of
from ganlab.metrics.toy import TOY_SAMPLES, kl_to_uniform, mode_metrics

IMAGE_SAMPLES = 10_000
STACKED_SAMPLES = 26_000  # PacGAN's count for Stacked MNIST's 1,000 modes


@dataclass(frozen=True)
class Headline:
    """The metric that ranks runs and keeps checkpoints/best.pt."""

    name: str
    lower_is_better: bool

    def better(self, new: float, old: float | None) -> bool:
        if not math.isfinite(new):
            return False
        if old is None or not math.isfinite(old):
            return True
        return new < old if self.lower_is_better else new > old


# the metric that ranks runs of a kind of data: the first of these that a run's metrics have
HEADLINES = (Headline("reverse_kl", True), Headline("fid_classifier", True), Headline("fid", True))


def headline_for(metrics: Any) -> Headline | None:
    """The headline metric among ``metrics`` (names): reverse KL for mode-counting data (2-D toys, Stacked
    MNIST), else the classifier's Fréchet distance, else FID; None when none is there."""
    return next((h for h in HEADLINES if h.name in metrics), None)


def default_samples(data: Dataset) -> int:
    if data.kind == "points":
        return TOY_SAMPLES
    return STACKED_SAMPLES if data.name == "stacked_mnist" else IMAGE_SAMPLES


def classifier_cache_dir(data_cfg: Any, cache_dir: str | None) -> Path:
    """``eval.cache_dir``, else ``<data.root>/ganlab`` for data read from files, else the user cache."""
    from ganlab.metrics.classifier import default_cache_dir

    if cache_dir:
        return Path(cache_dir).expanduser()
    if data_cfg.name == "digits":
        return default_cache_dir()
    return Path(data_cfg.root).expanduser() / "ganlab"


class Evaluator:
    """Metrics of a generator for ``data``; set up once (classifier, real features), then called per evaluation."""

    def __init__(self, data: Dataset, data_cfg: Any, device: torch.device, n: int | None = None,
                 inception_weights: str | None = None, cache_dir: str | None = None, seed: int = 0, log: Any = print):
        from ganlab.metrics.classifier import CLASSIFIABLE
        from ganlab.metrics.inception import find_weights, missing_weights_note

        self.data, self.log, self.seed = data, log, seed
        self.n = int(n or default_samples(data))
        self.device = device
        self.classifier: nn.Module | None = None
        self.classifier_accuracy: float | None = None
        self.real_features: Tensor | None = None
        self.weights: Path | None = None
        with torch.random.fork_rng(devices=self._cuda()):
            if data.kind == "image":
                self.weights = find_weights(inception_weights)
                if self.weights is None:
                    log(missing_weights_note())
                if data.name in CLASSIFIABLE and data.num_classes:
                    self._setup_classifier(data_cfg, cache_dir)
        self.headline: Headline | None = None  # known after the first evaluation

    def _cuda(self) -> list[torch.device]:
        return [self.device] if self.device.type == "cuda" else []

    def _setup_classifier(self, data_cfg: Any, cache_dir: str | None) -> None:
        from ganlab.data.loaders import load_test_split
        from ganlab.metrics.classifier import load_or_train_classifier

        digits = getattr(self.data, "digits", self.data)  # Stacked MNIST: the single-digit images
        assert isinstance(digits, ImageTensors)
        test = load_test_split(data_cfg)
        if test is not None:
            test.to(self.device)
        self.classifier, self.classifier_accuracy = load_or_train_classifier(
            digits, test, classifier_cache_dir(data_cfg, cache_dir), log=self.log)
        if self.data is digits:  # real features for fid_classifier, from a fixed subset of the training images
            idx = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))[: self.n]
            real = ImageTensors.normalise(digits.images[idx.to(self.device)])
            self.real_features = self.classifier.features_and_logits(real)[0]

    @torch.no_grad()
    def __call__(self, G: nn.Module) -> dict[str, float]:
        """The metrics of ``G`` (a float each), on ``n`` samples from the evaluator's fixed noise."""
        from ganlab.training.samples import generate

        gen = torch.Generator().manual_seed(self.seed)
        z = torch.randn(self.n, G.z_dim, generator=gen).to(self.device)
        num_classes = getattr(G, "num_classes", None)
        y = torch.randint(num_classes, (self.n,), generator=gen).to(self.device) if num_classes else None
        with torch.random.fork_rng(devices=self._cuda()):
            fake = generate(G, z, y)
            metrics: dict[str, float] = {}
            if self.data.kind == "points":
                metrics.update(mode_metrics(fake, self.data.centers, self.data.std))  # type: ignore[attr-defined]
            if self.classifier is not None:
                metrics.update(self._classifier_metrics(fake, y))
                metrics["classifier_accuracy"] = float(self.classifier_accuracy or 0.0)
            if self.weights is not None:
                from ganlab.metrics.inception import inception_metrics

                torch.manual_seed(self.seed)
                metrics.update(inception_metrics(fake, self._real_images(), self.weights, self.device.type == "cuda"))
        self.headline = headline_for(metrics)
        return metrics

    def _classifier_metrics(self, fake: Tensor, y: Tensor | None) -> dict[str, float]:
        assert self.classifier is not None
        if self.data.name == "stacked_mnist":  # one digit per channel -> one of 1,000 classes
            _, logits = self.classifier.features_and_logits(fake.flatten(0, 1).unsqueeze(1))
            digits = logits.argmax(1).view(-1, 3)
            pred = (digits * torch.tensor([100, 10, 1], device=digits.device)).sum(1)
            counts = torch.bincount(pred, minlength=1000)
            out = {"modes": float((counts > 0).sum()), "reverse_kl": kl_to_uniform(counts)}
        else:
            feats, logits = self.classifier.features_and_logits(fake)
            pred = logits.argmax(1)
            counts = torch.bincount(pred, minlength=logits.shape[1])
            out = {"class_kl": kl_to_uniform(counts)}
            if self.real_features is not None:
                out["fid_classifier"] = frechet_distance_of(feats.cpu().numpy(), self.real_features.cpu().numpy())
        if y is not None:
            out["label_accuracy"] = float((pred == y).float().mean())
        return out

    def _real_images(self) -> Tensor:
        images = getattr(self.data, "images", None)
        if isinstance(self.data, ImageTensors) and images is not None:
            idx = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(1))[: self.n]
            return ImageTensors.normalise(images[idx.to(images.device)])
        return self.data.sample(self.n)[0]



def metrics_table(metrics: dict[str, float], step: int) -> str:
    """A two-column text table of ``metrics`` at ``step``."""
    width = max(len("metric"), *(len(k) for k in metrics)) if metrics else len("metric")
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}", f"{'step':<{width}}  {step}"]
    lines += [f"{k:<{width}}  {v:.4g}" for k, v in metrics.items()]
    return "\n".join(lines)


def write_metrics_json(path: Path, step: int, metrics: dict[str, float]) -> None:
    """``{"step": int, "<metric>": float, ...}``; an undefined value (NaN) is written as null."""
    import json

    values = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"step": int(step), **values}, indent=2) + "\n")
