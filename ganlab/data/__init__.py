"""Datasets as tensors that live on the training device, sampled by index (no DataLoader, no per-item work).

``load_dataset(cfg.data)`` returns an :class:`ImageTensors` (uint8 images, normalised to [-1, 1] on the fly)
or a :class:`GaussianMixture` (2-D points drawn fresh each batch).
"""

from ganlab.data.base import Dataset, ImageTensors
from ganlab.data.loaders import DATASETS, load_dataset
from ganlab.data.toys import GaussianMixture

__all__ = ["DATASETS", "Dataset", "GaussianMixture", "ImageTensors", "load_dataset"]
