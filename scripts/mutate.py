"""Mutation testing by hand-picked one-line bugs: does the test suite notice when one line of ganlab is wrong?

Each mutation (``scripts/mutations.json``) names a file, a line as it is (whitespace around it ignored) and the
line that replaces it, and the tests that should notice (pytest paths or node ids; ``--suite`` runs the whole
suite instead). For each mutation the tree is copied to a temporary folder (ganlab/, configs/, tests/,
pyproject.toml), the one line is replaced there, and pytest runs in the copy with ``PYTHONPATH`` pointing at
it, so the ``ganlab`` subprocesses the tests start run the mutant too; the checkout is never touched. A
mutation is *caught* when pytest reports a failing test (exit 1), *survived* when every selected test passes
(exit 0); anything else (a collection error, a timeout) is reported as such.

A line that occurs more than once is told apart by ``after``: the first match after the first line containing
that text (e.g. ``"after": "class Hinge"``). ``--baseline`` first runs every distinct selection of tests on
the unmutated copy: a mutation only counts as caught if those tests pass without it.

    python scripts/mutate.py --json mutations-result.json
    python scripts/mutate.py --only hinge_g_sign,stacked_label_sum --baseline
    python scripts/mutate.py --suite --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
COPIED = ("ganlab", "configs", "tests", "pyproject.toml")


@dataclass
class Mutation:
    id: str
    file: str
    old: str
    new: str
    tests: list[str] = field(default_factory=list)
    after: str | None = None
    why: str = ""


@dataclass
class Outcome:
    id: str
    result: str  # caught, survived, error, timeout
    seconds: float
    failed: list[str]
    detail: str = ""


def load_mutations(path: Path) -> list[Mutation]:
    return [Mutation(**m) for m in json.loads(path.read_text())]


def mutated_text(text: str, m: Mutation) -> str:
    """``text`` with the line ``m.old`` (after ``m.after``, if given) replaced by ``m.new`` at its indentation."""
    lines = text.splitlines(keepends=True)
    start = 0
    if m.after is not None:
        start = next((i for i, line in enumerate(lines) if m.after in line), None)  # type: ignore[assignment]
        if start is None:
            raise ValueError(f"{m.id}: no line of {m.file} contains {m.after!r}")
    hits = [i for i in range(start, len(lines)) if lines[i].strip() == m.old.strip()]
    if not hits or (m.after is None and len(hits) > 1):
        where = f"after {m.after!r} " if m.after else ""
        raise ValueError(f"{m.id}: {m.file} has {len(hits)} lines {where}equal to {m.old!r} (want exactly one; "
                         "add 'after' to tell them apart)")
    i = hits[0]
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    ending = "\n" if lines[i].endswith("\n") else ""
    lines[i] = indent + m.new.strip() + ending
    return "".join(lines)


def copy_tree(dest: Path, source: Path = HERE) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)


def run_pytest(tree: Path, tests: list[str], timeout: float, stop: bool = True) -> tuple[int | None, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", *(["-x"] if stop else []), "-q", "-p", "no:cacheprovider", *tests]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        return None, out
    return proc.returncode, proc.stdout + proc.stderr


def failed_tests(output: str) -> list[str]:
    return sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+)", output, flags=re.MULTILINE)))


def selection(m: Mutation, suite: bool) -> list[str]:
    return ["tests"] if suite or not m.tests else m.tests


def run_one(m: Mutation, source: Path, suite: bool, timeout: float, stop: bool = True) -> Outcome:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"mutant_{m.id}_") as tmp:
        tree = Path(tmp)
        copy_tree(tree, source)
        target = tree / m.file
        target.write_text(mutated_text(target.read_text(), m))
        code, output = run_pytest(tree, selection(m, suite), timeout, stop)
    seconds = time.perf_counter() - start
    failed = failed_tests(output)
    if code is None:
        return Outcome(m.id, "timeout", seconds, failed, f"over {timeout:.0f} s")
    if code == 1:
        return Outcome(m.id, "caught", seconds, failed)
    if code == 0:
        return Outcome(m.id, "survived", seconds, [])
    tail = " | ".join(output.strip().splitlines()[-3:])
    return Outcome(m.id, "error", seconds, failed, f"pytest exit {code}: {tail[:300]}")


def baseline(mutations: list[Mutation], source: Path, suite: bool, timeout: float) -> dict[str, str]:
    """Each distinct selection of tests on the unmutated tree: 'pass' or what went wrong."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="mutant_baseline_") as tmp:
        tree = Path(tmp)
        copy_tree(tree, source)
        for tests in dict.fromkeys(tuple(selection(m, suite)) for m in mutations):
            code, output = run_pytest(tree, list(tests), timeout)
            out[" ".join(tests)] = "pass" if code == 0 else f"exit {code}: {', '.join(failed_tests(output)) or output[-300:]}"
            print(f"baseline {' '.join(tests)}: {out[' '.join(tests)]}", flush=True)
    return out


def table(mutations: list[Mutation], outcomes: list[Outcome]) -> str:
    by_id = {m.id: m for m in mutations}
    rows = ["| mutation | file | what the bug does | result | caught by | s |", "|---|---|---|---|---|---|"]
    for o in outcomes:
        m = by_id[o.id]
        caught_by = ", ".join(f.split("::", 1)[-1] for f in o.failed) if o.result == "caught" else o.detail
        rows.append(f"| {o.id} | {m.file.removeprefix('ganlab/')} | {m.why} | {o.result} | {caught_by} | {o.seconds:.0f} |")
    caught = sum(o.result == "caught" for o in outcomes)
    rows.append(f"\n{caught} of {len(outcomes)} mutations caught; survived: "
                f"{', '.join(o.id for o in outcomes if o.result == 'survived') or 'none'}.")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutations", type=Path, default=HERE / "scripts" / "mutations.json")
    parser.add_argument("--only", default="", help="comma-separated mutation ids")
    parser.add_argument("--suite", action="store_true", help="run the whole suite for every mutation")
    parser.add_argument("--baseline", action="store_true", help="first run the selected tests on the unmutated tree")
    parser.add_argument("--all", action="store_true", help="run every selected test (not -x): list all that fail")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per mutant")
    parser.add_argument("--json", type=Path, help="write the outcomes here")
    args = parser.parse_args()

    mutations = load_mutations(args.mutations)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m.id for m in mutations}
        if unknown:
            parser.error(f"unknown mutation ids: {', '.join(sorted(unknown))}")
        mutations = [m for m in mutations if m.id in wanted]
    for m in mutations:  # every mutation applies to the current tree before anything runs
        mutated_text((HERE / m.file).read_text(), m)
    with tempfile.TemporaryDirectory(prefix="mutant_source_") as snapshot:
        source = Path(snapshot)  # the tree as it is now: edits made while the mutants run do not leak in
        copy_tree(source)
        base = baseline(mutations, source, args.suite, args.timeout) if args.baseline else {}

        def run(m: Mutation) -> Outcome:
            o = run_one(m, source, args.suite, args.timeout, stop=not args.all)
            print(f"{o.result:9s} {o.id} ({o.seconds:.0f} s) {', '.join(o.failed) or o.detail}", flush=True)
            return o

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outcomes = list(pool.map(run, mutations))
    print()
    print(table(mutations, outcomes))
    if args.json:
        args.json.write_text(json.dumps({"baseline": base, "outcomes": [asdict(o) for o in outcomes],
                                         "mutations": [asdict(m) for m in mutations]}, indent=2) + "\n")
    broken_base = [k for k, v in base.items() if v != "pass"]
    return 1 if broken_base or any(o.result != "caught" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
