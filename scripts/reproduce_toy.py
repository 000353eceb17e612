#!/usr/bin/env python
"""Reproduce the 2-D mixture table of PacGAN (Lin et al. 2018, Table 1) with ganlab's presets.

Trains each model preset on ``ring8`` and ``grid25`` for several seeds with the real ``ganlab train`` command,
evaluates the last generator with the VEEGAN / PacGAN protocol (2,500 samples; high quality = within 3 standard
deviations of the nearest mode) and prints the mean and spread over seeds beside the published numbers.

    python scripts/reproduce_toy.py --json toy.json                 # gan, wgan, wgan_gp x ring8, grid25 x 5 seeds
    python scripts/reproduce_toy.py --jobs 2 --json toy.json        # two runs at once, one CPU thread each
    python scripts/reproduce_toy.py --models gan --threads 2        # each run on 2 threads (float sums differ)
    python scripts/reproduce_toy.py --models wgan_gp --data grid25 --seeds 2 --steps 2000
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
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

# PacGAN, Table 1 (mean over 10 trials): modes, high-quality samples, reverse KL
PUBLISHED = {
    ("GAN (PacGAN Table 1)", "ring8"): (6.3, 0.982, 0.45),
    ("GAN (PacGAN Table 1)", "grid25"): (17.3, 0.948, 0.70),
    ("PacGAN4 (PacGAN Table 1)", "grid25"): (24.8, 0.936, 0.04),
}
TARGET = {"data": "grid25", "modes": 25, "hq_fraction": 0.95, "reverse_kl": 0.02}  # ganlab's best preset, averaged
METRICS = ("modes", "hq_fraction", "reverse_kl")


def ganlab_command() -> str:
    exe = Path(sys.executable).with_name("ganlab")
    return str(exe) if exe.exists() else "ganlab"


def train_and_evaluate(model: str, data: str, seed: int, steps: int | None, out: Path, threads: int,
                       extra: list[str]) -> dict[str, float]:
    """One `ganlab train` run with the preset; returns its final metrics (metrics.json) and wall time."""
    run = out / f"{model}_{data}_seed{seed}"
    args = [ganlab_command(), "train", f"model={model}", f"data={data}", f"seed={seed}", "eval.at_end=true",
            "trainer.progress=false", f"hydra.run.dir={run}", *([f"trainer.steps={steps}"] if steps else []), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"  {model} {data} seed {seed}: ganlab exited {proc.returncode}: {proc.stderr.strip()[-500:]}", file=sys.stderr)
        return {"seconds": seconds, "failed": 1.0}
    metrics = json.loads((run / "metrics.json").read_text())
    row = {k: (math.nan if metrics.get(k) is None else float(metrics[k])) for k in METRICS}
    return {**row, "seconds": seconds, "step": float(metrics["step"])}


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    ok = [r for r in runs if not r.get("failed")]
    out: dict[str, float] = {"seeds": len(runs), "failed": len(runs) - len(ok)}
    for k in (*METRICS, "seconds"):
        values = [r[k] for r in ok if math.isfinite(r[k])]
        out[k] = statistics.fmean(values) if values else math.nan
        out[f"{k}_std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
    return out


def table(results: dict[tuple[str, str], dict[str, float]], threads: int) -> str:
    lines = [f"{'model':<26} {'data':<7} {'modes':>12} {'high quality':>14} {'reverse KL':>13} {'s/seed':>7}"
             f"  ({threads} CPU thread{'s' if threads > 1 else ''} per run)", "-" * 84]
    for (model, data), s in results.items():
        lines.append(f"{model:<26} {data:<7} {s['modes']:>6.1f} ±{s['modes_std']:>4.1f} "
                     f"{100 * s['hq_fraction']:>7.1f}% ±{100 * s['hq_fraction_std']:>4.1f} "
                     f"{s['reverse_kl']:>6.3f} ±{s['reverse_kl_std']:>5.3f} {s['seconds']:>7.0f}"
                     + (f"  ({int(s['failed'])} failed)" if s["failed"] else ""))
    lines.append("-" * 84)
    for (model, data), (modes, hq, kl) in PUBLISHED.items():
        lines.append(f"{model:<26} {data:<7} {modes:>6.1f}       {100 * hq:>7.1f}%       {kl:>6.3f}")
    return "\n".join(lines)


def target_line(results: dict[tuple[str, str], dict[str, float]]) -> str:
    grid = {m: s for (m, d), s in results.items() if d == TARGET["data"]}
    if not grid:
        return "target: no grid25 runs."
    best_model, best = min(grid.items(), key=lambda kv: kv[1]["reverse_kl"] if math.isfinite(kv[1]["reverse_kl"]) else math.inf)
    met = (best["modes"] >= TARGET["modes"] and best["hq_fraction"] >= TARGET["hq_fraction"]
           and best["reverse_kl"] <= TARGET["reverse_kl"])
    return (f"target on grid25 (25 modes, >= 95% high quality, reverse KL <= 0.02, mean over seeds): best preset "
            f"{best_model}: {best['modes']:.1f} modes, {100 * best['hq_fraction']:.1f}%, {best['reverse_kl']:.3f} -> "
            f"{'MET' if met else 'NOT MET'}")


def parse_steps(text: str | None) -> dict[str, int]:
    """``"2000"`` -> every model 2000 steps; ``"gan=6000,wgan_gp=1500"`` -> per model."""
    if not text:
        return {}
    if "=" not in text:
        return {"*": int(text)}
    return {k: int(v) for k, v in (item.split("=", 1) for item in text.split(","))}


def _finite(value: object) -> object:
    """``value`` with NaN and infinities as None, so the JSON file is standard JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, seeds: list[int], steps: dict[str, int], threads: int, seconds: float,
               results: dict[tuple[str, str], dict[str, float]], per_seed: dict[str, list[dict[str, float]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite({
        "seeds": seeds, "steps": steps, "threads": threads, "wall_seconds": seconds,
        "summary": {f"{m}/{d}": s for (m, d), s in results.items()},
        "runs": per_seed,
        "published": {f"{m}/{d}": dict(zip(METRICS, v, strict=True)) for (m, d), v in PUBLISHED.items()},
        "target": TARGET,
    }), indent=2))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="gan,wgan,wgan_gp", help="ganlab model presets, comma-separated")
    p.add_argument("--data", default="grid25,ring8", help="2-D mixtures, comma-separated")
    p.add_argument("--seeds", default="5", help="a count (5 -> seeds 0..4) or a comma-separated list of seeds")
    p.add_argument("--steps", default=None,
                   help="generator steps: one number for every model, or per model as gan=6000,wgan_gp=1500 "
                        "(a model left out keeps its preset's trainer.steps)")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (e.g. one per CPU core, with --threads 1)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads per run (OMP_NUM_THREADS): the float sums, so the trajectory, depend on it")
    p.add_argument("--out", default="outputs/reproduce_toy", help="where the runs are written")
    p.add_argument("--json", default=None, help="write the per-seed results and the summary here")
    p.add_argument("overrides", nargs="*", help="extra ganlab key=value overrides for every run")
    a = p.parse_args()
    steps = parse_steps(a.steps)
    seeds = list(range(int(a.seeds))) if "," not in a.seeds and a.seeds.isdigit() else [int(s) for s in a.seeds.split(",")]
    models, datasets = a.models.split(","), a.data.split(",")
    out = Path(a.out)
    per_seed: dict[str, list[dict[str, float]]] = {}
    results: dict[tuple[str, str], dict[str, float]] = {}
    start = time.perf_counter()
    runs = [(data, model, seed) for data in datasets for model in models for seed in seeds]
    for data, model, _ in runs:
        per_seed.setdefault(f"{model}/{data}", [])
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:  # each worker waits on one `ganlab train` process
        futures = {pool.submit(train_and_evaluate, model, data, seed, steps.get(model, steps.get("*")), out,
                               a.threads, a.overrides): (data, model, seed) for data, model, seed in runs}
        for future in as_completed(futures):
            data, model, seed = futures[future]
            r = future.result()
            key = f"{model}/{data}"
            per_seed[key].append({"seed": seed, **r})
            per_seed[key].sort(key=lambda row: row["seed"])
            print(f"  {model:<8} {data:<7} seed {seed}: " + ", ".join(
                f"{k} {r[k]:.3g}" for k in (*METRICS, "seconds") if k in r), flush=True)
            results[(f"ganlab {model}", data)] = summarise(per_seed[key])
            if a.json:  # after every run, so an interrupted reproduction keeps what it has
                write_json(Path(a.json), seeds, steps, a.threads, time.perf_counter() - start, results, per_seed)
    results = {(f"ganlab {m}", d): results[(f"ganlab {m}", d)] for d in datasets for m in models}  # table order
    total = time.perf_counter() - start
    print()
    print(table(results, a.threads))
    print(target_line(results))
    print(f"total wall time {total / 60:.1f} min for {len(models) * len(datasets) * len(seeds)} runs")
    if a.json:
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
