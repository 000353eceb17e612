"""``ganlab eval``: compute a trained run's metrics, print them as a table and write ``<run dir>/metrics.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING, OmegaConf

from ganlab.config import GanlabError, parse_args


@dataclass
class EvalArgs:
    run: str = MISSING  # a run dir written by `ganlab train`
    n: int | None = None  # samples; None: the protocol's (2,500 for 2-D toys, 10,000 images, 26,000 stacked_mnist)
    checkpoint: str = "last"  # last, best, or a checkpoint file name in <run>/checkpoints
    seed: int = 0  # of the evaluation noise
    device: str = "auto"
    inception_weights: str | None = None  # torch-fidelity's Inception-v3 weights, for FID/KID/IS/PR; None: the run's
    cache_dir: str | None = None  # where digit classifiers are cached; None: the run's eval.cache_dir
    out: str | None = None  # the JSON file; None: <run dir>/metrics.json


def main(args: list[str]) -> int:
    from ganlab.config import TrainConfig
    from ganlab.data import load_dataset
    from ganlab.metrics.evaluator import Evaluator, metrics_table, write_metrics_json
    from ganlab.sample import load_generator

    a = parse_args(args, EvalArgs, "eval")
    if a.n is not None and a.n < 2:
        raise GanlabError(f"n must be at least 2 samples, got {a.n}.")
    run = Path(a.run)
    G, state, _ = load_generator(run, a.checkpoint, a.device)
    cfg = OmegaConf.merge(OmegaConf.structured(TrainConfig), state["config"])
    device = next(G.parameters()).device
    data = load_dataset(cfg.data).to(device)
    evaluator = Evaluator(data, cfg.data, device, n=a.n, inception_weights=a.inception_weights or cfg.eval.inception_weights,
                          cache_dir=a.cache_dir or cfg.eval.cache_dir, seed=a.seed)
    metrics = evaluator(G)
    step = int(state["step"])
    print(f"ganlab eval: {run} at step {step}, {evaluator.n} samples, data={cfg.data.name}")
    print(metrics_table(metrics, step))
    out = Path(a.out) if a.out else run / "metrics.json"
    write_metrics_json(out, step, metrics)
    print(f"ganlab: wrote {out}")
    return 0
