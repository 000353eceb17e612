#!/usr/bin/env python
"""Time one sweep of short toy runs under Hydra's basic launcher (one job after another) and under the joblib
launcher (``n_jobs`` at once, each job on cores // n_jobs torch threads), with the real ``ganlab train -m``.

    python scripts/bench_sweep.py                       # 4 runs of gan on grid25, 1,000 steps each; basic vs n_jobs=2
    python scripts/bench_sweep.py --steps 500 --json sweep.json
    python scripts/bench_sweep.py --runs 8 --n-jobs 4
    python scripts/bench_sweep.py --repeat 2             # basic, joblib, basic, joblib: the best of each

Both sweeps run with ganlab's defaults: OMP_NUM_THREADS is removed from their environment, so the basic
launcher's runs use every core and the joblib jobs their share. The CPU time (user + system, of every process
of the sweep) shows how much work each did: on a machine shared with other work the wall times say more about
the neighbours than about the launchers. The target on a 2-core machine: the joblib sweep in at most 0.65 x
the basic sweep's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"ganlab exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    done = sum(1 for m in out.glob("*/metrics.json"))
    cpu_s = after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime
    return {"launcher": " ".join(launcher) or "basic", "seconds": round(seconds, 2), "cpu_seconds": round(cpu_s, 2),
            "runs": runs, "finished": done, "load_before": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4, help="runs in the sweep (seeds 0..runs-1)")
    parser.add_argument("--steps", type=int, default=1000, help="generator steps of each run")
    parser.add_argument("--n-jobs", type=int, default=2, help="joblib: jobs at once")
    parser.add_argument("--repeat", type=int, default=1, help="sweeps of each launcher, alternating; the best counts")
    parser.add_argument("--json", type=Path, default=None, help="write the rows to this JSON file")
    args = parser.parse_args(argv)

    launchers = {"basic": [], "joblib": ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"]}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ganlab_bench_sweep_") as tmp:
        for i in range(args.repeat):
            for name, words in launchers.items():
                rows.append({"name": name, **sweep(words, args.runs, args.steps, Path(tmp) / f"{name}{i}")})
    best = {name: min((r for r in rows if r["name"] == name), key=lambda r: r["seconds"]) for name in launchers}
    ratio = float(best["joblib"]["seconds"]) / float(best["basic"]["seconds"])
    print(f"{args.runs} runs of `model=gan data=grid25 trainer.steps={args.steps}` on {os.cpu_count()} cores"
          f"{f', best of {args.repeat}' if args.repeat > 1 else ''}\n")
    print("| launcher | wall time (s) | CPU time (s) | runs finished | load average before | vs basic |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in best.values():
        print(f"| {row['launcher']} | {row['seconds']:.1f} | {row['cpu_seconds']:.1f} | {row['finished']}/{row['runs']} "
              f"| {row['load_before']:.1f} | {float(row['seconds']) / float(best['basic']['seconds']):.2f} |")
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"\njoblib / basic = {ratio:.2f}: {verdict} the target of <= {TARGET} (on a 2-core machine)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio, "target": TARGET, "cores": os.cpu_count(),
                                         "steps": args.steps, "repeat": args.repeat}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
