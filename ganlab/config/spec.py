"""What the networks need to know of a data set, without its data: also what a checkpoint stores of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DataSpec:
    name: str
    kind: str  # "image" or "points"
    shape: tuple[int, ...]  # (C, H, W) for images, (2,) for points
    num_classes: int | None  # None for unlabelled data

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataSpec:
        return cls(str(d["name"]), str(d["kind"]), tuple(int(s) for s in d["shape"]),
                   None if d.get("num_classes") is None else int(d["num_classes"]))
