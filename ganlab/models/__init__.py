"""Generators and discriminators. A network family is one module here that registers a :class:`Networks`
subclass (``@NETWORKS.register("name", params=...)``) and one YAML preset in ``configs/model/`` naming it in
``model.arch``; ``model.arch=auto`` picks the family made for the data's kind (``default_for``), which a data
set states when it registers (``kind=``)."""

from __future__ import annotations

from omegaconf import DictConfig
from torch import nn

from ganlab.config.spec import DataSpec
from ganlab.errors import GanlabError
from ganlab.models.layers import apply_spectral_norm, init_normal
from ganlab.registry import Registry


class Networks:
    """A family of G and D networks and what it supports."""

    kinds: tuple[str, ...] = ("image", "points")  # data kinds it can model
    default_for: tuple[str, ...] = ()  # data kinds for which model.arch=auto picks it
    channels_last = False  # convolutional: NHWC memory layout pays off
    bf16_on_cpu = False  # bf16 autocast pays off on a CPU with bf16 matrix units (device.precision=auto)

    @classmethod
    def check(cls, spec: DataSpec) -> None:
        """Raise a GanlabError when the family cannot model ``spec``'s data."""

    @classmethod
    def build(cls, cfg: DictConfig, spec: DataSpec, num_classes: int | None) -> tuple[nn.Module, nn.Module]:
        raise NotImplementedError


NETWORKS: Registry[type[Networks]] = Registry("model.arch", __name__, "network family", choose="model.arch=<name>")


def family_name(arch: str, kind: str) -> str:
    """The family ``model.arch`` names: for ``auto``, the one made for data of ``kind`` ("image", "points")."""
    if arch != "auto":
        return arch
    return next(name for name, fam in NETWORKS.items() if kind in fam.default_for)


def networks_for(cfg: DictConfig, spec: DataSpec) -> type[Networks]:
    """The family ``cfg.arch`` names, or for ``auto`` the one made for the data's kind."""
    arch = family_name(str(cfg.arch), spec.kind)
    family = NETWORKS[arch]
    if spec.kind not in family.kinds:
        others = [n for n, f in NETWORKS.items() if spec.kind in f.kinds]
        raise GanlabError(f"model.arch={arch} cannot model data={spec.name} ({spec.kind}). "
                          f"Use model.arch={' or '.join(['auto', *others])}.")
    family.check(spec)
    return family


def build_models(cfg: DictConfig, spec: DataSpec) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator for ``cfg`` (the ``model`` section) on data described by ``spec``."""
    if cfg.conditional and not spec.num_classes:
        raise GanlabError(
            f"model={cfg.name} is conditional and needs labelled data, but data={spec.name} has no labels. "
            "Use data=digits, mnist, fashion_mnist, cifar10 or a folder with class sub-folders, "
            "or set model.conditional=false."
        )
    G, D = networks_for(cfg, spec).build(cfg, spec, spec.num_classes if cfg.conditional else None)
    if cfg.init_std:
        init_normal(G, cfg.init_std)
        init_normal(D, cfg.init_std)
    if cfg.spectral_norm:
        apply_spectral_norm(D)
    return G, D


def norm_name(value: object) -> str:
    """A ``model.g_norm`` / ``model.d_norm`` value as its name."""
    return str(getattr(value, "value", value))


__all__ = ["NETWORKS", "Networks", "build_models", "family_name", "networks_for", "norm_name"]
