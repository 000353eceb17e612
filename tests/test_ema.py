"""The generator's moving average: its update rule, its place in checkpoints and resumed runs, and the commands
(samples, evaluation, best.pt) that use it by default."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import ganlab_cli, tiny_trainer
from torch import nn

from ganlab.commands.compose import compose_config
from ganlab.commands.train import train
from ganlab.runs import generate, read_run
from ganlab.training.ema import GeneratorEMA, ema_decay


class Tiny(nn.Module):
    """One weight and a BatchNorm, whose running mean is a buffer the average must follow too."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1, bias=False)
        self.bn = nn.BatchNorm1d(1)

    def set(self, w: float, running_mean: float) -> Tiny:
        with torch.no_grad():
            self.lin.weight.fill_(w)
            self.bn.running_mean.fill_(running_mean)
        return self


def averaged(ema: GeneratorEMA) -> tuple[float, float]:
    return float(ema.module.lin.weight), float(ema.module.bn.running_mean)


def test_the_decay_has_a_half_life_in_images_and_ramps_up():
    assert ema_decay(1, half_life=64, batch_size=64, rampup=0) == 0.5  # one batch = one half-life
    assert ema_decay(1, half_life=640, batch_size=64, rampup=0) == 0.5 ** 0.1  # ten batches
    # ramp-up: the half-life is at most rampup x the images seen (k x batch): 0.25 x 4 x 2 = 2 images = one batch
    assert ema_decay(4, half_life=1e9, batch_size=2, rampup=0.25) == 0.5
    assert ema_decay(2, half_life=1e9, batch_size=2, rampup=0.25) == 0.25  # half as long: decay squared
    assert ema_decay(10**9, half_life=64, batch_size=64, rampup=0.25) == 0.5  # the ramp ends at the half-life


def test_the_update_rule_on_weights_and_batchnorm_buffers():
    """ema_1 = G_1; ema_k = d_k ema_(k-1) + (1 - d_k) G_k, exactly, for a weight and BatchNorm's running mean."""
    G = Tiny()
    ema = GeneratorEMA(G.set(0.0, 0.0), half_life=4, batch_size=4, rampup=0)  # d = 0.5 at every update
    for (w, mean), want in zip([(4.0, -2.0), (8.0, 2.0), (0.0, 1.0)], [(4.0, -2.0), (6.0, 0.0), (3.0, 0.5)], strict=True):
        ema.update(G.set(w, mean))
        assert averaged(ema) == want

    ramp = GeneratorEMA(G.set(0.0, 0.0), half_life=1e9, batch_size=2, rampup=0.25)
    values = [1.0, 5.0, 3.0, 7.0]
    for w in values:
        ramp.update(G.set(w, 0.0))
    d2, d3, d4 = (ema_decay(k, 1e9, 2, 0.25) for k in (2, 3, 4))
    want = ((1.0 * d2 + 5.0 * (1 - d2)) * d3 + 3.0 * (1 - d3)) * d4 + 7.0 * (1 - d4)
    assert averaged(ramp)[0] == pytest.approx(want, rel=1e-6) and ramp.updates == 4
    assert ramp.state_dict()["G_ema"].keys() == G.state_dict().keys()  # no wrapper prefix, no n_averaged


def test_a_resumed_average_continues_as_if_never_stopped():
    G = Tiny()
    full, half = (GeneratorEMA(G.set(0.0, 0.0), half_life=8, batch_size=2, rampup=0.5) for _ in range(2))
    weights = [3.0, -1.0, 4.0, 1.0, -5.0, 9.0]
    for i, w in enumerate(weights):
        full.update(G.set(w, w))
        if i < 3:
            half.update(G.set(w, w))
    state = half.state_dict()
    resumed = GeneratorEMA(G.set(0.0, 0.0), half_life=8, batch_size=2, rampup=0.5)
    resumed.load_state_dict(state, G)
    for w in weights[3:]:
        resumed.update(G.set(w, w))
    assert averaged(resumed) == averaged(full) and resumed.updates == 6


