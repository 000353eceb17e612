"""Optimisers and learning-rate schedules: the rates a run steps with, exactly."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from ganlab.errors import GanlabError
from ganlab.training.optim import build_optimizers, build_schedulers, resumed_schedule


def optim_cfg(steps: int = 10, **kw):
    """A run config's optim section (with ``kw``) and its trainer.steps."""
    base = {"name": "adam", "lr": 2e-4, "lr_d": None, "beta1": 0.5, "beta2": 0.999, "schedule": "constant",
            "decay_steps": None}
    return OmegaConf.create({"optim": {**base, **kw}, "trainer": {"steps": steps}})


def nets() -> tuple[nn.Module, nn.Module]:
    return nn.Linear(2, 2), nn.Linear(2, 1)


def advance(opts, scheds) -> None:
    """One generator step's worth: the optimisers step (no gradients: nothing moves), then the schedules."""
    for o in opts:
        o.step()
    for s in scheds:
        s.step()


def rates(opts) -> tuple[float, float]:
    return opts[0].param_groups[0]["lr"], opts[1].param_groups[0]["lr"]


@pytest.mark.parametrize("steps,decay_steps", [(8, None), (20, 8)])
def test_linear_decay_to_zero_at_the_runs_end_or_at_decay_steps(steps, decay_steps):
    """optim.schedule=linear ends at T, trainer.steps or optim.decay_steps where set: after t generator steps the
    rates are lr (1 - t / T), D's from its own base rate, and 0 from T on."""
    cfg = optim_cfg(steps, lr=1e-3, lr_d=4e-3, schedule="linear", decay_steps=decay_steps)
    opts = build_optimizers(cfg.optim, *nets())
    scheds = build_schedulers(cfg, opts)
    seen = [rates(opts)]
    for _ in range(10):
        advance(opts, scheds)
        seen.append(rates(opts))
    assert [g for g, _ in seen] == pytest.approx([1e-3 * max(0.0, 1 - t / 8) for t in range(11)], abs=1e-15)
    assert [d for _, d in seen] == pytest.approx([4e-3 * max(0.0, 1 - t / 8) for t in range(11)], abs=1e-15)


def test_constant_rate_without_decay_and_a_resumed_schedule_in_its_place():
    cfg = optim_cfg(lr=1e-3)
    opts = build_optimizers(cfg.optim, *nets())
    scheds = build_schedulers(cfg, opts)
    for _ in range(5):
        advance(opts, scheds)
    assert rates(opts) == (1e-3, 1e-3)
    # a run resumed at step 6 continues the decay there, with the (possibly new) base rates of its config
    decayed = optim_cfg(lr=3e-4, schedule="linear")
    opts = build_optimizers(decayed.optim, *nets())
    build_schedulers(decayed, opts, step=6)
    assert rates(opts) == pytest.approx((3e-4 * 0.4, 3e-4 * 0.4))


def test_the_optimisers_the_presets_name():
    G, D = nets()
    adam_g, adam_d = build_optimizers(optim_cfg(lr=1e-4, lr_d=3e-4, beta1=0.0, beta2=0.9).optim, G, D)
    assert isinstance(adam_g, torch.optim.Adam) and isinstance(adam_d, torch.optim.Adam)
    assert adam_g.param_groups[0]["betas"] == (0.0, 0.9) and rates((adam_g, adam_d)) == (1e-4, 3e-4)
    assert [p for g in adam_g.param_groups for p in g["params"]] == list(G.parameters())
    assert [p for g in adam_d.param_groups for p in g["params"]] == list(D.parameters())
    rms_g, rms_d = build_optimizers(optim_cfg(name="rmsprop", lr=5e-5).optim, G, D)
    assert isinstance(rms_g, torch.optim.RMSprop) and rates((rms_g, rms_d)) == (5e-5, 5e-5)


