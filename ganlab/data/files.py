"""Shared by the data sets read from files: finding them in torchvision's layout, and saying what is missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ganlab.console import say
from ganlab.errors import GanlabError


def find(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz``, whichever exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def missing_files_error(dataset: str, folder: Path, files: tuple[str, ...], root: Path) -> GanlabError:
    return GanlabError(
        f"{dataset} files not found: expected {', '.join(files)} in {folder}. Put the original files there "
        f"(torchvision's layout under data.root, now '{root}'), point data.root=<dir> at a folder that has "
        f"them, or pass data.download=true on a machine with network access."
    )


def download(fetch: Callable[[], object]) -> None:
    """Run a torchvision downloader; a failure (no network, a proxy, a checksum) is one line, not an error."""
    try:
        fetch()
    except Exception as err:
        say(f"ganlab: download failed ({type(err).__name__}: {err}); looking for local files instead.")
