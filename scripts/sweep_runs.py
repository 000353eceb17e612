"""What the scripts that train through one `ganlab train -m` sweep share (zoo.py, stacked_mnist.py,
reproduce_toy.py): the command, Hydra's launcher for ``--jobs``, and JSON without NaN."""

from __future__ import annotations

import math
import sys
from pathlib import Path


def ganlab_command() -> str:
    """The `ganlab` of this Python's environment (else the one on PATH)."""
    exe = Path(sys.executable).with_name("ganlab")
    return str(exe) if exe.exists() else "ganlab"


def launcher(jobs: int) -> list[str]:
    """The overrides that run ``jobs`` > 1 jobs side by side through Hydra's joblib launcher (none for 1)."""
    return ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"] if jobs > 1 else []


def finite(value: object) -> object:
    """``value`` with NaN and infinities as None, so that the JSON file is standard JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
