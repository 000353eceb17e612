"""The relativistic pairing objective (objective=rpgan) and R1 + R2 (penalty=r1r2) of R3GAN: their formulas,
the generator step that pairs fakes with real samples, and a trained run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import read_scalars, tiny_trainer
from tiny_nets import LinearG
from torch import nn

from ganlab.data.toys import grid25
from ganlab.objectives import build_objective, build_penalty
from ganlab.objectives.penalties import R1, R2
from ganlab.objectives.rpgan import RelativisticPairing
from ganlab.theory import PAIRS, Gaussian, fit_critic
from ganlab.training.step import GANStep

pytestmark = pytest.mark.usefixtures("single_thread")


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_losses_pair_each_real_with_its_fake():
    rpgan = build_objective("rpgan")
    real = torch.tensor([1.0, 0.0, -2.0])
    fake = torch.tensor([0.0, 2.0, -2.0], requires_grad=True)
    d = [softplus(-(r - f)) for r, f in zip(real.tolist(), fake.tolist(), strict=True)]
    assert float(rpgan.d_loss(real, fake.detach())) == pytest.approx(sum(d) / 3, rel=1e-6)
    assert float(rpgan.estimate(real, fake.detach())) == pytest.approx(math.log(2) - sum(d) / 3, rel=1e-6)
    real_out = real.clone().requires_grad_(True)
    g = rpgan.g_loss(fake, real_out)
    assert float(g.detach()) == pytest.approx(sum(softplus(-(f - r)) for r, f in zip(real.tolist(), fake.tolist(), strict=True)) / 3)
    g.backward()
    assert real_out.grad is None  # D's outputs for real data are constants of G's loss
    assert torch.allclose(fake.grad, -torch.sigmoid(real - fake.detach()) / 3)
    same = torch.tensor([0.3, -1.0])
    assert float(rpgan.estimate(same, same)) == 0.0  # softplus(0) = log 2: nothing told apart
    with pytest.raises(ValueError, match="pairs each fake with a real sample"):
        rpgan.g_loss(fake)


def test_rpgan_declares_no_closed_form_and_its_critic_bounds_the_relativistic_divergence():
    """Its optimum has no closed form (theory's checks leave it out by its declaration); a fitted critic still
    tells N(0,1) from N(1,1) (an estimate inside (0, log 2)) and not N(0,1) from itself."""
    rpgan = build_objective("rpgan")
    assert not rpgan.closed_form and rpgan.relativistic and rpgan.g_loss_per_sample

    def estimate(p: Gaussian, q: Gaussian) -> float:
        D = fit_critic(rpgan, build_penalty("none"), p, q, steps=200, batch_size=512)
        gen = torch.Generator().manual_seed(5)
        with torch.no_grad():
            return float(rpgan.estimate(D(p.sample(100_000, gen)), D(q.sample(100_000, gen))))

    p, q = PAIRS["N(0,1)|N(1,1)"]
    apart, same = estimate(p, q), estimate(p, p)
    assert 0.1 < apart < math.log(2) and abs(same) < 0.01


class TinyD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x, y=None):
        return self.net(x).view(-1)


class Recording(RelativisticPairing):
    def g_loss(self, fake, real=None):
        self.seen = (fake, real)
        return super().g_loss(fake, real)


def test_the_generator_step_pairs_fakes_with_real_outputs_of_the_updated_d():
    torch.manual_seed(0)
    G, D, objective = LinearG(2), TinyD(), Recording()
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1)
    step = GANStep(G, D, opt_g, opt_d, objective, build_penalty("r1r2"), n_critic=2, batch_size=16)
    data = grid25()
    torch.manual_seed(1)
    stats, _ = step(data)
    fake, real = objective.seen
    assert real.shape == fake.shape == (16,) and not real.requires_grad and fake.requires_grad
    assert float(stats["Loss/G"]) == pytest.approx(float(F.softplus(real - fake).mean().detach()))
    # the real batch is the last D step's, scored by D after that step's update
    torch.manual_seed(1)
    data.sample(16), torch.randn(16, 4)  # the first D step's real batch and its fakes' noise
    last_real, _ = data.sample(16)
    with torch.no_grad():
        assert torch.allclose(real, D(last_real))


def test_r1r2_is_r1_plus_r2():
    torch.manual_seed(0)
    D, real, fake = TinyD(), torch.randn(32, 2), torch.randn(32, 2) + 3
    reported = {}
    total = build_penalty({"name": "r1r2", "weight": 3.0})(D, real, fake, None, lambda t, v: reported.__setitem__(t, v))
    total, r1, r2 = total.detach(), R1(3.0)(D, real, fake, None).detach(), R2(3.0)(D, real, fake, None).detach()
    assert float(total) == pytest.approx(float(r1 + r2), rel=1e-6) and float(r1) > 0 and float(r2) > 0
    assert float(reported["Penalty/r1r2"]) == pytest.approx(float(total))
    assert {"Penalty/r1", "Penalty/r2", "Penalty/r1_grad_norm", "Penalty/r2_grad_norm"} <= reported.keys()


def test_rpgan_with_r1r2_trains(tmp_path):
    tiny_trainer(tmp_path, "objective=rpgan", "penalty=r1r2", "penalty.every=2", "data=grid25", "trainer.steps=10",
                 "eval.at_end=false").fit()
    scalars = read_scalars(tmp_path)
    for (step, total), (_, r1), (_, r2) in zip(scalars["Penalty/r1r2"], scalars["Penalty/r1"], scalars["Penalty/r2"], strict=True):
        assert total == pytest.approx(r1 + r2, rel=1e-5), step
    assert all(math.isfinite(v) and v <= math.log(2) for _, v in scalars["Divergence/relativistic_pairing"])
