"""Pieces shared by the MLP and convolutional networks: normalisation, label conditioning, initialisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def norm_layer(kind: str, features: int, conv: bool) -> nn.Module:
    """``batch``, ``layer`` (over all features of a sample) or ``none``."""
    if kind == "batch":
        return nn.BatchNorm2d(features) if conv else nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.GroupNorm(1, features) if conv else nn.LayerNorm(features)
    return nn.Identity()


def with_label(x: Tensor, y: Tensor | None, num_classes: int | None) -> Tensor:
    """Concatenate a one-hot label to a flat input, or as constant planes to an image (Mirza & Osindero 2014)."""
    if not num_classes:
        return x
    if y is None:
        raise ValueError("this network is conditional: pass the class labels")
    onehot = F.one_hot(y, num_classes).to(x.dtype)
    if x.ndim == 4:
        onehot = onehot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
    return torch.cat([x, onehot], dim=1)


def init_normal(module: nn.Module, std: float) -> None:
    """DCGAN's initialisation: weights from N(0, std), normalisation scales from N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) of every linear and convolutional layer."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            apply_spectral_norm(child)
    return module
