"""Memory a command is about to need, checked against what the machine has before anything is allocated.

The estimates are lower bounds (the tensors a step cannot do without, not the networks' activations), so a
refusal always means the work could not have fit; a size that passes may still be tight.
"""

from __future__ import annotations

import os
from typing import Any

from ganlab.errors import GanlabError

GIB = 2**30


def available_bytes(device: Any = None) -> int | None:
    """Free memory of ``device`` (a torch device or its type name): a CUDA GPU's free memory, else the host's
    available memory and free swap (Linux ``/proc/meminfo``, else ``sysconf``). None when it cannot be told."""
    kind = getattr(device, "type", device)
    if kind == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.split()[1:]}
        return info.get("MemAvailable", info.get("MemFree", 0)) + info.get("SwapFree", 0)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def gib(nbytes: float) -> str:
    return f"{nbytes / GIB:,.1f} GiB" if nbytes >= GIB / 10 else f"{nbytes / 2**20:,.1f} MiB"


def check_fits(nbytes: float, what: str, fix: str, device: Any = None) -> None:
    """Refuse work that needs at least ``nbytes`` on ``device`` when that much is not free. ``what`` says what
    needs it (naming the key or argument that sets its size), ``fix`` what to change."""
    free = available_bytes(device)
    if free is not None and nbytes > free:
        where = "GPU" if getattr(device, "type", device) == "cuda" else "memory"
        raise GanlabError(f"{what} needs at least {gib(nbytes)} of {where}, and this machine has {gib(free)} free. "
                          f"{fix}")