# ----------------------------------------------------------------------------------------- through the CLI
COMMON = ["model=dcgan", "data=digits", "model.ema=400", "trainer.log_every=1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 20-step dcgan run with an EMA, evaluated every 10 steps, and the same run stopped at 10 and resumed to 20
    (as `ganlab train resume=...` does, in this process)."""
    root = tmp_path_factory.mktemp("ema")
    tiny_trainer(root / "full", *COMMON, "eval.every=10").fit()  # the session's classifier cache
    tiny_trainer(root / "half", *COMMON, "trainer.steps=10", "eval.at_end=false").fit()
    resume = [f"resume={root / 'half'}", "trainer.steps=20"]
    train(compose_config(resume), root / "half", overrides=resume)
    return root


def checkpoint(run, name="last"):
    return torch.load(run / "checkpoints" / f"{name}.pt", weights_only=True)


def test_checkpoints_hold_the_average_and_a_resumed_run_averages_exactly(runs):
    full, resumed = checkpoint(runs / "full"), checkpoint(runs / "half")
    assert full["ema_updates"] == resumed["ema_updates"] == 20
    assert full["G_ema"].keys() == full["G"].keys()  # a plain generator's state dict
    for key, value in full["G_ema"].items():
        assert torch.allclose(resumed["G_ema"][key].float(), value.float(), atol=1e-6), key
    assert any(not torch.equal(full["G_ema"][k], full["G"][k]) for k in full["G"])  # an average, not a copy


def test_load_generator_takes_the_average_unless_asked_for_raw_weights(runs, tmp_path, capsys):
    state = checkpoint(runs / "full")
    ema, _ = read_run(runs / "full", weights=None)
    raw, _ = read_run(runs / "full", weights="raw")
    assert (ema.weights, raw.weights) == ("ema", "raw")
    for key, value in ema.net.state_dict().items():
        assert torch.equal(value, state["G_ema"][key]) and torch.equal(raw.net.state_dict()[key], state["G"][key])
    capsys.readouterr()
    del state["G_ema"], state["ema_updates"]  # a run trained with model.ema=0
    (tmp_path / "plain" / "checkpoints").mkdir(parents=True)
    torch.save(state, tmp_path / "plain" / "checkpoints" / "last.pt")
    plain, _ = read_run(tmp_path / "plain", weights=None)
    assert plain.weights == "raw" and capsys.readouterr().out == ""  # each command's own line names the weights
    assert all(torch.equal(v, state["G"][k]) for k, v in plain.net.state_dict().items())


def test_eval_best_pt_and_samples_use_the_average(runs, tmp_path, capsys):
    run = runs / "full"
    trained = json.loads((run / "metrics.json").read_text())
    out = ganlab_cli(capsys, "eval", f"run={run}", "n=200", "device=cpu", f"out={tmp_path / 'ema.json'}").stdout
    assert "weights=ema" in out
    ema = json.loads((tmp_path / "ema.json").read_text())
    raw_out = ganlab_cli(capsys, "eval", f"run={run}", "n=200", "device=cpu", "weights=raw", f"out={tmp_path / 'raw.json'}").stdout
    raw = json.loads((tmp_path / "raw.json").read_text())
    assert "weights=raw" in raw_out
    assert ema["fid_classifier"] == pytest.approx(trained["fid_classifier"], rel=1e-6)  # training evaluated the average
    assert raw["fid_classifier"] != pytest.approx(ema["fid_classifier"], rel=1e-6)
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    ganlab_cli(capsys, "eval", f"run={run}", "n=200", "device=cpu", "checkpoint=best", f"out={tmp_path / 'best.json'}")
    assert json.loads((tmp_path / "best.json").read_text())["fid_classifier"] == pytest.approx(best["fid_classifier"], rel=1e-6)

    ganlab_cli(capsys, "sample", f"run={run}", "n=8", "device=cpu", f"out={tmp_path / 'ema.npz'}")
    ganlab_cli(capsys, "sample", f"run={run}", "n=8", "device=cpu", "weights=raw", f"out={tmp_path / 'raw.npz'}")
    G, _ = read_run(run, weights=None)
    z = torch.randn(8, G.z_dim, generator=torch.Generator().manual_seed(0))
    drawn = np.load(tmp_path / "ema.npz")["samples"]
    assert np.allclose(drawn, generate(G, z).numpy(), atol=1e-6)
    assert not np.allclose(drawn, np.load(tmp_path / "raw.npz")["samples"], atol=1e-3)


def test_the_average_with_its_decay_on_the_device_is_the_same():
    """A CUDA graph replays the average with the decay read from a tensor (training/graphs.py); the update is
    the one the decay as a number gives."""
    G = Tiny()
    plain, on_device = (GeneratorEMA(G.set(0.0, 0.0), half_life=6, batch_size=2, rampup=0.5) for _ in range(2))
    on_device.decay_on_device()
    for w in (3.0, -1.0, 4.0, 1.0, -5.0):
        plain.update(G.set(w, 2 * w))
        on_device.update(G.set(w, 2 * w))
        assert averaged(on_device) == pytest.approx(averaged(plain), rel=1e-6)
