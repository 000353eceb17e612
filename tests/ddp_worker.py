"""Run by tests/test_distributed.py under torchrun: several trainings in one process group, then each rank's
weights, for the test to compare.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/ddp_worker.py <dir> <override> ...

In <dir>: ``full`` (``trainer.steps`` = 2N), ``half`` (N steps, then resumed to 2N under DDP), ``half_copy`` (the
N-step run, left for a single process to resume), ``single`` (a single-process run the test made, resumed to
2N here), and ``weights_<rank>.pt`` (G and D of ``full`` on each rank).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from ganlab.commands.compose import compose_config
from ganlab.commands.train import train
from ganlab.training.loop import Trainer


def run(run_dir: Path, overrides: list[str]) -> Trainer:
    """``ganlab train <overrides>`` into ``run_dir``, in this process; the trainer it used."""
    used: list[Trainer] = []
    fit = Trainer.fit
    Trainer.fit = lambda self: (fit(self), used.append(self))[0]  # type: ignore[method-assign]
    try:
        train(compose_config(overrides), run_dir, overrides)
    finally:
        Trainer.fit = fit  # type: ignore[method-assign]
    return used[0]


def main() -> None:
    out, overrides = Path(sys.argv[1]), sys.argv[2:]
    cfg = compose_config(overrides)
    steps, batch = cfg.trainer.steps, f"trainer.batch_size={cfg.trainer.batch_size}"
    full = run(out / "full", overrides)
    weights = {"G": full.G.state_dict(), "D": full.D.state_dict()}
    torch.save(weights, out / f"weights_{dist.get_rank()}.pt")
    run(out / "half", [*overrides, f"trainer.steps={steps // 2}"])
    if dist.get_rank() == 0:
        shutil.copytree(out / "half", out / "half_copy")
    dist.barrier()
    for name in ("half", "single"):
        run(out / name, [f"resume={out / name}", f"trainer.steps={steps}", batch])  # the same global batch
    dist.barrier()  # both ranks done before either tears the process group down at exit


if __name__ == "__main__":
    main()
