"""ganlab: a config-driven command line lab for training and studying GANs.

``ganlab.load_generator(path)`` gives a trained generator for use from Python (imported on first use, so
``import ganlab`` and the ``ganlab`` command stay light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganlab.runs.api import load_generator

__version__ = "0.1.0"
__all__ = ["__version__", "load_generator"]


def __getattr__(name: str) -> Any:
    if name == "load_generator":
        from ganlab.runs.api import load_generator

        return load_generator
    raise AttributeError(f"module 'ganlab' has no attribute {name!r}")
