"""FID, KID, Inception Score and precision/recall (Kynkäänniemi et al. 2019) through torch-fidelity.

torch-fidelity computes all four from one pass of its Inception-v3 (the TensorFlow FID network, ported with
matching outputs), so the numbers compare with published ones. Its weights cannot be downloaded here: they come
from ``eval.inception_weights=<file>`` or torch-fidelity's own cache (torch hub's checkpoints folder).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ganlab.data import Dataset, ImageTensors
from ganlab.errors import GanlabError
from ganlab.metrics import METRICS
from ganlab.metrics.base import Headline, Metric, Settings

INCEPTION_METRICS = ("fid", "kid", "inception_score", "precision", "recall")


def cached_weights() -> Path:
    """Where torch-fidelity keeps the Inception weights it downloads (torch hub's checkpoints folder)."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return Path(torch.hub.get_dir()) / "checkpoints" / URL_INCEPTION_V3.rsplit("/", 1)[-1]


def check_weights(path: Path) -> Path:
    """``path`` if it holds only tensors (read with ``weights_only=True``): torch-fidelity unpickles the file
    with code execution allowed, so nothing else may reach it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError("it is not a dict of tensors")
    except Exception as err:
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        raise GanlabError(f"{path} is not the Inception weights ({type(err).__name__}: {first}); nothing in it was "
                          f"run. Pass torch-fidelity's Inception-v3 weights file ({cached_weights().name}) with "
                          "eval.inception_weights=<file>, or drop the key.") from err
    return path


def find_weights(path: str | None) -> Path | None:
    """The Inception weights to use: ``path`` when given (it must exist), else the library's cache, else None."""
    if path:
        given = Path(path).expanduser()
        if not given.is_file():
            raise GanlabError(f"eval.inception_weights={path}: no such file. Pass the file of torch-fidelity's "
                              f"Inception-v3 weights ({cached_weights().name}), or drop the key.")
        return check_weights(given)
    try:
        cached = cached_weights()
    except ImportError:
        return None
    return check_weights(cached) if cached.is_file() else None


def missing_weights_note() -> str:
    return ("ganlab: no Inception weights (pass eval.inception_weights=<file>, or put them in torch-fidelity's cache "
            f"{cached_weights()}); skipping {', '.join(INCEPTION_METRICS)}.")


class _Images(torch.utils.data.Dataset):
    """Images in [-1, 1] as the uint8 RGB tensors torch-fidelity reads."""

    def __init__(self, images: Tensor):
        x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
        self.images = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tensor:
        return self.images[i]


def inception_metrics(fake: Tensor, real: Tensor, weights: Path, cuda: bool = False) -> dict[str, float]:
    """FID, KID, Inception Score, precision and recall of ``fake`` (images in [-1, 1]) against ``real``."""
    import torch_fidelity

    try:
        out = torch_fidelity.calculate_metrics(
            input1=_Images(fake), input2=_Images(real), isc=True, fid=True, kid=True, prc=True,
            feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(weights),
            kid_subset_size=min(1000, len(fake), len(real)), cuda=cuda, cache=False, verbose=False,
            save_cpu_ram=True,
        )
    except Exception as err:  # a file that is not the weights fails in torch.load or load_state_dict
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise GanlabError(f"the Inception weights {weights} could not be used ({type(err).__name__}: {first}). Pass torch-fidelity's "
                          f"Inception-v3 weights file ({cached_weights().name}) with eval.inception_weights=<file>.") from err
    return {
        "fid": float(out[torch_fidelity.KEY_METRIC_FID]),
        "kid": float(out[torch_fidelity.KEY_METRIC_KID_MEAN]),
        "inception_score": float(out[torch_fidelity.KEY_METRIC_ISC_MEAN]),
        "precision": float(out[torch_fidelity.KEY_METRIC_PRECISION]),
        "recall": float(out[torch_fidelity.KEY_METRIC_RECALL]),
    }


@METRICS.register("inception")
class InceptionMetrics(Metric):
    """FID, KID, IS, precision and recall of any images, when the Inception weights are at hand (else one line
    says they are skipped)."""

    headlines = (Headline("fid", lower_is_better=True, rank=30),)

    @classmethod
    def applies(cls, data: Dataset, settings: Settings) -> bool:
        if data.kind != "image":
            return False
        if find_weights(settings.inception_weights) is None:
            settings.log(missing_weights_note())
            return False
        return True

    def __init__(self, data: Dataset, settings: Settings):
        super().__init__(data, settings)
        self.weights = find_weights(settings.inception_weights)

    def real_images(self) -> Tensor:
        if isinstance(self.data, ImageTensors):
            idx = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(1))[: self.settings.n]
            return ImageTensors.normalise(self.data.images[idx.to(self.data.images.device)])
        return self.data.sample(self.settings.n)[0]

    def __call__(self, fake: Tensor, y: Tensor | None) -> dict[str, float]:
        assert self.weights is not None
        torch.manual_seed(self.settings.seed)
        return inception_metrics(fake, self.real_images(), self.weights, self.settings.device.type == "cuda")
