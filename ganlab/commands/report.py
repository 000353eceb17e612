"""``ganlab report <multirun dir>``: compare the runs of a sweep.

Reads each run's command-line overrides (``.hydra/overrides.yaml``), final metrics (``metrics.json``, with the
real-data reference of each metric) and best evaluation (``checkpoints/best.json``); prints a table sorted by
the headline metric and the real data's values below it, and writes them as ``report.md`` and ``report.csv``,
with ``report.png``: the headline metric against each swept value (the real data's as a dashed line). Any
launcher's sweep (basic, joblib, submitit: its ``.submitit/`` folder is not a run); for an Optuna search it also
reads the study's ``optimization_results.yaml`` and names the best trial.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from ganlab.config import key, parse_args
from ganlab.config.guard import load_yaml
from ganlab.console import say
from ganlab.errors import GanlabError
from ganlab.files import atomic_write, write_text, writing
from ganlab.runs.rundir import STATUS, read_status


@dataclass
class ReportArgs:
    """Compare the runs of a sweep: a table sorted by the headline metric, the real data's values below it, and
    report.md, report.csv and report.png (the headline against each swept value).

    ganlab report outputs/multirun/<date>_<time>
    ganlab report dir=outputs/multirun/<date>_<time> out=reports/
    """

    dir: str = key(MISSING, doc="a multirun dir written by `ganlab train -m` (or any folder of run dirs); the first "
                                "word may name it without dir=")
    out: str | None = key(None, doc="where report.md, .csv and .png go (made if missing); unset: the multirun dir")


@dataclass
class RunRow:
    name: str
    overrides: dict[str, str]
    final: dict[str, float | None] = field(default_factory=dict)
    best: dict[str, float | None] = field(default_factory=dict)
    reference: dict[str, float | None] = field(default_factory=dict)  # the metrics of held-out real data
    reference_source: str = ""
    status: str = ""  # done, failed, running, stopped (killed); empty for runs written before ganlab kept one


def _read_json(path: Path) -> dict[str, Any]:
    """A run's metrics file (``{}`` when there is none): an object of numbers, with the real data's numbers under
    ``reference`` and their source under ``reference_source``; anything else is refused."""
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text())
    except (ValueError, OSError) as err:
        raise GanlabError(f"{path} is not valid JSON ({err}). Write it again with `ganlab eval run={path.parent}` "
                          "(or delete it to leave the run's metrics out of the report).") from err
    def numbers(d: Any) -> bool:
        return isinstance(d, dict) and all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool)
                                           for v in d.values())

    if not isinstance(values, dict) or not numbers({k: v for k, v in values.items() if not k.startswith("reference")}) \
            or not numbers(values.get("reference", {})) or not isinstance(values.get("reference_source", ""), str):
        raise GanlabError(f"{path} is not a ganlab metrics file (an object of numbers). Write it again with "
                          f"`ganlab eval run={path.parent}` (or delete it to leave the run's metrics out of the report).")
    return values


def _read_overrides(path: Path) -> dict[str, str]:
    """The ``key=value`` words a run was started with (``.hydra/overrides.yaml``: a YAML list)."""
    if not path.is_file():
        return {}
    try:
        words = load_yaml(path)
    except GanlabError as err:
        raise GanlabError(f"{path} is not valid YAML ({err}). Hydra writes it as a list of key=value overrides: "
                          "restore it, or delete it to show the run without them.") from err
    if words is None:
        return {}
    if not isinstance(words, list):
        raise GanlabError(f"{path} is not a list of key=value overrides, as Hydra writes it. Restore it, or delete "
                          "it to show the run without them.")
    return dict(str(w).split("=", 1) for w in words if "=" in str(w))


def read_runs(sweep: Path) -> list[RunRow]:
    """Every run dir directly under ``sweep`` (one with ``.hydra/overrides.yaml``, ``checkpoints/`` or a status)."""
    rows = []
    for run in sorted(p for p in sweep.iterdir() if p.is_dir()):
        overrides_file = run / ".hydra" / "overrides.yaml"
        if not overrides_file.is_file() and not (run / "checkpoints").is_dir() and not (run / STATUS).is_file():
            continue
        status = read_status(run).get("status", "")
        final = _read_json(run / "metrics.json")
        reference, source = final.pop("reference", None) or {}, final.pop("reference_source", None) or ""
        rows.append(RunRow(run.name, _read_overrides(overrides_file), final, _read_json(run / "checkpoints" / "best.json"),
                           reference, source, status))
    return rows


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and value is not None else math.nan


def _fmt(value: Any) -> str:
    """A table cell: numbers to 4 significant digits, a swept value too where that is shorter (an Optuna trial's
    lr=0.0012304543..., not the 1e-3 someone typed)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "-"
    if isinstance(value, str) and not value.lstrip("+-").isdigit():
        try:
            number = float(value)
        except ValueError:
            return value
        short = f"{number:.4g}"
        return short if math.isfinite(number) and len(short) < len(value) else value
    return str(value)


