"""Evaluation and diagnostics: the metrics of generators whose answer is known (stubs that copy real images),
periodic evaluation that leaves training alone, checkpoints/best.pt, HParams, the monitor's warnings, and
`ganlab eval` and a diverging run through the command line."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import ganlab_cli, make_mnist, read_scalars, run_ganlab, tiny_trainer
from omegaconf import OmegaConf
from torch import nn

from ganlab.data import load_dataset
from ganlab.metrics.base import Headline, Settings, headline_for
from ganlab.metrics.evaluator import Evaluator, write_metrics_json
from ganlab.metrics.toy import kl_to_uniform
from ganlab.training.monitor import Monitor, mean_pairwise_distance
from ganlab.training.tensorboard import RunLogger

pytestmark = pytest.mark.usefixtures("single_thread")
TOY_METRICS = {"modes", "hq_fraction", "reverse_kl"}


def read_json(path):
    return json.loads(path.read_text())


def hparams_of(run_dir) -> dict[str, object]:
    """The hyperparameters a run wrote for TensorBoard's HParams tab (in <run>/hparams), read back with
    TensorBoard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    acc = EventAccumulator(str(run_dir / "hparams"))
    acc.Reload()
    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    assert metadata.SESSION_END_INFO_TAG in content
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    return {k: v.string_value or v.number_value for k, v in start.hparams.items()}


