#!/usr/bin/env python
"""Stacked MNIST (Metz et al. 2017; PacGAN, Lin et al. 2018, Table 3): how many of the 1,000 modes a preset covers.

Trains one model preset on ``data=stacked_mnist`` for several seeds in one ``ganlab train -m`` sweep (Hydra's
joblib launcher when ``--jobs`` > 1), then reads each run's ``metrics.json``: ``modes`` (classes with at least
one of 26,000 samples, each channel read by ganlab's MNIST classifier) and ``reverse_kl`` (KL of the class
histogram || uniform), and prints them beside PacGAN's Table 3.

    python scripts/stacked_mnist.py --root ../shared/data --json stacked.json      # the preset, seeds 0-2
    python scripts/stacked_mnist.py --root ../shared/data --jobs 3 --seeds 0,1,2   # three runs at once (joblib)
    python scripts/stacked_mnist.py --root ../shared/data --seeds 1 trainer.steps=2000   # extra overrides

The runs go to ``--out`` (a Hydra sweep dir); running the same command again continues each job from its last
checkpoint (a sweep's jobs resume by default), so a stopped measurement picks up where it was.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # ganlab's atomic writes from this checkout

from sweep_runs import finite, ganlab_command, launcher  # noqa: E402 -- beside this script

from ganlab.files import write_text  # noqa: E402

# PacGAN (Lin et al. 2018), Table 3, as quoted in ganlab's issue 14: modes covered, reverse KL
PUBLISHED = {"DCGAN (PacGAN Table 3)": (99.0, 3.4), "PacGAN2 (PacGAN Table 3)": (1000.0, 0.079)}
TARGET = {"modes": 1000, "reverse_kl": 0.05}
METRICS = ("modes", "reverse_kl")


def sweep_command(model: str, root: str, seeds: list[int], jobs: int, out: Path, overrides: list[str]) -> list[str]:
    """One ``ganlab train -m`` over the seeds; ``jobs`` > 1 runs them side by side through Hydra's joblib launcher."""
    return [ganlab_command(), "train", "-m", *launcher(jobs), f"model={model}", "data=stacked_mnist", f"data.root={root}",
            f"seed={','.join(str(s) for s in seeds)}", "trainer.progress=false", f"hydra.sweep.dir={out}", *overrides]


def read_run(run: Path) -> dict[str, float] | None:
    """A finished job's seed, metrics and wall time (its config written -> its metrics written); None: unfinished."""
    metrics_file, config_file = run / "metrics.json", run / ".hydra" / "config.yaml"
    if not metrics_file.is_file() or not config_file.is_file():
        return None
    metrics = json.loads(metrics_file.read_text())
    cfg = OmegaConf.load(config_file)
    row = {k: math.nan if metrics.get(k) is None else float(metrics[k]) for k in METRICS}
    seconds = metrics_file.stat().st_mtime - config_file.stat().st_mtime
    return {"seed": int(cfg.seed), **row, "step": float(metrics["step"]), "seconds": seconds,
            "steps": float(cfg.trainer.steps), "reference_reverse_kl": float(metrics.get("reference", {}).get("reverse_kl", math.nan))}


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {"runs": len(rows)}
    for k in (*METRICS, "seconds"):
        values = [r[k] for r in rows if math.isfinite(r[k])]
        out[k] = statistics.fmean(values) if values else math.nan
        out[f"{k}_std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
    return out


def table(model: str, rows: list[dict[str, float]], total: dict[str, float]) -> str:
    lines = [f"{'run':<28} {'modes':>14} {'reverse KL':>15} {'steps':>7} {'s':>6}", "-" * 74]
    for r in rows:
        name = f"ganlab {model} seed {r['seed']:.0f}"
        lines.append(f"{name:<28} {r['modes']:>14.0f} {r['reverse_kl']:>15.3f} "
                     f"{r['steps']:>7.0f} {r['seconds']:>6.0f}")
    if rows:
        name = f"ganlab {model} (mean ± sd)"
        lines.append(f"{name:<28} {total['modes']:>7.1f} ±{total['modes_std']:>5.1f} "
                     f"{total['reverse_kl']:>7.3f} ±{total['reverse_kl_std']:>6.3f} {'':>7} {total['seconds']:>6.0f}")
    lines.append("-" * 74)
    for name, (modes, kl) in PUBLISHED.items():
        lines.append(f"{name:<28} {modes:>14.0f} {kl:>15.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="gan", help="the ganlab model preset (its stacked_mnist tuning applies)")
    p.add_argument("--root", default="../shared/data", help="the folder holding MNIST/raw/")
    p.add_argument("--seeds", default="0,1,2", help="the seeds, comma-separated")
    p.add_argument("--jobs", type=int, default=1, help="runs at once, through Hydra's joblib launcher")
    p.add_argument("--out", type=Path, default=Path("outputs/stacked_mnist"), help="the sweep dir the runs go to")
    p.add_argument("--json", type=Path, default=None, help="write the per-seed rows and the summary here")
    p.add_argument("overrides", nargs="*", help="extra ganlab key=value overrides for every run")
    a = p.parse_args(argv)
    seeds = [int(s) for s in a.seeds.split(",")]
    out = a.out / a.model
    start = time.perf_counter()
    proc = subprocess.run(sweep_command(a.model, a.root, seeds, a.jobs, out, a.overrides))
    wall = time.perf_counter() - start
    rows = sorted((r for r in map(read_run, sorted(out.glob("*/"))) if r is not None and r["seed"] in seeds),
                  key=lambda r: r["seed"])
    total = summary(rows)
    print()
    print(table(a.model, rows, total))
    met = bool(rows) and total["modes"] >= TARGET["modes"] and total["reverse_kl"] <= TARGET["reverse_kl"]
    print(f"target (1,000 modes, reverse KL <= 0.05, mean over seeds): {'MET' if met else 'NOT MET'}; "
          f"{len(rows)} of {len(seeds)} runs finished in {wall / 60:.1f} min ({os.cpu_count()} CPU cores)")
    if a.json:
        write_text(a.json, json.dumps(finite({
            "model": a.model, "seeds": seeds, "jobs": a.jobs, "overrides": a.overrides, "wall_seconds": wall,
            "runs": rows, "summary": total, "target": TARGET,
            "published": {k: dict(zip(METRICS, v, strict=True)) for k, v in PUBLISHED.items()}}), indent=2) + "\n")
        print(f"wrote {a.json}")
    return 0 if proc.returncode == 0 and len(rows) == len(seeds) else 1


if __name__ == "__main__":
    sys.exit(main())
