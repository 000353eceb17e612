#!/usr/bin/env python
"""Time one sweep of short toy runs under Hydra's basic launcher (one job after another) and under the joblib
launcher (``n_jobs`` at once, each job on cores // n_jobs torch threads), with the real ``ganlab train -m``.

    python scripts/bench_sweep.py                       # 4 runs of gan on grid25, 1,000 steps each; basic vs n_jobs=2
    python scripts/bench_sweep.py --steps 500 --json sweep.json
    python scripts/bench_sweep.py --runs 8 --n-jobs 4

Both sweeps run with ganlab's defaults: OMP_NUM_THREADS is removed from their environment, so the basic
launcher's runs use every core and the joblib jobs their share. The target on a 2-core machine: the joblib
sweep in at most 0.65 x the basic sweep's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.65  # joblib wall time / basic wall time, on the 2-core CI-class machine


def sweep(launcher: list[str], runs: int, steps: int, out: Path) -> dict[str, float | str]:
    """One ``ganlab train -m`` sweep of ``runs`` seeds; its wall time and how many runs finished."""
    seeds = ",".join(str(s) for s in range(runs))
    args = [sys.executable, "-m", "ganlab", "train", "-m", *launcher, "model=gan", "data=grid25", f"seed={seeds}",
            f"trainer.steps={steps}", "trainer.progress=false", f"hydra.sweep.dir={out}"]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"ganlab exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    done = sum(1 for m in out.glob("*/metrics.json"))
    return {"launcher": " ".join(launcher) or "basic", "seconds": round(seconds, 2), "runs": runs, "finished": done}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4, help="runs in the sweep (seeds 0..runs-1)")
    parser.add_argument("--steps", type=int, default=1000, help="generator steps of each run")
    parser.add_argument("--n-jobs", type=int, default=2, help="joblib: jobs at once")
    parser.add_argument("--json", type=Path, default=None, help="write the rows to this JSON file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ganlab_bench_sweep_") as tmp:
        basic = sweep([], args.runs, args.steps, Path(tmp) / "basic")
        joblib = sweep(["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"], args.runs, args.steps,
                       Path(tmp) / "joblib")
    ratio = float(joblib["seconds"]) / float(basic["seconds"])
    rows = [basic, {**joblib, "ratio_to_basic": round(ratio, 3)}]
    print(f"{args.runs} runs of `model=gan data=grid25 trainer.steps={args.steps}` on {os.cpu_count()} cores\n")
    print("| launcher | wall time (s) | runs finished | vs basic |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['launcher']} | {row['seconds']:.1f} | {row['finished']}/{row['runs']} | "
              f"{row.get('ratio_to_basic', 1.0):.2f} |")
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"\njoblib / basic = {ratio:.2f}: {verdict} the target of <= {TARGET} (on a 2-core machine)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio, "target": TARGET, "cores": os.cpu_count(),
                                         "steps": args.steps}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
