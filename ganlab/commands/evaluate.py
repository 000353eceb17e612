"""``ganlab eval``: compute a trained run's metrics, print them as a table and write ``<run dir>/metrics.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import MISSING, DictConfig

from ganlab.commands.trained_run import check_out, open_run
from ganlab.config import key, parse_args
from ganlab.console import say
from ganlab.errors import GanlabError

OUT_FIX = "Pass out=<file.json> in a folder you can write to."


@dataclass
class EvalData:
    root: str | None = key(None, doc="where the data set's files are now (when they moved); unset: where the run "
                                     "read them")
    path: str | None = key(None, doc="data=folder: the folder of images now; unset: the run's")


@dataclass
class EvalArgs:
    """Compute a trained run's metrics beside the real data's, print them as a table and write them as JSON.

    ganlab eval run=outputs/runs/<run>
    ganlab eval run=outputs/runs/<run> checkpoint=best weights=raw out=raw.json data.root=../shared/data
    """

    run: str = MISSING
    n: int | None = key(None, lo=2, hi=1_000_000, doc="samples; unset: the data set's own count (2,500 for the 2-D "
                                                      "toys, 10,000 images, ...)")
    checkpoint: str = "last"
    seed: int = key(0, lo=0, hi=2**63 - 1, doc="of the evaluation noise")
    device: str = "auto"
    inception_weights: str | None = key(None, doc="torch-fidelity's Inception-v3 weights file, for fid, kid, "
                                                  "inception_score, precision, recall; unset: the run's")
    cache_dir: str | None = key(None, doc="where the metric's classifiers are cached; unset: the run's eval.cache_dir")
    out: str | None = key(None, doc="the JSON file; unset: <run>/metrics.json")
    weights: str | None = None
    data: EvalData = field(default_factory=EvalData)


def run_config(a: DictConfig, state: dict, path: Path) -> DictConfig:
    """The run's config from its checkpoint, with what the command line changes (n, data.root, data.path)."""
    from ganlab.commands.compose import check, saved_config

    cfg = saved_config(state["config"], path)
    if a.n is not None:
        cfg.eval.n = a.n
    for name in ("root", "path"):
        if a.data[name] is not None:
            if name not in cfg.data:
                keys = ", ".join(k for k in cfg.data if k != "name")
                raise GanlabError(f"data.{name}={a.data[name]}: this run's data={cfg.data.name} has no key {name} "
                                  f"(its keys: {keys}); data.root= is for the data sets read from files, "
                                  "data.path= for data=folder. Drop it.")
            cfg.data[name] = a.data[name]
    return check(cfg)  # eval.n's range, among the rest


def main(args: list[str]) -> int:
    from ganlab.data import load_dataset
    from ganlab.metrics.base import Settings
    from ganlab.metrics.evaluator import Evaluator, metrics_table, write_metrics_json
    from ganlab.metrics.inception import find_weights

    a = parse_args(args, EvalArgs, "eval")
    run = Path(a.run)
    out = Path(a.out) if a.out else run / "metrics.json"
    if a.out:  # the default lies in the run dir, which must exist (a missing one is never made here)
        check_out(out, OUT_FIX)
    G, state = open_run(a.run, a.checkpoint, a.device, a.weights)
    cfg = run_config(a, state, run / "checkpoints" / (a.checkpoint if a.checkpoint.endswith(".pt") else f"{a.checkpoint}.pt"))
    weights = a.inception_weights or cfg.eval.inception_weights
    if weights:
        find_weights(weights)  # a file that is not the weights is refused before anything is computed
    device = next(G.parameters()).device
    data = load_dataset(cfg.data, seed=int(cfg.seed)).to(device)  # data.limit: the run's images (judged by all)
    cache = a.cache_dir or cfg.eval.cache_dir
    settings = Settings(device, int(cfg.eval.n or data.eval_samples), a.seed, weights,
                        Path(cache).expanduser() if cache else None, say)
    evaluator = Evaluator(data, settings)
    metrics = evaluator(G)
    step = int(state["step"])
    say(f"ganlab eval: {run} at step {step}, {evaluator.n} samples, data={cfg.data.name}, weights={G.weights}")
    reference = evaluator.reference(metrics)
    say(metrics_table(metrics, step, *reference))
    write_metrics_json(out, step, metrics, *reference)
    say(f"ganlab: wrote {out}")
    return 0
