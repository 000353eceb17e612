#!/usr/bin/env python
"""Reproduce the 2-D mixture table of PacGAN (Lin et al. 2018, Table 1) with ganlab's presets.

Trains each model preset on ``ring8`` and ``grid25`` for several seeds with one ``ganlab train -m`` sweep per model
(``--jobs N``: Hydra's joblib launcher runs N at once),
evaluates the last generator with the VEEGAN / PacGAN protocol (2,500 samples; high quality = within 3 standard
deviations of the nearest mode) and prints the mean and spread over seeds beside the published numbers.

    python scripts/reproduce_toy.py --json toy.json                 # gan, wgan, wgan_gp, rpgan x ring8, grid25 x 5 seeds
    python scripts/reproduce_toy.py --jobs 2 --json toy.json        # two runs at once, one CPU thread each
    python scripts/reproduce_toy.py --models gan --label gan_hinge objective=hinge   # a preset with overrides
    python scripts/reproduce_toy.py --models gan --threads 2        # each run on 2 threads (float sums differ)
    python scripts/reproduce_toy.py --models wgan_gp --data grid25 --seeds 2 --steps 2000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sweep_runs import finite, ganlab_command, launcher  # noqa: E402 -- beside this script

# PacGAN, Table 1 (mean over 10 trials): modes, high-quality samples, reverse KL
PUBLISHED = {
    ("GAN (PacGAN Table 1)", "ring8"): (6.3, 0.982, 0.45),
    ("GAN (PacGAN Table 1)", "grid25"): (17.3, 0.948, 0.70),
    ("PacGAN4 (PacGAN Table 1)", "grid25"): (24.8, 0.936, 0.04),
}
TARGET = {"data": "grid25", "modes": 25, "hq_fraction": 0.95, "reverse_kl": 0.02}  # ganlab's best preset, averaged
METRICS = ("modes", "hq_fraction", "reverse_kl")


def sweep(model: str, datasets: list[str], seeds: list[int], steps: int | None, out: Path, jobs: int, threads: int,
          extra: list[str]) -> dict[str, list[dict[str, float]]]:
    """One ``ganlab train -m`` sweep of the preset over data sets and seeds (joblib's launcher, ``jobs`` runs at
    once); returns each run's final metrics (its metrics.json) and wall time, per data set."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    sweep_dir = out / f"{stamp}_{model}"
    args = [ganlab_command(), "train", "-m", f"model={model}", f"data={','.join(datasets)}",
            f"seed={','.join(map(str, seeds))}", "eval.at_end=true", "trainer.progress=false",
            f"hydra.sweep.dir={sweep_dir}", "hydra.sweep.subdir=${data.name}_seed${seed}",
            *launcher(jobs),
            *([f"trainer.steps={steps}"] if steps else []), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sweep's processes, its workers included
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / (len(datasets) * len(seeds))
    if proc.returncode != 0:
        print(f"  {model}: ganlab exited {proc.returncode}: {proc.stderr.strip()[-500:]}", file=sys.stderr)
    runs: dict[str, list[dict[str, float]]] = {}
    for data in datasets:
        for seed in seeds:
            run = sweep_dir / f"{data}_seed{seed}"
            if not (run / "metrics.json").is_file():
                runs.setdefault(data, []).append({"seed": seed, "failed": 1.0})
                continue
            metrics = json.loads((run / "metrics.json").read_text())
            row = {k: (math.nan if metrics.get(k) is None else float(metrics[k])) for k in METRICS}
            # from the job's composed config (written as it starts) to its metrics (written as it ends)
            seconds = (run / "metrics.json").stat().st_mtime - (run / ".hydra" / "config.yaml").stat().st_mtime
            runs.setdefault(data, []).append({"seed": seed, **row, "seconds": seconds, "cpu_seconds": cpu,
                                              "step": float(metrics["step"])})
    return runs


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    ok = [r for r in runs if not r.get("failed")]
    out: dict[str, float] = {"seeds": len(runs), "failed": len(runs) - len(ok)}
    for k in (*METRICS, "seconds", "cpu_seconds"):
        values = [r[k] for r in ok if math.isfinite(r[k])]
        out[k] = statistics.fmean(values) if values else math.nan
        out[f"{k}_std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
    return out


def table(results: dict[tuple[str, str], dict[str, float]], threads: int) -> str:
    lines = [f"{'model':<26} {'data':<7} {'modes':>12} {'high quality':>14} {'reverse KL':>13} {'s/seed':>7} {'CPU s':>6}"
             f"  ({threads} CPU thread{'s' if threads > 1 else ''} per run)", "-" * 91]
    for (model, data), s in results.items():
        lines.append(f"{model:<26} {data:<7} {s['modes']:>6.1f} ±{s['modes_std']:>4.1f} "
                     f"{100 * s['hq_fraction']:>7.1f}% ±{100 * s['hq_fraction_std']:>4.1f} "
                     f"{s['reverse_kl']:>6.3f} ±{s['reverse_kl_std']:>5.3f} {s['seconds']:>7.0f} {s['cpu_seconds']:>6.0f}"
                     + (f"  ({int(s['failed'])} failed)" if s["failed"] else ""))
    lines.append("-" * 91)
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


def write_json(path: Path, seeds: list[int], steps: dict[str, int], threads: int, seconds: float,
               results: dict[tuple[str, str], dict[str, float]], per_seed: dict[str, list[dict[str, float]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(finite({
        "seeds": seeds, "steps": steps, "threads": threads, "wall_seconds": seconds,
        "summary": {f"{m}/{d}": s for (m, d), s in results.items()},
        "runs": per_seed,
        "published": {f"{m}/{d}": dict(zip(METRICS, v, strict=True)) for (m, d), v in PUBLISHED.items()},
        "target": TARGET,
    }), indent=2))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="gan,wgan,wgan_gp,rpgan", help="ganlab model presets, comma-separated")
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
    p.add_argument("--label", default=None,
                   help="the rows' name in place of the model's, for one model with overrides (e.g. gan_hinge)")
    p.add_argument("overrides", nargs="*", help="extra ganlab key=value overrides for every run")
    a = p.parse_args()
    if a.label and "," in a.models:
        p.error("--label names the rows of one model; pass one model with --models")
    steps = parse_steps(a.steps)
    seeds = list(range(int(a.seeds))) if "," not in a.seeds and a.seeds.isdigit() else [int(s) for s in a.seeds.split(",")]
    models, datasets = a.models.split(","), a.data.split(",")
    out = Path(a.out)
    per_seed: dict[str, list[dict[str, float]]] = {}
    results: dict[tuple[str, str], dict[str, float]] = {}
    start = time.perf_counter()
    for model in models:
        label = f"ganlab {a.label or model}"
        for data, rows in sweep(model, datasets, seeds, steps.get(model, steps.get("*")), out, a.jobs, a.threads,
                                a.overrides).items():
            per_seed[f"{a.label or model}/{data}"] = rows
            for r in rows:
                print(f"  {a.label or model:<8} {data:<7} seed {r['seed']}: " + ", ".join(
                    f"{k} {r[k]:.3g}" for k in (*METRICS, "seconds", "cpu_seconds") if k in r), flush=True)
            results[(label, data)] = summarise(rows)
        if a.json:  # after every model, so an interrupted reproduction keeps what it has
            write_json(Path(a.json), seeds, steps, a.threads, time.perf_counter() - start, results, per_seed)
    results = {(f"ganlab {a.label or m}", d): results[(f"ganlab {a.label or m}", d)]
               for d in datasets for m in models}  # table order
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
