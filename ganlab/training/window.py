"""The statistics of the steps since the last log, summed on the device and read back once a log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ganlab.training.step import Stats


class Window:
    """Device-side sums of the statistics since the last log at ``start`` (each tag averaged over the steps that
    reported it; ``reduce``: the ranks' average of the averages, under torchrun). A checkpoint keeps it, so a run
    resumed between two logs logs the same means as one that was not interrupted."""

    def __init__(self, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None, start: int = 0) -> None:
        self.sums: Stats = {}
        self.counts: dict[str, int] = {}
        self.reduce = reduce
        self.start = start

    def add(self, stats: Stats) -> None:
        """Add a step's statistics (in one multi-tensor kernel where the tags are known already)."""
        known = [tag for tag in stats if tag in self.sums]
        if known:
            torch._foreach_add_([self.sums[t] for t in known], [stats[t] for t in known])
        for tag, value in stats.items():
            if tag not in self.sums:
                self.sums[tag] = value.detach().clone()
            self.counts[tag] = self.counts.get(tag, 0) + 1

    def means(self) -> dict[str, float]:
        """The averages, read from the device in one transfer."""
        if not self.sums:
            return {}
        tags = list(self.sums)
        values = torch.stack([self.sums[t].float() / self.counts[t] for t in tags])
        values = (self.reduce(values) if self.reduce else values).tolist()
        return dict(zip(tags, values, strict=True))

    def clear(self, step: int) -> None:
        self.sums, self.counts, self.start = {}, {}, step

    def state_dict(self) -> dict[str, Any]:
        return {"start": self.start, "sums": {t: v.detach().cpu() for t, v in self.sums.items()}, "counts": self.counts}

    def shared_state(self) -> dict[str, Any]:
        """:meth:`state_dict` with the ranks' average sums (one all-reduce under torchrun: every rank calls it):
        each rank of a resumed run continues from them, so its first log is the ranks' mean, as uninterrupted."""
        state = self.state_dict()
        if self.reduce is not None and self.sums:
            tags = list(self.sums)
            mean = self.reduce(torch.stack([self.sums[t].float() for t in tags]))
            state["sums"] = {t: v.detach().cpu() for t, v in zip(tags, mean, strict=True)}
        return state

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.start, self.counts = int(state["start"]), dict(state["counts"])
        self.sums = {t: v.to(device) for t, v in state["sums"].items()}