# ------------------------------------------------------------------------------------ generators with answers
class CopyingGenerator(nn.Module):
    """A conditional "generator" that returns real images: of the asked class y, or with ``ignore_labels`` of a
    class of its own choosing (uniform, whatever y says). The noise picks which image."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_labels: bool = False):
        super().__init__()
        self.z_dim, self.num_classes, self.ignore_labels = 4, num_classes, ignore_labels
        self.images = images.float() / 127.5 - 1
        self.by_class = [torch.nonzero(labels == c).flatten() for c in range(int(labels.max()) + 1)]
        self.seen: list[torch.Tensor] = []

    def pick(self, classes: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        which = (z.abs() * 1e4).long()
        return torch.stack([self.by_class[c][w % len(self.by_class[c])] for c, w in zip(classes.tolist(), which.tolist(), strict=True)])

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        assert y is not None
        self.seen.append(y)
        classes = (z[:, 1].abs() * 1e4).long() % 10 if self.ignore_labels else y
        return self.images[self.pick(classes, z[:, 0])]


class StackingGenerator(CopyingGenerator):
    """Stacked MNIST's "generator": label 100 a + 10 b + c gets real digits a, b and c as its R, G, B planes."""

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        assert y is not None
        self.seen.append(y)
        digits = [y // 100, y // 10 % 10, y % 10]
        return torch.cat([self.images[self.pick(d, z[:, i])] for i, d in enumerate(digits)], dim=1)


def evaluate(data, G, n: int, log: list[str]) -> dict[str, float]:
    return Evaluator(data, Settings(torch.device("cpu"), n, seed=0, log=log.append))(G)


@pytest.fixture(scope="module")
def digits():
    return load_dataset(OmegaConf.create({"name": "digits", "image_size": None}))


def test_a_generator_that_copies_real_digits_of_the_asked_class(digits, hermetic):
    """label_accuracy >= 0.9 when G draws the class it is asked for and about 0.1 when it ignores the label;
    class_kl near 0 for balanced classes; fid_classifier far below that of a blank G. The classifier is trained
    once and cached; the Inception metrics are skipped with one line when no weights are at hand."""
    log: list[str] = []
    copies = evaluate(digits, CopyingGenerator(digits.images, digits.labels, 10), 2000, log)
    assert copies["classifier_accuracy"] >= 0.9 and copies["label_accuracy"] >= 0.9
    assert copies["class_kl"] < 0.02
    assert sum("no Inception weights" in line for line in log) == 1
    assert not {"fid", "kid", "inception_score"} & copies.keys()
    assert len(list((hermetic / "ganlab_cache").glob("classifier_digits_1x8x8_*.pt"))) == 1
    shuffled = evaluate(digits, CopyingGenerator(digits.images, digits.labels, 10, ignore_labels=True), 2000, [])
    assert shuffled["label_accuracy"] == pytest.approx(0.1, abs=0.03)

    class Blank(CopyingGenerator):
        def forward(self, z, y=None):
            return torch.full((len(z), 1, 8, 8), -1.0)

    blank = evaluate(digits, Blank(digits.images, digits.labels, 10), 2000, [])
    assert copies["fid_classifier"] < 0.1 * blank["fid_classifier"]
    assert blank["class_kl"] > 1.0  # one class for every sample: log 10 = 2.3 if the classifier agrees


def test_stacked_mnist_reads_the_three_digits_of_each_sample(tmp_path):
    """A generator that stacks real digits a, b, c for label 100 a + 10 b + c: the classifier reads them back,
    so modes and reverse_kl are those of the labels asked for, and label_accuracy is near 1."""
    make_mnist(tmp_path)
    data = load_dataset(OmegaConf.create({"name": "stacked_mnist", "root": str(tmp_path), "download": False,
                                          "image_size": None}))
    single = data.classifier_data()
    G = StackingGenerator(single.images, single.labels, 1000)
    metrics = evaluate(data, G, 1000, [])
    asked = torch.cat(G.seen)
    assert metrics["label_accuracy"] >= 0.95
    assert metrics["modes"] == pytest.approx(len(asked.unique()), rel=0.02)
    assert metrics["reverse_kl"] == pytest.approx(kl_to_uniform(torch.bincount(asked, minlength=1000)), rel=0.05)
    assert len(list((tmp_path / "ganlab").glob("classifier_mnist_1x28x28_*.pt"))) == 1  # beside the data


def test_the_headline_metric_and_what_is_better():
    found = headline_for(["fid", "fid_classifier", "class_kl"])
    assert (found.name, found.lower_is_better) == ("fid_classifier", True)
    assert headline_for(["modes", "reverse_kl", "label_accuracy"]).name == "reverse_kl"
    assert headline_for(["fid", "kid"]).name == "fid" and headline_for(["class_kl"]) is None
    lower, higher = Headline("a", True), Headline("b", False)
    assert lower.better(1.0, 2.0) and not lower.better(2.0, 1.0) and not lower.better(1.0, 1.0)
    assert higher.better(2.0, 1.0) and not higher.better(1.0, 2.0)
    assert lower.better(5.0, None) and lower.better(5.0, math.nan) and not lower.better(math.nan, 5.0)


def test_metrics_json_is_strict_json_with_null_for_undefined_values(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    write_metrics_json(path, 7, {"modes": 0.0, "reverse_kl": math.nan, "hq_fraction": 0.0})

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    assert json.loads(path.read_text(), parse_constant=refuse) == {"step": 7, "modes": 0.0, "reverse_kl": None,
                                                                  "hq_fraction": 0.0}
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temporary file left behind


class ScriptedEvaluator:
    """Evaluations that return the given headline values in turn."""

    headline = Headline("reverse_kl", True)

    def __init__(self, values):
        self.values = iter(values)

    def __call__(self, G):
        return {"modes": 3.0, "reverse_kl": next(self.values)}

    def reference(self, metrics):
        return {}, ""


@pytest.mark.parametrize("values,best_step", [([3.0, 1.0, 2.0], 2), ([math.nan, 3.0, 1.0, 2.0], 3)])
def test_best_checkpoint_is_the_best_evaluation(tmp_path, values, best_step):
    """checkpoints/best.pt and best.json hold the evaluation with the lowest reverse KL (an undefined one never
    counts), with the generator as it was then; metrics.json the last."""
    steps = len(values)
    trainer = tiny_trainer(tmp_path, "data=grid25", f"trainer.steps={steps}", "trainer.ckpt_every=1000")
    trainer.evaluator = ScriptedEvaluator(values)
    logger = RunLogger(tmp_path)
    first = next(trainer.G.parameters())
    for step in range(1, steps + 1):
        trainer.step = step
        with torch.no_grad():
            first.fill_(step)  # the generator of this evaluation, recognisable in best.pt
        trainer.evaluate(logger)
    logger.close()
    best = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert best["step"] == best_step and best["best"] == {"metric": "reverse_kl", "value": 1.0, "step": best_step}
    assert float(next(iter(best["G"].values())).flatten()[0]) == best_step
    assert read_json(tmp_path / "checkpoints" / "best.json") == {"step": best_step, "modes": 3.0, "reverse_kl": 1.0}
    final = read_json(tmp_path / "metrics.json")
    assert final["step"] == steps and final["reverse_kl"] == values[-1]
    logged = dict(read_scalars(tmp_path)["Metrics/reverse_kl"])
    assert list(logged) == list(range(1, steps + 1)) and logged[best_step] == 1.0


# --------------------------------------------------------------------------------------------- during training
def test_periodic_evaluation_leaves_the_training_run_alone(tmp_path):
    """eval.every=5 logs Metrics/<name> at steps 5..20 and writes metrics.json and the HParams, and the losses
    are those of a run that never evaluates: evaluation draws nothing from the training stream."""
    common = ["data=grid25", "trainer.log_every=1", "seed=3"]
    tiny_trainer(tmp_path / "plain", *common, "eval.at_end=false").fit()
    tiny_trainer(tmp_path / "evaluated", *common, "eval.every=5").fit()
    plain, evaluated = read_scalars(tmp_path / "plain"), read_scalars(tmp_path / "evaluated")
    for tag in ("Loss/D", "Loss/G", "D/real"):
        assert evaluated[tag] == plain[tag], tag
    for name in TOY_METRICS:
        assert [s for s, _ in evaluated[f"Metrics/{name}"]] == [5, 10, 15, 20]
    assert not any(t.startswith("Metrics/") for t in plain) and not (tmp_path / "plain" / "metrics.json").exists()
    gap = dict(evaluated["D/gap"])
    assert gap[7] == pytest.approx(dict(evaluated["D/real"])[7] - dict(evaluated["D/fake"])[7], abs=1e-6)
    final = read_json(tmp_path / "evaluated" / "metrics.json")
    assert final["step"] == 20 and final.keys() >= TOY_METRICS and final["modes"] == dict(evaluated["Metrics/modes"])[20]
    hp = hparams_of(tmp_path / "evaluated")  # the five of every run (no key was set on a command line)
    assert hp == {"model.name": "gan", "data.name": "grid25", "optim.lr": pytest.approx(1e-3), "trainer.batch_size": 16,
                  "trainer.n_critic": 1}
    # its metrics: the final ones alone (no loss, rate or speed; an undefined reverse_kl left out), in its own run
    assert read_scalars(tmp_path / "evaluated" / "hparams") == {f"Metrics/{k}": [(20, pytest.approx(final[k]))]
                                                                for k in TOY_METRICS if final[k] is not None}


def test_monitor_measures_and_warns_on_made_up_values(tmp_path):
    """D/gap is D/real - D/fake; Diversity/pairwise is the fixed-noise batch's mean pairwise distance over the
    real data's (0 for a G that ignores its noise, 3 for one that spreads the real points 3 times as far). A
    warning comes once after warn_window logs in a row, and again only after the condition has lifted; no
    collapse warning in the first quarter of training, no D-wins warning for a critic whose outputs are not
    probabilities."""
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])) == pytest.approx(4.0)
    run = tiny_trainer(tmp_path, "data=grid25", "eval.warn_window=3", "eval.warn_d_fake=0.1", "eval.warn_diversity=0.2")
    class Still(nn.Module):  # a generator that ignores its noise: zero spread
        def forward(self, z, y=None):
            return torch.zeros(len(z), 2)

    monitor = Monitor(run.cfg.eval, Still(), run.data, z=run.samples.z, y=None, probabilistic=True, seed=0,
                      device=torch.device("cpu"), total_steps=100)
    assert monitor.measure({"D/real": 0.75, "D/fake": 0.5}) == {"D/gap": 0.25, "Diversity/pairwise": 0.0}
    torch.manual_seed(1)  # the monitor's real batch: seed + 1
    real = run.data.sample(256)[0]

    class Spread(nn.Module):  # a generator whose samples are that real batch, spread 3 times as far
        def forward(self, z, y=None):
            return 3 * real[: len(z)]

    wide = Monitor(run.cfg.eval, Spread(), run.data, z=run.samples.z, y=None, probabilistic=True, seed=0,
                   device=torch.device("cpu"), total_steps=100)
    assert wide.measure({"D/real": 0.5, "D/fake": 0.5})["Diversity/pairwise"] == pytest.approx(3.0, rel=1e-5)

    def warnings(d_fake, diversity, step, m=monitor):
        return m.warnings({"D/fake": d_fake, "Diversity/pairwise": diversity}, step)

    said = [warnings(0.05, 0.5, s) for s in (1, 2, 3, 4)]
    assert [len(w) for w in said] == [0, 0, 1, 0] and "D wins outright at step 3" in said[2][0]
    assert warnings(0.5, 0.5, 5) == [] and warnings(0.05, 0.5, 6) == [] and warnings(0.05, 0.5, 7) == []
    assert "D wins outright at step 8" in warnings(0.05, 0.5, 8)[0]
    assert [warnings(0.5, 0.1, s) for s in (20, 22, 24)] == [[], [], []]  # before step 25: G still spreading
    said = [warnings(0.5, 0.1, s) for s in (26, 27, 28)]
    assert said[:2] == [[], []] and "possible mode collapse at step 28" in said[2][0] and "0.100" in said[2][0]
    critic = Monitor(run.cfg.eval, run.G, run.data, z=run.samples.z, y=None, probabilistic=False, seed=0,
                     device=torch.device("cpu"), total_steps=100)
    assert [critic.warnings({"D/fake": -50.0, "Diversity/pairwise": 0.9}, s) for s in (1, 2, 3, 4)] == [[], [], [], []]


