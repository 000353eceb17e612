#!/usr/bin/env python
"""The model zoo: every preset trained on MNIST and Fashion-MNIST for a stated budget, evaluated, in one table.

One ``ganlab train -m`` sweep per data set trains ``model=gan,cgan,dcgan,wgan,wgan_gp,rpgan`` with their
``configs/model_data/<model>_<data>.yaml`` presets (the budget: each one's ``trainer.steps``) and evaluates each
run at its end (``metrics.json``, with the real data's reference). The table gives each run's steps, its time
(wall and CPU seconds of the process that finished it, from its ``status.json``) and its metrics beside the
real data's; one sample grid per run is copied to ``<docs>/<data>_<model>.png``.

    python scripts/zoo.py --root ../shared/data --json zoo.json          # both data sets, one job at a time
    python scripts/zoo.py --root ../shared/data --jobs 2 --data mnist    # two jobs at once (joblib), 1 thread each
    python scripts/zoo.py --root ../shared/data --steps 50 --out /tmp/z  # a smoke run: 50 steps a model
    python scripts/zoo.py --out outputs/zoo --no-train                   # the table of runs already there

Stopped, it resumes: the same command (the same ``--out``) runs each sweep again in its own dir
(``hydra.sweep.dir=<out>/<data>``), where every job continues its run (``resume=auto``) and a finished one is
not trained again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from sweep_runs import ganlab_command, launcher  # noqa: E402 -- beside this script

MODELS = ("gan", "cgan", "dcgan", "wgan", "wgan_gp", "rpgan")
DATA = ("mnist", "fashion_mnist")
METRICS = ("class_kl", "fid_classifier", "label_accuracy")
# issue 14's targets on MNIST: every model covers the classes; cgan draws the class asked for; the best model's
# fid_classifier within 5x the real data's
TARGETS = {"data": "mnist", "class_kl": 0.05, "label_accuracy": 0.95, "fid_ratio": 5.0}


def sweep_command(data: str, models: list[str], out: Path, root: str, jobs: int, steps: int | None,
                  overrides: list[str]) -> list[str]:
    """The ``ganlab train -m`` command that trains (or continues) every model on ``data`` in ``out/data``."""
    return [ganlab_command(), "train", "-m", f"model={','.join(models)}", f"data={data}", f"data.root={root}",
            "eval.at_end=true", "trainer.progress=false", f"hydra.sweep.dir={out / data}", *launcher(jobs),
            *([f"trainer.steps={steps}"] if steps else []), *overrides]


def _status(job: Path) -> dict[str, Any]:
    """The job's status.json as ganlab reads it (``running`` with no process left: ``stopped``)."""
    from ganlab.errors import GanlabError
    from ganlab.runs.rundir import read_status

    try:
        return read_status(job)
    except GanlabError:
        return {}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


def collect(sweep: Path) -> list[dict[str, Any]]:
    """One row per job dir of a sweep: model, data, steps, status, time and metrics (None where missing)."""
    rows = []
    for job in sorted(p for p in sweep.iterdir() if (p / ".hydra" / "config.yaml").is_file()) if sweep.is_dir() else []:
        cfg = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
        status, metrics = _status(job), _read_json(job / "metrics.json")
        reference = metrics.get("reference") or {}
        grids = sorted((job / "samples").glob("step_*.png"))
        rows.append({
            "model": cfg["model"]["name"], "data": cfg["data"]["name"], "run": str(job),
            "steps": metrics.get("step") if status.get("status") == "done" else None, "planned_steps": cfg["trainer"]["steps"],
            "status": status.get("status", "not started"),
            "seconds": status.get("seconds"), "cpu_seconds": status.get("cpu_seconds"),
            "first_step": status.get("first_step"),
            **{m: metrics.get(m) for m in METRICS}, "reference": {m: reference.get(m) for m in METRICS},
            "grid": str(grids[-1]) if grids else None,
        })
    return rows


def _num(value: float | None, digits: int, percent: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.1f} %" if percent else f"{value:.{digits}f}"


def _cell(row: dict[str, Any], metric: str) -> str:
    digits, percent = {"class_kl": (3, False), "fid_classifier": (1, False), "label_accuracy": (1, True)}[metric]
    value, real = row[metric], row["reference"][metric]
    if value is None:
        return "–"
    return f"{_num(value, digits, percent)} ({_num(real, digits, percent)})"


def _time(row: dict[str, Any]) -> str:
    if row["seconds"] is None:
        return "–"
    resumed = f", from step {row['first_step']}" if row.get("first_step") else ""
    return f"{row['seconds'] / 60:.1f} / {row['cpu_seconds'] / 60:.1f}{resumed}"


