#!/usr/bin/env python
"""Small data: what DiffAugment and ADA buy when a preset trains on a few thousand images (issue 24).

One ``ganlab train -m`` sweep per data set and budget trains ``augment=none,diffaugment,ada`` over the seeds with
``data.limit=N`` (the same N images for the three augmentations of a seed, another N for another seed), evaluates
each run at its end against the full data set (``fid_classifier``, ``class_kl``) and prints, per augmentation, the
mean ± sd over the seeds, its CPU minutes, the reduction of ``fid_classifier`` against ``augment=none`` and the
ADA probability p of one run as TensorBoard logged it (``Augment/p``).

    python scripts/small_data.py --root ../shared/data --cache outputs/zoo/classifiers --jobs 2 --json sd.json
    python scripts/small_data.py --data fashion_mnist --limits 1000 --steps 3000    # a shorter budget, all arms alike
    python scripts/small_data.py --no-train --json sd.json                          # the table of runs already there

``--steps`` trains every run that many generator steps instead of its preset's, with the learning-rate decay over
the same steps (``optim.decay_steps``), so that the schedule ends where the run does. The runs go to
``<out>/<data>_<N>`` (Hydra sweep dirs); the same command again continues each unfinished job (``resume=auto``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # ganlab from this checkout

from sweep_runs import finite, ganlab_command, launcher  # noqa: E402 -- beside this script
from zoo import collect  # noqa: E402

from ganlab.files import write_text  # noqa: E402

AUGMENTS = ("none", "diffaugment", "ada")
TARGET = 0.25  # issue 24: each augmentation lowers fid_classifier by >= 25 % against none, at 1,000 images
TARGET_LIMIT = 1000


def sweep_command(data: str, limit: int, a: argparse.Namespace) -> list[str]:
    """The ``ganlab train -m`` that trains (or continues) every augmentation and seed on ``limit`` images."""
    steps = [f"trainer.steps={a.steps}", f"optim.decay_steps={a.steps}"] if a.steps else []
    cache = [f"eval.cache_dir={a.cache}"] if a.cache else []
    return [ganlab_command(), "train", "-m", f"model={a.model}", f"data={data}", f"data.root={a.root}",
            f"data.limit={limit}", f"augment={a.augments}", f"seed={a.seeds}", "eval.at_end=true",
            "trainer.progress=false", f"hydra.sweep.dir={Path(a.out) / f'{data}_{limit}'}", *launcher(a.jobs),
            *steps, *cache, *a.overrides]


def warm_classifier(data: str, root: str, cache: str | None) -> None:
    """Train (or find) the classifier that judges ``data`` once, before the jobs that would each train it."""
    from omegaconf import OmegaConf

    from ganlab.data import load_dataset
    from ganlab.metrics.classifier import default_cache_dir, load_or_train_classifier

    full = load_dataset(OmegaConf.create({"name": data, "root": root, "download": False, "image_size": None}))
    judged = full.classifier_data()
    if judged is not None:
        load_or_train_classifier(judged, judged.test_split(), Path(cache) if cache else default_cache_dir())


def nearest_ratio(run: Path, cfg: dict[str, Any], root: str, n: int = 1000) -> float | None:
    """How much nearer G's samples lie to the images it trained on than to images it never saw: the mean L2
    distance of ``n`` samples (seed 0) to their nearest training image, over the same to their nearest held-out
    image, as many of each (at most the budget N). About 1: G draws like the data; well below 1: near copies."""
    from omegaconf import OmegaConf

    import ganlab
    from ganlab.data import ImageTensors, load_dataset

    data = load_dataset(OmegaConf.create({**cfg["data"], "root": root}), seed=int(cfg["seed"]))
    held = data.held_out(len(data)) if isinstance(data, ImageTensors) else None
    if held is None:
        return None
    k = min(len(data), len(held[0]))
    train = ImageTensors.normalise(data.images[:k]).flatten(1)
    with torch.no_grad():
        fake = ganlab.load_generator(run).sample(n, seed=0).flatten(1)
        near = [torch.cdist(fake, ref).min(dim=1).values.mean() for ref in (train, held[0][:k].flatten(1))]
    return float(near[0] / near[1])


def rows_of(sweep: Path, root: str) -> list[dict[str, Any]]:
    """zoo.py's row of each job (status, time, metrics) with its augmentation, seed, image budget and, once done,
    how near its samples lie to its training images (:func:`nearest_ratio`)."""
    rows = []
    for row in collect(sweep):
        cfg = yaml.safe_load((Path(row["run"]) / ".hydra" / "config.yaml").read_text())
        near = nearest_ratio(Path(row["run"]), cfg, root) if row["status"] == "done" else None
        overrides = yaml.safe_load((Path(row["run"]) / ".hydra" / "overrides.yaml").read_text())
        keys = [o for o in overrides if o.startswith("augment.")]  # an arm of its own: augment.policy=[color], ...
        rows.append({**row, "augment": cfg["augment"]["name"], "arm": " ".join([cfg["augment"]["name"], *keys]),
                     "seed": cfg["seed"], "limit": cfg["data"]["limit"], "nearest_ratio": near})
    return rows


def _mean_sd(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per data set, budget and augmentation: the finished seeds' metrics as mean and sd, and the
    reduction of mean fid_classifier against augment=none's."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["status"] == "done" and r["fid_classifier"] is not None:
            groups.setdefault((r["data"], r["limit"], r["arm"]), []).append(r)
    out = []
    for (data, limit, arm), runs in sorted(groups.items(), key=lambda kv: (
            kv[0][0], kv[0][1], AUGMENTS.index(kv[1][0]["augment"]), kv[0][2])):
        out.append({"data": data, "limit": limit, "augment": runs[0]["augment"], "arm": arm,
                    "seeds": sorted(r["seed"] for r in runs),
                    "steps": runs[0]["steps"],
                    "fid_classifier": _mean_sd([r["fid_classifier"] for r in runs]),
                    "class_kl": _mean_sd([r["class_kl"] for r in runs]),
                    "nearest_ratio": _mean_sd([r["nearest_ratio"] for r in runs if r["nearest_ratio"] is not None]),
                    # a run resumed after a stop counts only its last process's time: left out here
                    "cpu_minutes": _mean_sd([r["cpu_seconds"] / 60 for r in runs
                                             if r["cpu_seconds"] is not None and not r["first_step"]]),
                    "timed_runs": sum(1 for r in runs if r["cpu_seconds"] is not None and not r["first_step"]),
                    "reference_fid": runs[0]["reference"]["fid_classifier"]})
    for line in out:
        base = next((o for o in out if (o["data"], o["limit"], o["arm"]) == (line["data"], line["limit"], "none")), None)
        line["fid_reduction"] = (1 - line["fid_classifier"][0] / base["fid_classifier"][0]) if base else None
    return out


def _pm(value: tuple[float, float] | None, digits: int) -> str:
    return "–" if value is None else f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"


def table(lines: list[dict[str, Any]]) -> str:
    head = ["| data | N | augment | seeds | steps | fid_classifier ↓ | class_kl ↓ | fid vs none | nearest: train / "
            "held-out | CPU min/run |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in lines:
        change = "–" if s["fid_reduction"] is None or s["augment"] == "none" else f"{-100 * s['fid_reduction']:+.0f} %"
        timed = "" if s["timed_runs"] == len(s["seeds"]) else f" ({s['timed_runs']} of {len(s['seeds'])} runs)"
        head.append(f"| {s['data']} | {s['limit']:,} | {s['arm']} | {','.join(map(str, s['seeds']))} | "
                    f"{s['steps']:,} | {_pm(s['fid_classifier'], 1)} | {_pm(s['class_kl'], 3)} | {change} | "
                    f"{_pm(s['nearest_ratio'], 3)} | {_pm(s['cpu_minutes'], 1)}{timed} |")
    head.append("nearest: the mean distance of 1,000 samples to their nearest training image over that to their nearest "
                "held-out image (below 1: near copies of the training set). CPU min/run: the CPU time of runs trained "
                "in one process (a run stopped and resumed is left out).")
    return "\n".join(head)


def targets(lines: list[dict[str, Any]]) -> list[str]:
    """Issue 24's target: each augmentation's mean fid_classifier >= 25 % below none's, at 1,000 images."""
    out = []
    for s in lines:
        if s["limit"] == TARGET_LIMIT and s["augment"] != "none" and s["fid_reduction"] is not None:
            ok, change = s["fid_reduction"] >= TARGET, 100 * s["fid_reduction"]
            out.append(f"{s['data']} N={s['limit']} {s['arm']}: fid_classifier {abs(change):.0f} % "
                       f"{'below' if change >= 0 else 'above'} none's -> {'met' if ok else 'MISSED'} (target: >= "
                       f"{100 * TARGET:.0f} % below)")
    return out


