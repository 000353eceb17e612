"""Every metric beside its real-data reference: the same metric for held-out real data, printed by `ganlab eval`
and at the end of training, written to metrics.json and shown by `ganlab report`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import ganlab_cli, make_mnist, tiny_trainer, write_idx
from omegaconf import OmegaConf

from ganlab.data import load_dataset
from ganlab.metrics.base import Settings
from ganlab.metrics.evaluator import Evaluator

pytestmark = pytest.mark.usefixtures("single_thread")


def test_toy_reference_is_the_protocol_on_fresh_real_samples():
    """Real points of a Gaussian mixture: every mode, a share 1 - exp(-9/2) within 3 sd in 2-D, a histogram
    near uniform; computed once, without drawing from the caller's random stream."""
    data = load_dataset(OmegaConf.create({"name": "grid25", "std": 0.0}))
    evaluator = Evaluator(data, Settings(torch.device("cpu"), 2500, seed=0, log=lambda s: None))
    state = torch.get_rng_state()
    values, source = evaluator.reference({"modes": 1.0, "hq_fraction": 0.5, "reverse_kl": 3.0})
    assert torch.equal(torch.get_rng_state(), state)
    assert values["modes"] == 25 and values["hq_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert 0 <= values["reverse_kl"] < 0.03  # multinomial noise of 2,500 draws over 25 modes: about 24 / 5000
    assert source == "modes, hq_fraction, reverse_kl: 2500 fresh samples"
    assert evaluator.reference({"modes": 1.0}) == ({"modes": 25.0}, "modes: 2500 fresh samples")


def make_test_split(root, labels):
    """t10k files beside make_mnist's training files: the same bars, one per label."""
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    for i, y in enumerate(labels):
        images[i, 4:24, 2 + 2 * y : 5 + 2 * y] = 255
    raw = root / "MNIST" / "raw"
    write_idx(raw / "t10k-images-idx3-ubyte", images)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.asarray(labels, dtype=np.uint8))


def test_image_references_in_the_table_metrics_json_eval_and_report(tmp_path, capsys):
    """MNIST-format data with a test split whose classes are not uniform: the classifier reads every test image
    right, so the reference class_kl is the test labels' KL to uniform, exactly; fid_classifier's reference is
    the test images' distance to the training features; the report shows them below its table."""
    data = tmp_path / "data"
    make_mnist(data)  # 64 images: the classifier still reads every test image right
    labels = [0] * 30 + [k for k in range(1, 10) for _ in range(10)]  # 30 zeros, 10 of each other digit
    make_test_split(data, labels)
    p = np.bincount(labels, minlength=10) / len(labels)
    label_kl = float((p * np.log(p * 10)).sum())

    run = tmp_path / "sweep" / "0_gan_mnist"
    tiny_trainer(run, "data=mnist", f"data.root={data}", f"eval.cache_dir={tmp_path / 'cache'}", "trainer.steps=10").fit()
    out = capsys.readouterr().out
    assert "real data" in out and "real data: fid_classifier, class_kl: 120 images of the test set" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["classifier_accuracy"] == 1.0
    reference = metrics["reference"]
    assert reference.keys() == {"fid_classifier", "class_kl"}  # classifier_accuracy is the judge's, not a sample's
    assert reference["class_kl"] == pytest.approx(label_kl, rel=1e-9)
    assert 0 < reference["fid_classifier"] < metrics["fid_classifier"]
    assert metrics["reference_source"] == "fid_classifier, class_kl: 120 images of the test set"

    again = ganlab_cli(capsys, "eval", f"run={run}", "device=cpu", f"out={tmp_path / 'eval.json'}").stdout
    line = next(x for x in again.splitlines() if x.startswith("class_kl"))
    assert line.split()[-1] == f"{label_kl:.4g}"  # the real data's column
    assert json.loads((tmp_path / "eval.json").read_text())["reference"] == reference

    report = ganlab_cli(capsys, "report", str(tmp_path / "sweep")).stdout
    assert f"Real data: fid_classifier {reference['fid_classifier']:.4g}, class_kl {label_kl:.4g}" in report
    assert "Real data: " in (tmp_path / "sweep" / "report.md").read_text()