def table(rows: list[dict[str, Any]]) -> str:
    """The zoo as a Markdown table: each metric with the real data's value in brackets."""
    lines = ["| data | model | steps | min wall / CPU | class_kl ↓ (real) | fid_classifier ↓ (real) | "
             "label_accuracy ↑ (real) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        steps = f"{r['steps']:,}" if r["status"] == "done" else f"{r['planned_steps']:,} ({r['status']})"
        lines.append(f"| {r['data']} | {r['model']} | {steps} | {_time(r)} | {_cell(r, 'class_kl')} | "
                     f"{_cell(r, 'fid_classifier')} | {_cell(r, 'label_accuracy')} |")
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """Whether the MNIST runs meet issue 14's targets, a line each (nothing without finished MNIST runs)."""
    done = [r for r in rows if r["data"] == TARGETS["data"] and r["status"] == "done" and r["class_kl"] is not None]
    if not done:
        return []
    lines = []
    for r in done:
        ok = r["class_kl"] <= TARGETS["class_kl"]
        lines.append(f"{r['model']}: class_kl {r['class_kl']:.3f} {'<=' if ok else '>'} {TARGETS['class_kl']}"
                     f" -> {'met' if ok else 'MISSED'}")
        if r["label_accuracy"] is not None:
            ok = r["label_accuracy"] >= TARGETS["label_accuracy"]
            lines.append(f"{r['model']}: label_accuracy {100 * r['label_accuracy']:.1f} % "
                         f"{'>=' if ok else '<'} {100 * TARGETS['label_accuracy']:.0f} % -> {'met' if ok else 'MISSED'}")
    scored = [r for r in done if r["fid_classifier"] is not None and r["reference"]["fid_classifier"]]
    if scored:
        best = min(scored, key=lambda r: r["fid_classifier"])
        ratio = best["fid_classifier"] / best["reference"]["fid_classifier"]
        ok = ratio <= TARGETS["fid_ratio"]
        lines.append(f"best fid_classifier: {best['model']} {best['fid_classifier']:.1f} = {ratio:.1f}x the real data's "
                     f"{best['reference']['fid_classifier']:.1f} -> {'met' if ok else 'MISSED'} (<= {TARGETS['fid_ratio']:.0f}x)")
    return lines


def copy_grids(rows: list[dict[str, Any]], docs: Path) -> None:
    """Each finished run's last fixed-noise sample grid as ``docs/<data>_<model>.png``."""
    for r in rows:
        if r["grid"] and r["status"] == "done":
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(r["grid"], docs / f"{r['data']}_{r['model']}.png")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=",".join(DATA), help="data sets, comma-separated (one sweep each)")
    p.add_argument("--models", default=",".join(MODELS), help="model presets, comma-separated")
    p.add_argument("--root", default="../shared/data", help="data.root: where MNIST/ and FashionMNIST/ are")
    p.add_argument("--jobs", type=int, default=1, help="runs at once (Hydra's joblib launcher); 1: one after another")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads per run (OMP_NUM_THREADS, unless set): the float sums, so the trajectory, depend on it")
    p.add_argument("--steps", type=int, default=None, help="train every model this many steps, not its preset's")
    p.add_argument("--out", default="outputs/zoo", help="the sweeps' dirs: <out>/<data>/<num>_<model>_<data>")
    p.add_argument("--docs", default="docs/zoo", help="where the sample grids go")
    p.add_argument("--cache", default=None,
                   help="eval.cache_dir: where the metric's classifiers are kept (default <root>/ganlab; give a "
                        "writable place when the data folder is read-only, or each run trains its classifier again)")
    p.add_argument("--no-train", action="store_true", help="only read the runs in --out")
    p.add_argument("--json", default=None, help="write the rows and the target checks here")
    p.add_argument("overrides", nargs="*", help="extra ganlab key=value overrides for every run")
    a = p.parse_args()
    out, models, datasets = Path(a.out), a.models.split(","), a.data.split(",")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(a.threads))}
    failed = False
    for data in datasets:
        if a.no_train:
            continue
        extra = [f"eval.cache_dir={a.cache}"] if a.cache else []
        cmd = sweep_command(data, models, out, a.root, a.jobs, a.steps, [*extra, *a.overrides])
        print("$ " + " ".join(cmd), flush=True)
        failed |= subprocess.run(cmd, env=env).returncode != 0
    rows = [r for data in datasets for r in collect(out / data) if r["model"] in models]
    rows.sort(key=lambda r: (datasets.index(r["data"]), models.index(r["model"])))
    copy_grids(rows, Path(a.docs))
    print()
    print(table(rows))
    checks = targets(rows)
    if checks:
        print("\nTargets on MNIST (issue 14):\n" + "\n".join(f"  {line}" for line in checks))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"rows": rows, "targets": checks, "threads": int(env["OMP_NUM_THREADS"]),
                                            "jobs": a.jobs}, indent=2) + "\n")
        print(f"wrote {a.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
