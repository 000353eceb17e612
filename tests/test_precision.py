"""Precision: what device.precision=auto picks, bf16 autocast training every model on the CPU, exact resume
under bf16, and penalties kept in fp32."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import read_scalars, tiny_trainer
from omegaconf import OmegaConf

import ganlab.training.device as device_module
from ganlab.commands.compose import compose_config
from ganlab.commands.train import train
from ganlab.training.device import autocast_dtype, cpu_has_bf16_matrix_units
from ganlab.training.loop import Trainer

TINY = ["trainer.progress=false", "model.conv.channels=8", "model.mlp.hidden=32", "model.z_dim=16", "device.type=cpu"]


@pytest.mark.parametrize("units", [True, False])
def test_auto_picks_bf16_for_conv_nets_only_on_a_cpu_with_bf16_matrix_units(monkeypatch, units):
    monkeypatch.setattr(device_module, "cpu_has_bf16_matrix_units", lambda: units)
    cpu, auto = torch.device("cpu"), OmegaConf.create({"precision": "auto"})
    assert autocast_dtype(auto, cpu, prefers_bf16=True) == (torch.bfloat16 if units else None)
    assert autocast_dtype(auto, cpu, prefers_bf16=False) is None  # MLPs stay fp32
    assert autocast_dtype(OmegaConf.create({"precision": "fp32"}), cpu, prefers_bf16=True) is None
    assert autocast_dtype(OmegaConf.create({"precision": "bf16"}), cpu, prefers_bf16=False) == torch.bfloat16


def test_auto_on_this_cpu_follows_what_it_has(tmp_path):
    """What the README says auto chooses, for this machine: bf16 for DCGAN's convolutions exactly when the CPU
    multiplies bf16 in hardware, fp32 for the MLPs always."""
    dcgan = Trainer(compose_config([*TINY, "model=dcgan", "data=digits"]), tmp_path)
    gan = Trainer(compose_config([*TINY, "model=gan", "data=digits"]), tmp_path)
    assert dcgan.gan_step.autocast_dtype == (torch.bfloat16 if cpu_has_bf16_matrix_units() else None)
    assert gan.gan_step.autocast_dtype is None


def test_the_penalty_runs_in_fp32_under_bf16_autocast(tmp_path):
    trainer = Trainer(compose_config([*TINY, "model=wgan_gp", "data=digits", "trainer.batch_size=8",
                                      "trainer.n_critic=1", "device.precision=bf16"]), tmp_path)
    seen: list[tuple[bool, torch.dtype]] = []
    penalty = trainer.gan_step.penalty
    inside = {"now": False}
    original = type(penalty).__call__

    def spy(self, *args, **kwargs):
        inside["now"] = True
        try:
            return original(self, *args, **kwargs)
        finally:
            inside["now"] = False

    trainer.D.register_forward_hook(lambda m, i, out: seen.append((inside["now"], out.dtype)))
    type(penalty).__call__ = spy
    try:
        stats, _ = trainer.gan_step(trainer.data)
    finally:
        type(penalty).__call__ = original
    assert {dtype for in_penalty, dtype in seen if in_penalty} == {torch.float32}
    assert torch.bfloat16 in {dtype for in_penalty, dtype in seen if not in_penalty}  # the adversarial terms
    assert stats["Penalty/gp"].dtype == torch.float32 and math.isfinite(float(stats["Penalty/gp"]))


def test_bf16_trains_every_model_and_resumes_exactly(tmp_path, single_thread):
    """bf16 autocast on the CPU: every preset trains with finite losses; a resumed bf16 run (resumed as
    `ganlab train resume=...` does) logs what an uninterrupted one does."""
    for model in ["gan", "cgan", "dcgan", "wgan", "wgan_gp"]:
        trainer = tiny_trainer(tmp_path / model, f"model={model}", "data=digits", "trainer.steps=4",
                               "trainer.batch_size=8", "trainer.log_every=2", "trainer.n_critic=1", "eval.at_end=false",
                               "device.precision=bf16")
        assert trainer.gan_step.autocast_dtype == torch.bfloat16
        trainer.fit()
        scalars = read_scalars(tmp_path / model)
        assert all(math.isfinite(v) for tag in ("Loss/D", "Loss/G") for _, v in scalars[tag]), model
    common = ["model=dcgan", "data=digits", "device.precision=bf16", "trainer.log_every=1", "trainer.batch_size=8",
              "eval.at_end=false"]
    tiny_trainer(tmp_path / "full", *common, "trainer.steps=4").fit()
    tiny_trainer(tmp_path / "half", *common, "trainer.steps=2").fit()
    resume = [f"resume={tmp_path / 'half'}", "trainer.steps=4"]
    train(compose_config(resume), tmp_path / "half", overrides=resume)
    full, half = read_scalars(tmp_path / "full"), read_scalars(tmp_path / "half")
    for tag in ("Loss/D", "Loss/G"):
        assert dict(half[tag]) == pytest.approx(dict(full[tag]), abs=1e-6), tag


def test_compiled_conv_nets_on_cuda_stay_nchw_and_nhwc_is_refused_there():
    """torch.compile cannot train a channels-last conv net on CUDA (pytorch#171622): the layout falls back to NCHW
    there, and asking for NHWC is refused before training, naming the reason; elsewhere nothing changes."""
    from ganlab.errors import GanlabError
    from ganlab.training.device import use_channels_last

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    auto, nhwc = OmegaConf.create({"channels_last": None}), OmegaConf.create({"channels_last": True})
    assert use_channels_last(auto, cuda, True) and not use_channels_last(auto, cuda, True, compiled=True)
    assert use_channels_last(auto, cpu, True, compiled=True)
    with pytest.raises(GanlabError, match="171622.*Drop device.channels_last"):
        use_channels_last(nhwc, cuda, True, compiled=True)
