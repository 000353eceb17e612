"""Check ``trainer.compile=true`` end to end with inductor, which is too slow for the test suite on a small CPU
(the first step compiles G and D: about a minute on 2 cores with a cold cache, seconds with a warm one).

For each model it runs ``ganlab train`` twice, eager and compiled, with the same seed, and reads TensorBoard
back: the compile time must be logged once (``Speed/compile_s``, at step 1), the losses must be finite and
close to the eager run's, and it prints the speed of both (median ``Speed/img_per_s`` over the log windows).

    python scripts/check_compile.py [--models gan,wgan_gp] [--steps 60] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GANLAB = str(Path(sys.executable).with_name("ganlab"))


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def train(run_dir: Path, model: str, steps: int, device: str, compile_: bool) -> tuple[dict, float]:
    args = [GANLAB, "train", f"model={model}", "data=grid25", f"trainer.steps={steps}", "trainer.log_every=10",
            "trainer.progress=false", f"device.type={device}", f"trainer.compile={str(compile_).lower()}",
            f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return scalars(run_dir), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="gan,wgan_gp")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="ganlab-compile-") as tmp:
        for model in args.models.split(","):
            eager, eager_s = train(Path(tmp) / f"{model}_eager", model, args.steps, args.device, False)
            comp, comp_s = train(Path(tmp) / f"{model}_compiled", model, args.steps, args.device, True)
            compile_s = comp.get("Speed/compile_s", [])
            finite = all(math.isfinite(v) for tag in ("Loss/D", "Loss/G") for _, v in comp[tag])
            first = [v for (_, v) in comp["Loss/D"][:1]] + [v for (_, v) in eager["Loss/D"][:1]]
            close = len(first) == 2 and math.isclose(first[0], first[1], rel_tol=1e-3, abs_tol=1e-4)
            row = {"model": model, "device": args.device, "compile_s": compile_s[0][1] if compile_s else None,
                   "compile_logged_at": [s for s, _ in compile_s], "losses_finite": finite,
                   "first_window_loss_d_matches": close,
                   "eager_img_per_s": statistics.median(v for _, v in eager["Speed/img_per_s"]),
                   "compiled_img_per_s": statistics.median(v for _, v in comp["Speed/img_per_s"]),
                   "eager_run_s": round(eager_s, 1), "compiled_run_s": round(comp_s, 1)}
            row["ok"] = row["compile_logged_at"] == [1] and finite and close
            ok &= row["ok"]
            rows.append(row)
            print(json.dumps(row))
    print(f"\n{'model':<8} {'compile s':>9} {'eager img/s':>11} {'compiled img/s':>14} {'ok':>3}")
    for r in rows:
        print(f"{r['model']:<8} {r['compile_s'] or float('nan'):>9.1f} {r['eager_img_per_s']:>11.0f} "
              f"{r['compiled_img_per_s']:>14.0f} {'yes' if r['ok'] else 'NO':>3}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
