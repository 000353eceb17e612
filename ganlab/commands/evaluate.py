"""``ganlab eval``: compute a trained run's metrics, print them as a table and write ``<run dir>/metrics.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING, OmegaConf

from ganlab.commands.sample import open_run
from ganlab.config import parse_args
from ganlab.console import say


@dataclass
class EvalArgs:
    run: str = MISSING  # a run dir written by `ganlab train`
    n: int | None = None  # samples; None: the data set's own count (2,500 for 2-D toys, 10,000 images, ...)
    checkpoint: str = "last"  # last, best, or a checkpoint file name in <run>/checkpoints
    seed: int = 0  # of the evaluation noise
    device: str = "auto"
    inception_weights: str | None = None  # torch-fidelity's Inception-v3 weights, for FID/KID/IS/PR; None: the run's
    cache_dir: str | None = None  # where digit classifiers are cached; None: the run's eval.cache_dir
    out: str | None = None  # the JSON file; None: <run dir>/metrics.json
    weights: str | None = None  # ema or raw; default: ema when the checkpoint has it, else raw


def main(args: list[str]) -> int:
    from ganlab.commands.config import check, schema
    from ganlab.data import load_dataset
    from ganlab.metrics.base import Settings
    from ganlab.metrics.evaluator import Evaluator, metrics_table, write_metrics_json

    a = parse_args(args, EvalArgs, "eval")
    G, state = open_run(a.run, a.checkpoint, a.device, a.weights)
    cfg = OmegaConf.merge(OmegaConf.structured(schema()), state["config"])
    if a.n is not None:
        cfg.eval.n = a.n
    check(cfg)  # eval.n's range, among the rest
    device = next(G.parameters()).device
    data = load_dataset(cfg.data).to(device)
    cache = a.cache_dir or cfg.eval.cache_dir
    settings = Settings(device, int(cfg.eval.n or data.eval_samples), a.seed,
                        a.inception_weights or cfg.eval.inception_weights, Path(cache).expanduser() if cache else None, say)
    evaluator = Evaluator(data, settings)
    metrics = evaluator(G)
    step = int(state["step"])
    run = Path(a.run)
    say(f"ganlab eval: {run} at step {step}, {evaluator.n} samples, data={cfg.data.name}, "
        f"weights={G.weights}")
    reference = evaluator.reference(metrics)
    say(metrics_table(metrics, step, *reference))
    out = Path(a.out) if a.out else run / "metrics.json"
    write_metrics_json(out, step, metrics, *reference)
    say(f"ganlab: wrote {out}")
    return 0
