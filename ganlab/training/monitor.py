"""Live diagnostics at every log: the D gap, a mode-collapse signal, and console warnings when training fails.

- ``D/gap`` = D/real - D/fake: how far apart D puts real and fake, as probabilities; it widening to 1 while
  Loss/G climbs is D winning outright. A critic's is ``D/critic_gap``, on its own scale (training/tags.py).
- ``Diversity/pairwise``: the mean pairwise distance of G's samples for a fixed batch of noise, as a share of
  the same for a fixed batch of real data. Near 1 the samples spread like the data; near 0 they have collapsed.

The fixed noise and real batch come from their own seeded streams, so the training run's stream is untouched.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data import Dataset
from ganlab.runs import generate
from ganlab.training import tags

DIVERSITY_BATCH = 256  # samples in the fixed-noise batch and the real batch
WARMUP = 0.25  # no collapse warning in the first quarter of training, while G is still spreading out


def mean_pairwise_distance(x: Tensor) -> float:
    """The mean Euclidean distance between distinct pairs of rows of ``x`` (flattened)."""
    flat = x.flatten(1).float()
    n = len(flat)
    return float(torch.pdist(flat).sum() * 2 / (n * (n - 1))) if n > 1 else 0.0


class Monitor:
    """Adds the diagnostic scalars to each log and says when something looks wrong (once per episode)."""

    def __init__(self, cfg: Any, G: nn.Module, data: Dataset, *, z: Tensor, y: Tensor | None, probabilistic: bool,
                 seed: int, device: torch.device, total_steps: int):
        self.cfg, self.probabilistic, self.G = cfg, probabilistic, G
        self.out = tags.d_outputs(probabilistic)
        self.z, self.y = z[:DIVERSITY_BATCH], None if y is None else y[:DIVERSITY_BATCH]
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed + 1)
            real = data.sample(len(self.z))[0]
        self.real_spread = max(mean_pairwise_distance(real), 1e-12)
        self.warmup_step = int(WARMUP * total_steps)
        self.d_wins_logs = self.collapse_logs = 0

    def measure(self, values: dict[str, float]) -> dict[str, float]:
        """D's gap and the samples' diversity for the statistics just logged."""
        fake = generate(self.G, self.z, self.y)
        return {self.out.gap: values[self.out.real] - values[self.out.fake],
                tags.DIVERSITY: mean_pairwise_distance(fake) / self.real_spread}

    def warnings(self, values: dict[str, float], step: int) -> list[str]:
        """Console warnings: D winning outright, or the samples' spread collapsing, for ``warn_window`` logs."""
        c, out = self.cfg, []
        if self.probabilistic:
            self.d_wins_logs = self.d_wins_logs + 1 if values[self.out.fake] < c.warn_d_fake else 0
            if self.d_wins_logs == c.warn_window:
                out.append(
                    f"ganlab: warning: D wins outright at step {step}: D/fake has stayed below {c.warn_d_fake} for "
                    f"{c.warn_window} logs, so G gets vanishing feedback. Try a lower optim.lr_d, penalty=r1 or gp, "
                    "model.d_dropout, or objective=wasserstein with penalty=gp.")
        ratio = values[tags.DIVERSITY]
        low = step > self.warmup_step and ratio < c.warn_diversity
        self.collapse_logs = self.collapse_logs + 1 if low else 0
        if self.collapse_logs == c.warn_window:
            out.append(
                f"ganlab: warning: possible mode collapse at step {step}: samples for a fixed batch of noise spread "
                f"{ratio:.3f} of the real data's (Diversity/pairwise < {c.warn_diversity} for {c.warn_window} logs). "
                "Check the Samples tab; try objective=wasserstein with penalty=gp, a lower optim.lr, or more D steps.")
        return out
