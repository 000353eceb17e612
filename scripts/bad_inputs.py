#!/usr/bin/env python
"""Run the table of bad inputs (tests/bad_input_cases.py) through the real ``ganlab`` command and print, for
each, its exit status and the first line of its message.

Every case must exit 2 with one paragraph naming the key or file and the fix (or 0 where the input is valid),
with no traceback; no hostile file's payload may run (a marker file would appear); and the refused ``train``
commands, run from one folder with the default run dir, must leave no run dir behind. The fixtures (data files,
broken copies, five tiny trained runs) are built first, through the command as well.

    python scripts/bad_inputs.py                      # the table; exit 1 if any case fails
    python scripts/bad_inputs.py --jobs 2 --json bad_inputs.json
    python scripts/bad_inputs.py --only sample        # the cases whose group or arguments contain a word
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))

from bad_input_cases import MARKER, Case, build_fixtures, cases  # noqa: E402

GANLAB = str(Path(sys.executable).with_name("ganlab"))


def ganlab(args: list[str] | tuple[str, ...], cwd: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0", "PYTHONPATH": str(HERE)}
    return subprocess.run([GANLAB, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def check(case: Case, proc: subprocess.CompletedProcess) -> tuple[bool, str]:
    """Whether ``proc`` answered ``case`` as it must, and why not."""
    text = proc.stdout + proc.stderr
    if "Traceback" in text:
        return False, "traceback"
    if proc.returncode != case.expect:
        return False, f"exit {proc.returncode}, expected {case.expect}"
    if case.needle and case.needle not in text:
        return False, f"message lacks {case.needle!r}"
    return True, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once")
    parser.add_argument("--only", default="", help="run only the cases whose group or arguments contain this")
    parser.add_argument("--keep", help="build the fixtures in this folder (kept) instead of a temporary one")
    a = parser.parse_args()
    root = Path(a.keep or tempfile.mkdtemp(prefix="ganlab_bad_inputs_"))
    start = time.perf_counter()

    def train(args: list[str]) -> None:
        proc = ganlab(["train", *args], cwd=str(root))
        if proc.returncode:
            raise SystemExit(f"fixture run failed: ganlab train {' '.join(args)}\n{proc.stderr}")

    fx = build_fixtures(root, train)
    table = [c for c in cases(fx) if a.only in c.group or any(a.only in x for x in c.args)]
    print(f"fixtures built in {time.perf_counter() - start:.0f} s under {root}; {len(table)} cases", flush=True)

    def run(case: Case) -> dict:
        tick = time.perf_counter()
        proc = ganlab(case.args, cwd=fx["cwd"])
        ok, why = check(case, proc)
        line = first_line(proc.stderr) or first_line(proc.stdout)
        return {"group": case.group, "command": "ganlab " + " ".join(case.args), "expect": case.expect,
                "exit": proc.returncode, "ok": ok, "why": why, "message": line, "seconds": time.perf_counter() - tick}

    with ThreadPoolExecutor(a.jobs) as pool:
        results = []
        for i, res in enumerate(pool.map(run, table), 1):
            results.append(res)
            mark = "ok  " if res["ok"] else "FAIL"
            print(f"{i:3d} {mark} exit {res['exit']}  {res['command'][:150]}\n           {res['message'][:300]}"
                  + (f"\n           -> {res['why']}" if res["why"] else ""), flush=True)
    leftovers = sorted(str(p.relative_to(fx["cwd"])) for p in Path(fx["cwd"]).glob("outputs/*/*"))
    payload_ran = (root / MARKER).exists()
    bad = [r for r in results if not r["ok"]]
    print(f"\n{len(results)} cases, {len(results) - len(bad)} as they must be, {len(bad)} not; "
          f"tracebacks: {sum(r['why'] == 'traceback' for r in results)}; payload ran: {payload_ran}; "
          f"run dirs left by refused commands: {leftovers or 'none'}; {time.perf_counter() - start:.0f} s")
    if a.json:
        Path(a.json).write_text(json.dumps({"cases": results, "payload_ran": payload_ran, "leftovers": leftovers},
                                           indent=1) + "\n")
    return 1 if bad or payload_ran or leftovers else 0


if __name__ == "__main__":
    sys.exit(main())
