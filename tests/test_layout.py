"""The code's shape: imports point down the layers and never come back round, and no module is long (a new part
being one module plus one YAML file is tests/test_parts.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import ganlab

PACKAGE = Path(ganlab.__file__).resolve().parent
REPO = PACKAGE.parent

# each unit of ganlab/ (its first-level module or folder) and its layer; a unit may import lower layers only
# (the foundations may import each other; no two parts of one layer above them may)
LAYERS = {
    "errors": 0, "registry": 0, "console": 0, "figures": 0, "files": 0, "shares": 0, "memory": 0,
    "config": 1,
    "data": 2, "models": 2, "objectives": 2, "augment": 2,
    "runs": 3, "theory": 3,
    "metrics": 4,
    "training": 5,
    "commands": 6, "cli": 6, "__main__": 6, "__init__": 6,
}


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(path: Path, typing_too: bool = True) -> list[tuple[int, str]]:
    """Every ganlab module ``path`` imports, with its line: top-level and inside functions alike (and, unless
    ``typing_too`` is false, under ``if TYPE_CHECKING:``, which never runs)."""
    out, todo = [], [ast.parse(path.read_text())]
    while todo:
        node = todo.pop()
        if not typing_too and _type_checking(node):
            continue
        todo.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.startswith("ganlab.") and module_file(n)]
    return sorted(out)


def module_file(module: str) -> Path | None:
    """The file of a ganlab module (a package's ``__init__.py``), None for a name that is no module."""
    path = PACKAGE.parent.joinpath(*module.split("."))
    found = [p for p in (path.with_suffix(".py"), path / "__init__.py") if p.is_file()]
    return found[0] if found else None


def unit(module: str) -> str:
    return module.split(".")[1]


def test_every_import_points_down_a_layer():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        here = rel.parts[0].removesuffix(".py")
        assert here in LAYERS, f"{rel}: a new unit of ganlab/ needs its place in LAYERS"
        for line, target in imports_of(path):
            there = unit(target)
            allowed = there == here or LAYERS[there] < LAYERS[here] or (LAYERS[here] in (0, 6) and LAYERS[there] == LAYERS[here])
            if not allowed:
                bad.append(f"ganlab/{rel}:{line} imports {target} (layer {LAYERS[there]} from layer {LAYERS[here]})")
    assert not bad, "\n".join(bad)


def test_theory_is_imported_only_by_tests_and_scripts():
    """``ganlab/theory.py`` (closed forms and quadrature for the checks) is never imported by a run."""
    users = [f"{p.relative_to(REPO)}:{line}" for p in PACKAGE.rglob("*.py") for line, m in imports_of(p) if m == "ganlab.theory"]
    assert not users, users


def test_no_module_is_longer_than_about_300_lines():
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 320}
    assert not long, long


def test_no_two_modules_import_each_other_even_through_others():
    """At module granularity: no chain of imports (inside functions too; not the annotations' ``if
    TYPE_CHECKING:`` imports, which never run) leads from a module back to itself."""
    graph = {p: {module_file(m) for _, m in imports_of(p, typing_too=False)} - {p} for p in PACKAGE.rglob("*.py")}
    state: dict[Path, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node: Path, path: list[Path]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                cycles.append(" -> ".join(str(p.relative_to(REPO)) for p in cycle))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "\n".join(cycles)
