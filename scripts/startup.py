"""Time how fast the ``ganlab`` command starts: its help, ``ganlab train --help``, and short training runs.

Each command runs ``--repeat`` times as a fresh process (the installed ``ganlab`` executable, with
PYTHONPATH pointing at a source tree), interleaved across trees so a busy machine slows them alike; the
table shows the median wall time. ``--tree`` adds another checkout to compare with (e.g. an older commit
unpacked with ``git archive``). ``--imports`` also prints the slowest top-level imports of the tiny run
(``python -X importtime``).

    python scripts/startup.py --json startup.json
    git archive main | tar -x -C /tmp/base && python scripts/startup.py --tree /tmp/base --json startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GANLAB = str(Path(sys.executable).with_name("ganlab"))
HERE = Path(__file__).resolve().parent.parent
TINY = ["trainer.steps=20", "trainer.batch_size=16", "trainer.log_every=5", "trainer.sample_every=10",
        "trainer.ckpt_every=10", "trainer.progress=false", "model.mlp.hidden=32", "model.conv.channels=8", "model.z_dim=16"]
COMMANDS = {  # name: (what it is, ganlab's arguments)
    "help": ("ganlab --help", ["--help"]),
    "train-help": ("ganlab train --help", ["train", "--help"]),
    "tiny-digits": ("ganlab train, 20 tiny steps, digits", ["train", *TINY]),
    "tiny-grid25": ("ganlab train, 20 tiny steps, grid25", ["train", *TINY, "data=grid25"]),
    "default-200": ("ganlab train, default, 200 steps", ["train", "trainer.steps=200", "trainer.progress=false"]),
}


def run(tree: Path, args: list[str], workdir: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if args[0] == "train" and "--help" not in args:
        args = [*args, f"hydra.run.dir={tempfile.mkdtemp(dir=workdir)}"]
    start = time.perf_counter()
    subprocess.run([GANLAB, *args], env=env, cwd=workdir, check=True, capture_output=True)
    return time.perf_counter() - start


def slowest_imports(tree: Path, workdir: Path, top: int = 12) -> list[tuple[str, float]]:
    """The top-level imports of a tiny run by cumulative time (the first import of a module pays for it)."""
    code = "import sys; from ganlab.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["train", *TINY, f"hydra.run.dir={tempfile.mkdtemp(dir=workdir)}"]
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], env={**os.environ,
                          "PYTHONPATH": str(tree)}, cwd=workdir, capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and "cumulative" not in line and not parts[2].startswith("  "):
            rows.append((parts[2].strip(), int(parts[1]) / 1e6))  # a top-level import (nested ones are indented)
    return sorted(rows, key=lambda r: -r[1])[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another source tree to compare")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--commands", default=",".join(COMMANDS), help=f"comma-separated, of {', '.join(COMMANDS)}")
    parser.add_argument("--imports", action="store_true", help="print the slowest top-level imports")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    trees = [HERE, *[t.resolve() for t in args.tree]]
    names = [n.strip() for n in args.commands.split(",")]
    times: dict[tuple[str, Path], list[float]] = {(n, t): [] for n in names for t in trees}
    with tempfile.TemporaryDirectory(prefix="ganlab-startup-") as tmp:
        for _ in range(args.repeat):
            for name in names:
                for tree in trees:
                    times[name, tree].append(run(tree, COMMANDS[name][1], Path(tmp)))
        imports = {tree: slowest_imports(tree, Path(tmp)) for tree in trees} if args.imports else {}
    rows = [{"command": COMMANDS[n][0], "tree": str(t), "median_s": round(statistics.median(v), 3), "runs_s": [round(x, 3) for x in v]}
            for (n, t), v in times.items()]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; median of {args.repeat} runs (s)")
    print(f"{'command':<40}" + "".join(f"{str(t)[-20:]:>22}" for t in trees))
    for name in names:
        print(f"{COMMANDS[name][0]:<40}" + "".join(f"{statistics.median(times[name, t]):>22.2f}" for t in trees))
    for tree, rows_ in imports.items():
        print(f"\nslowest top-level imports of a tiny run, {tree}:")
        for module, seconds in rows_:
            print(f"  {seconds:6.2f} s  {module}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
