"""A trained run's generator, rebuilt from its checkpoint without its data, and sampled in eval mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor, nn

from ganlab.config.guard import check_checkpoint
from ganlab.config.spec import DataSpec
from ganlab.errors import GanlabError
from ganlab.models import build_models
from ganlab.runs.checkpoint import load_checkpoint
from ganlab.runs.latent import grid_labels, latents

WEIGHTS = ("ema", "raw")  # the generator's exponential moving average ("G_ema") or its trained weights ("G")


@torch.no_grad()
def generate(G: nn.Module, z: Tensor, y: Tensor | None = None, chunk: int = 1024) -> Tensor:
    """G(z, y) in eval mode (BatchNorm on running statistics), in chunks; G's mode is restored after."""
    was_training = G.training
    G.eval()
    try:
        parts = [G(z[i : i + chunk], None if y is None else y[i : i + chunk]) for i in range(0, len(z), chunk)]
    finally:
        G.train(was_training)
    return torch.cat(parts).float()


class Generator(nn.Module):
    """A trained generator ready for inference: ``G(z, labels)`` gives samples (images in [-1, 1], or 2-D
    points), ``G.sample(n, labels, seed)`` draws them from its own Gaussian latents.

    ``config`` is the run's config (a dict), ``data`` what the generator makes, ``step`` the training step of
    its weights and ``weights`` which of them it holds (``ema`` or ``raw``).
    """

    def __init__(self, net: nn.Module, config: dict[str, Any], data: DataSpec, step: int, weights: str):
        super().__init__()
        self.net = net
        self.z_dim: int = net.z_dim
        self.num_classes: int | None = getattr(net, "num_classes", None)
        self.config, self.data, self.step, self.weights = config, data, step, weights

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(z, labels)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample(self, n: int, labels: int | Sequence[int] | Tensor | None = None, seed: int | None = None) -> Tensor:
        """``n`` samples as a float tensor on the generator's device. ``seed``: the latents of
        ``ganlab sample seed=<s> n=<n>`` (None: torch's global random stream). ``labels`` (conditional
        generators only): one class for all, or one per sample; None: the classes in equal shares, in order."""
        if n <= 0:
            raise GanlabError(f"n must be positive, got {n}.")
        z = latents(n, self.z_dim, seed).to(self.device)
        return generate(self, z, self.labels_for(n, labels))

    def labels_for(self, n: int, labels: int | Sequence[int] | Tensor | None) -> Tensor | None:
        """The int64 labels of ``n`` samples, checked against the generator's classes."""
        if not self.num_classes:
            if labels is not None:
                raise GanlabError(f"a label was given, but this generator (model {self.config['model']['name']}) "
                                  "is not conditional: drop label= (labels=).")
            return None
        if labels is None:
            return grid_labels(n, self.num_classes).to(self.device)
        y = torch.as_tensor(labels, dtype=torch.int64).to(self.device)
        y = y.expand(n).clone() if y.ndim == 0 else y
        if y.shape != (n,):
            raise GanlabError(f"labels must be one class or {n} of them, got shape {tuple(y.shape)}.")
        bad = y[(y < 0) | (y >= self.num_classes)]
        if len(bad):
            raise GanlabError(f"label {int(bad[0])} is out of range: this generator has classes "
                              f"0..{self.num_classes - 1}.")
        return y


def pick_weights(state: Mapping[str, Any], weights: str | None, source: Path) -> tuple[Mapping[str, Tensor], str]:
    """The generator weights ``weights`` asks for, and their name: ``raw`` (G), ``ema`` (G_ema, an error when
    absent), None: G_ema when the checkpoint has it, else G (each command's line says which it used)."""
    if weights not in (None, *WEIGHTS):
        raise GanlabError(f"weights={weights} is not known: use weights=ema (the generator's moving average) or "
                          "weights=raw (its trained weights).")
    if weights == "raw":
        return state["G"], "raw"
    if "G_ema" in state:
        return state["G_ema"], "ema"
    if weights == "ema":
        raise GanlabError(f"{source} holds no EMA generator (G_ema): its run was trained without one. Use "
                          "weights=raw, or train with the generator EMA.")
    return state["G"], "raw"


def rebuild_generator(config: dict[str, Any], data: dict[str, Any], weights: Mapping[str, Tensor], step: int,
                      which: str, source: Path) -> Generator:
    """The generator of a run's ``config`` for ``data`` (a :class:`DataSpec` dict) with ``weights``, eval mode."""
    try:
        spec = DataSpec.from_dict(data)
        G, _ = build_models(OmegaConf.create(config).model, spec)
        G.load_state_dict(weights)
    except GanlabError:
        raise
    except Exception as err:  # a config or weights that do not fit each other
        raise GanlabError(f"{source} does not hold a generator ganlab can rebuild ({type(err).__name__}: "
                          f"{str(err).splitlines()[0][:200] if str(err) else ''}). Use a file written by "
                          "this version of ganlab, or train anew.") from err
    return Generator(G, config, spec, step, which).eval()


def read_checkpoint_generator(path: Path, weights: str | None = "raw",
                              device: torch.device | str = "cpu") -> tuple[Generator, dict[str, Any]]:
    """The generator in the checkpoint file ``path`` (eval mode, on ``device``) and the checkpoint's state."""
    state = load_checkpoint(path)
    chosen, which = pick_weights(state, weights, path)
    G = rebuild_generator(state["config"], state["data"], chosen, int(state["step"]), which, path)
    return G.to(device), state


def read_run(run_dir: Path, checkpoint: str = "last", device: torch.device | str = "cpu",
             weights: str | None = "raw") -> tuple[Generator, dict[str, Any]]:
    """The generator of a run (eval mode, on ``device``) and its checkpoint's state (config, data, step, ...)."""
    if not run_dir.is_dir():
        raise GanlabError(f"run dir '{run_dir}' does not exist. Pass run=<dir> as printed by `ganlab train`.")
    check_checkpoint(checkpoint)
    name = checkpoint if checkpoint.endswith(".pt") else f"{checkpoint}.pt"
    return read_checkpoint_generator(run_dir / "checkpoints" / name, weights, device)
