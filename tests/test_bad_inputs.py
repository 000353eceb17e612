"""The table of bad inputs (tests/bad_input_cases.py), each through ganlab's command-line entry point in this
process: exit 2 with one paragraph naming the key or file (or 0 where the input is valid), never a traceback,
no payload run, and no run dir left by a refused command. scripts/bad_inputs.py runs the same table through the
installed `ganlab` command, one process per case."""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input_cases import MARKER, build_fixtures, cases
from conftest import trained


class _Placeholders(dict):
    """Stand-ins for the fixtures' paths: the table's length and names are known before they are built."""

    def __missing__(self, key: str) -> str:
        return f"/<{key}>"


TABLE = cases(_Placeholders())


def train_in_process(args: list[str]) -> None:
    """The fixtures' tiny runs, trained in this process (scripts/bad_inputs.py trains them with the command)."""
    (run_dir,) = (Path(a.split("=", 1)[1]) for a in args if a.startswith("hydra.run.dir="))
    trained(run_dir, *(a for a in args if not a.startswith("hydra.run.dir=")))


@pytest.fixture(scope="module")
def fx(tmp_path_factory, single_thread):
    return build_fixtures(tmp_path_factory.mktemp("bad_inputs"), train_in_process)


def run_in_process(args: tuple[str, ...]) -> int:
    from ganlab.cli import main

    try:
        return main(list(args))
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1


@pytest.mark.parametrize("index", range(len(TABLE)), ids=[f"{c.group}: {' '.join(c.args[-3:])}"[:90] for c in TABLE])
def test_bad_input(fx, index, capfd, monkeypatch):
    case = cases(fx)[index]
    monkeypatch.chdir(fx["cwd"])
    code = run_in_process(case.args)
    out = "".join(capfd.readouterr())
    assert code == case.expect, out
    assert "Traceback" not in out, out
    assert case.needle in out, out
    assert not (Path(fx["root"]) / MARKER).exists(), "a hostile file's payload ran"


def test_no_payload_ran_and_no_run_dir_was_left(fx):
    assert not (Path(fx["root"]) / MARKER).exists()
    assert [p.name for p in Path(fx["cwd"]).glob("outputs/*/*")] == []