def swept_keys(rows: list[RunRow]) -> tuple[list[str], dict[str, str]]:
    """The override keys whose value differs between runs, and the overrides all runs share."""
    keys = sorted({k for r in rows for k in r.overrides if not k.startswith("hydra.")})
    swept = [k for k in keys if len({r.overrides.get(k) for r in rows}) > 1]
    return swept, {k: rows[0].overrides[k] for k in keys if k not in swept}


def build_table(rows: list[RunRow], keys: list[str]) -> tuple[list[str], list[list[Any]], Any]:
    """Header, rows sorted by the final headline metric (best first, missing last), and the headline."""
    from ganlab.metrics.base import headline_for

    metrics = [m for m in dict.fromkeys(m for r in rows for m in r.final) if m != "step"]
    headline = headline_for(metrics)
    if headline is not None:
        sign = 1 if headline.lower_is_better else -1

        def order(r: RunRow) -> tuple[int, float]:
            v = _number(r.final.get(headline.name))
            return (0, sign * v) if math.isfinite(v) else (1, 0.0)

        rows = sorted(rows, key=order)
    best_cols = [f"best {headline.name}", "best step"] if headline else []
    # a status column where a run did not end well (failed, stopped, running): "done" or none everywhere says nothing
    status = ["status"] if any(r.status not in ("", "done") for r in rows) else []
    header = ["run", *status, *keys, "step", *metrics, *best_cols]
    table = []
    for r in rows:
        best = [r.best.get(headline.name), r.best.get("step")] if headline else []
        table.append([r.name, *([r.status or "-"] if status else []), *(r.overrides.get(k, "") for k in keys), r.final.get("step"),
                      *(r.final.get(m) for m in metrics), *best])
    return header, table, headline


def references(rows: list[RunRow]) -> list[str]:
    """One line per distinct real-data reference among the runs (runs on one data set share one)."""
    seen: dict[str, list[str]] = {}
    for r in rows:
        if r.reference:
            text = ", ".join(f"{k} {_fmt(v)}" for k, v in r.reference.items())
            seen.setdefault(f"{text} ({r.reference_source})" if r.reference_source else text, []).append(r.name)
    if len(seen) == 1:
        return [f"Real data: {line}" for line in seen]
    return [f"Real data of {', '.join(names)}: {line}" for line, names in seen.items()]