def p_curve(rows: list[dict[str, Any]], points: int = 9) -> dict[str, Any] | None:
    """ADA's p (``Augment/p``) and r_t (``Augment/rt``) of the first finished ada run, read back from its
    TensorBoard events at ``points`` evenly spaced logs."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = next((r for r in sorted(rows, key=lambda r: r["seed"]) if r["augment"] == "ada" and r["status"] == "done"), None)
    if run is None:
        return None
    events = EventAccumulator(run["run"], size_guidance={"scalars": 0})
    events.Reload()
    p, rt = events.Scalars("Augment/p"), {e.step: e.value for e in events.Scalars("Augment/rt")}
    picks = sorted({round(i * (len(p) - 1) / (points - 1)) for i in range(points)})
    return {"run": run["run"], "data": run["data"], "limit": run["limit"], "seed": run["seed"],
            "curve": [(p[i].step, p[i].value, rt.get(p[i].step)) for i in picks]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="fashion_mnist,mnist", help="data sets, comma-separated")
    p.add_argument("--limits", default="1000,5000", help="data.limit values, comma-separated (one sweep each)")
    p.add_argument("--augments", default=",".join(AUGMENTS), help="augment options, comma-separated")
    p.add_argument("--seeds", default="0,1,2", help="seeds, comma-separated")
    p.add_argument("--model", default="dcgan", help="the model preset")
    p.add_argument("--steps", type=int, default=None,
                   help="generator steps of every run (and its rate's decay), in place of the preset's")
    p.add_argument("--root", default="../shared/data", help="data.root: where MNIST/ and FashionMNIST/ are")
    p.add_argument("--cache", default=None, help="eval.cache_dir: a writable place for the metric's classifiers")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (Hydra's joblib launcher)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per run (OMP_NUM_THREADS, unless set)")
    p.add_argument("--out", default="outputs/small_data", help="the sweeps' dirs: <out>/<data>_<N>")
    p.add_argument("--no-train", action="store_true", help="only read the runs in --out")
    p.add_argument("--json", default=None, help="write the rows, the table's lines, the targets and the p curve")
    p.add_argument("overrides", nargs="*", help="extra ganlab key=value overrides for every run")
    a = p.parse_args()
    datasets, limits = a.data.split(","), [int(n) for n in a.limits.split(",")]
    os.environ["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", str(a.threads))
    failed = False
    for data in datasets:
        for limit in limits:
            if a.no_train:
                continue
            warm_classifier(data, a.root, a.cache)
            cmd = sweep_command(data, limit, a)
            print("$ " + " ".join(cmd), flush=True)
            failed |= subprocess.run(cmd).returncode != 0
    rows = [r for d in datasets for n in limits for r in rows_of(Path(a.out) / f"{d}_{n}", a.root)]
    lines = summarise(rows)
    print()
    print(table(lines))
    checks = targets(lines)
    if checks:
        print("\nTargets (issue 24):\n" + "\n".join(f"  {c}" for c in checks))
    curve = p_curve(rows)
    if curve:
        print(f"\nADA's p (r_t) in {curve['run']}: " + ", ".join(
            f"step {s}: {v:.3f} ({'–' if rt is None else f'{rt:.2f}'})" for s, v, rt in curve["curve"]))
    if a.json:
        record = {"rows": rows, "lines": lines, "targets": checks, "p_curve": curve,
                  "threads": int(os.environ["OMP_NUM_THREADS"]), "jobs": a.jobs, "steps": a.steps}
        write_text(Path(a.json), json.dumps(finite(record), indent=2) + "\n")
        print(f"wrote {a.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