# ------------------------------------------------------------------------------------------ the command line
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("digits") / "run"
    tiny_trainer(run, "model=cgan", "data=digits", "trainer.steps=2", "eval.at_end=false").fit()
    return run


def test_eval_command_writes_metrics_json(digits_run, capsys):
    out = run_ganlab("eval", f"run={digits_run}", "n=300").stdout
    assert "300 samples" in out and "label_accuracy" in out and "no Inception weights" in out
    metrics = read_json(digits_run / "metrics.json")
    assert metrics["step"] == 2 and {"fid_classifier", "class_kl", "label_accuracy", "classifier_accuracy"} <= metrics.keys()
    bad = ganlab_cli(capsys, "eval", f"run={digits_run}", "samples=10", check=False)
    assert bad.returncode == 2 and "samples" in bad.stderr and "run, n" in bad.stderr and "Traceback" not in bad.stderr


def test_inception_weights_that_are_missing_or_not_inceptions_are_one_line_errors(digits_run, tmp_path, capsys):
    missing = ganlab_cli(capsys, "eval", f"run={digits_run}", "inception_weights=/no/such/file.pth", check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "garbage.pth").write_bytes(b"not weights")
    broken = ganlab_cli(capsys, "eval", f"run={digits_run}", "n=64", f"inception_weights={tmp_path / 'garbage.pth'}", check=False)
    assert broken.returncode == 2 and "is not the Inception weights" in broken.stderr and "Traceback" not in broken.stderr


def test_divergence_stops_with_one_message_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    tiny_trainer(run, "data=grid25", "trainer.steps=10", "eval.at_end=false").fit()
    good = (run / "checkpoints" / "last.pt").read_bytes()
    diverged = ganlab_cli(capsys, "train", f"resume={run}", "trainer.steps=60", "optim.lr=1e30", "optim.lr_d=1e30",
                          check=False)
    assert diverged.returncode == 2, diverged.stdout + diverged.stderr
    assert "training diverged" in diverged.stderr and "last good checkpoint is kept" in diverged.stderr
    assert "Traceback" not in diverged.stderr
    assert (run / "checkpoints" / "last.pt").read_bytes() == good