def render_text(header: list[str], table: list[list[Any]]) -> str:
    cells = [header, *([_fmt(v) for v in row] for row in table)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(header: list[str], table: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in table]
    return "\n".join(lines)


def plot(rows: list[RunRow], headline: Any, swept: list[str], path: Path) -> None:
    """The final headline metric against each swept key's values: one panel per key."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = swept or ["run"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.5), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        xs = [r.name if panel == "run" else r.overrides.get(panel, "") for r in rows]
        ys = [_number(r.final.get(headline.name)) for r in rows]
        try:
            xv = [float(x) for x in xs]
            ax.scatter(xv, ys)
            if min(xv) > 0 and max(xv) / min(xv) >= 10:
                ax.set_xscale("log")
            ticks = sorted(set(xv))
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks], rotation=30, ha="right", fontsize=8)
            ax.minorticks_off()
        except ValueError:  # categorical values: one position each, in order of appearance
            labels = list(dict.fromkeys(xs))
            ax.scatter([labels.index(x) for x in xs], ys)
            ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        real = {r.reference.get(headline.name) for r in rows} - {None}
        if len(real) == 1:
            ax.axhline(real.pop(), color="gray", linestyle="--", label="real data")
            ax.legend(fontsize=8)
        ax.set_xlabel(panel)
        ax.set_ylabel(f"{headline.name} ({'lower' if headline.lower_is_better else 'higher'} is better)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100))
    plt.close(fig)


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def study_summary(sweep: Path, rows: list[RunRow], headline: Any) -> str | None:
    """The best trial of an Optuna search (``optimization_results.yaml``), named by its run dir, and how many
    trials failed (no finite headline metric); None for a sweep that is not a search."""
    path = sweep / "optimization_results.yaml"
    if not path.is_file():
        return None
    try:
        study = load_yaml(path)
    except GanlabError as err:
        raise GanlabError(f"{path} cannot be read ({err}); it is what the Optuna sweeper writes at the end of a "
                          "search: delete it to report the trials without it.") from err
    params = study.get("best_params") if isinstance(study, dict) else None
    if not isinstance(params, dict):
        return f"The study's {path.name} names no single best trial (a multi-objective study?)."
    best = [r.name for r in rows if all(_same(r.overrides.get(k), v) for k, v in params.items())]
    shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    failed = sum(1 for r in rows if headline is None or not math.isfinite(_number(r.final.get(headline.name))))
    return (f"Optuna search: {len(rows)} trials ({failed} failed or unfinished). Best trial: "
            f"{', '.join(best) or '(its run dir is not here)'} with {shown}: value {study.get('best_value')} "
            f"({path.name}).")


def main(args: list[str]) -> int:
    if args and "=" not in args[0] and not args[0].startswith("-"):
        args = [f"dir={args[0]}", *args[1:]]
    a = parse_args(args, ReportArgs, "report")
    sweep = Path(a.dir)
    if not sweep.is_dir():
        raise GanlabError(f"'{sweep}' is not a directory. Pass the multirun dir that `ganlab train -m` printed.")
    try:
        rows = read_runs(sweep)
    except OSError as err:
        raise GanlabError(f"cannot read the runs under {sweep} ({err.strerror}: {err.filename}). Pass a folder of run "
                          "dirs you can read.") from err
    if not rows:
        raise GanlabError(f"no run dirs under '{sweep}' (folders holding .hydra/overrides.yaml, checkpoints/ or {STATUS}). "
                          "Pass the multirun dir of a sweep, e.g. outputs/multirun/<date>.")
    swept, common = swept_keys(rows)
    header, table, headline = build_table(rows, swept)
    out = Path(a.out) if a.out else sweep
    shared = " ".join(f"{k}={v}" for k, v in common.items())
    real = references(rows)
    say("\n".join([render_text(header, table), *real]))
    title = f"# Sweep report: {sweep}\n\nEvery run: `{shared or '(no overrides)'}`.\n\n"
    note = (f"Sorted by final `{headline.name}` ({'lower' if headline.lower_is_better else 'higher'} is better)."
            if headline else "No run has metrics: train with eval.at_end=true or run `ganlab eval run=<dir>`.")
    study = study_summary(sweep, rows, headline)
    note = f"{note}\n{study}" if study else note
    written = ["report.md", "report.csv"]
    with writing(out, "Pass out=<dir>, a folder you can write to (it is made if missing)."):
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "report.md", title + note + "\n\n" + render_markdown(header, table) + "\n"
                   + "".join(f"\n{line}\n" for line in real))
        rows_csv = io.StringIO(newline="")
        csv.writer(rows_csv).writerows([header, *([("" if v is None else v) for v in row] for row in table)])
        write_text(out / "report.csv", rows_csv.getvalue())
        if headline is not None:
            plot([r for r in rows], headline, swept, out / "report.png")
            written.append("report.png")
    say(f"\nEvery run: {shared or '(no overrides)'}\n{note}\nganlab: wrote {', '.join(str(out / w) for w in written)}")
    return 0