def test_resuming_says_where_it_moves_the_end_of_the_decay_and_refuses_a_rate_left_at_0():
    """Resumed at step 10 of a linear decay that ended there: lengthened to 40 steps the decay now ends at 40 (and
    says so, with the rate before and after); an explicit end at or before step 10 would train at rate 0 for
    the rest, and is refused, naming the keys that choose; a stopped run resumed as it was says nothing."""
    saved = OmegaConf.to_container(optim_cfg(10, lr=1e-3, schedule="linear"))
    longer = optim_cfg(40, lr=1e-3, schedule="linear")
    line = resumed_schedule(saved, longer, 10)
    assert "decays to 0 at step 40 (the run's new end, trainer.steps=40): 0.00075 at step 10, where it was 0." in line
    assert resumed_schedule(saved, optim_cfg(10, lr=1e-3, schedule="linear"), 5) == ""
    assert resumed_schedule(saved, optim_cfg(10, lr=1e-3, schedule="linear"), 10) == ""  # finished: nothing to train
    assert "optim.lr=0.001 from step 10 on (it was 0 there)" in resumed_schedule(saved, optim_cfg(40, lr=1e-3), 10)
    with pytest.raises(GanlabError) as err:
        resumed_schedule(saved, optim_cfg(40, lr=1e-3, schedule="linear", decay_steps=10), 10)
    for needle in ("decayed to 0 at step 10 (optim.decay_steps=10)", "from step 10 to 40 would change nothing",
                   "optim.decay_steps=null", "0.00075 at step 10", "optim.decay_steps=<M> with M > 10",
                   "optim.schedule=constant optim.decay_steps=null (optim.lr=0.001"):
        assert needle in str(err.value), str(err.value)


def train(opts, scheds, G, D, steps: int) -> list[torch.Tensor]:
    """``steps`` updates on fixed inputs with the schedules stepped after each: the weights after each step."""
    x = torch.linspace(-1, 1, 8).reshape(4, 2)
    out = []
    for _ in range(steps):
        for opt, net in zip(opts, (G, D), strict=True):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
        for s in scheds:
            s.step()
        out.append(torch.cat([p.detach().flatten().clone() for net in (G, D) for p in net.parameters()]))
    return out


def test_a_capturable_adam_follows_the_schedule_as_the_plain_one():
    """The optimisers of a step replayed as CUDA graphs hold their rate as a tensor the schedule fills in place
    (a graph reads it at each replay); on the CPU (fused Adam is capturable there too) they take the same steps
    as the plain ones, and their checkpoints store the rate as a number."""
    from ganlab.training.optim import current_rate, optimizer_state

    cfg = optim_cfg(lr=1e-2, schedule="linear", decay_steps=5)
    torch.manual_seed(0)
    G, D = nets()
    plain_nets = (G, D)
    plain = build_optimizers(cfg.optim, *plain_nets)
    torch.manual_seed(0)
    G2, D2 = nets()
    graphed = build_optimizers(cfg.optim, G2, D2, capturable=True)
    assert all(isinstance(o.param_groups[0]["lr"], torch.Tensor) and o.param_groups[0]["capturable"] for o in graphed)
    want = train(plain, build_schedulers(cfg, plain), *plain_nets, 7)
    got = train(graphed, build_schedulers(cfg, graphed), G2, D2, 7)
    assert all(torch.allclose(a, b, rtol=1e-6, atol=1e-7) for a, b in zip(got, want, strict=True))
    assert current_rate(graphed[0]) == current_rate(plain[0]) == 0.0  # decayed to 0 after 5 steps
    assert isinstance(optimizer_state(graphed[0])["param_groups"][0]["lr"], float)


def test_a_checkpoint_of_one_kind_of_optimiser_loads_into_the_other():
    """An eager run's optimiser state goes on in a capturable optimiser (and back) keeping how each runs: its
    flags, its rate's type, its step counts beside the weights."""
    from ganlab.training.optim import load_optimizer, optimizer_state

    cfg = optim_cfg(lr=1e-2).optim
    G, D = nets()
    plain = build_optimizers(cfg, G, D)
    train(plain, [], G, D, 3)
    graphed = build_optimizers(cfg, G, D, capturable=True)
    load_optimizer(graphed[0], optimizer_state(plain[0]))
    group = graphed[0].param_groups[0]
    assert group["capturable"] and isinstance(group["lr"], torch.Tensor) and float(group["lr"]) == pytest.approx(1e-2)
    assert all(graphed[0].state[p]["step"].item() == 3 for p in G.parameters())
    back = build_optimizers(cfg, G, D)
    load_optimizer(back[0], optimizer_state(graphed[0]))
    assert not back[0].param_groups[0]["capturable"] and back[0].param_groups[0]["lr"] == pytest.approx(1e-2)
