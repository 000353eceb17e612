"""Each Lipschitz constraint / gradient regulariser: its formula on critics whose input gradient is known, the
gradient it changes in a fitted critic, and a training step of a run with it (penalty=<each>,
model.spectral_norm=true)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import tiny_trainer
from omegaconf import OmegaConf
from torch import nn

from ganlab.commands.compose import compose_config, config_dir
from ganlab.data import load_dataset, spec_of
from ganlab.models import build_models
from ganlab.objectives import PENALTIES, build_objective, build_penalty
from ganlab.objectives.penalties import (
    R1,
    R2,
    GradientPenalty,
    OneSidedGradientPenalty,
    Penalty,
    WeightClip,
    input_grad_norm,
)
from ganlab.theory import PAIRS, Gaussian, fit_critic
from ganlab.training.step import GANStep

pytestmark = pytest.mark.usefixtures("single_thread")
P, Q = PAIRS["N(0,1)|N(1,1)"]


def gradient_norms(penalty: Penalty, objective: str = "wasserstein", p: Gaussian = P, q: Gaussian = Q) -> dict[str, torch.Tensor]:
    """||dD/dx|| of a critic fitted with ``penalty``, on fresh real, fake and interpolated samples."""
    D = fit_critic(build_objective(objective), penalty, p, q, steps=200, batch_size=256)
    gen = torch.Generator().manual_seed(1)
    real, fake, alpha = p.sample(2048, gen), q.sample(2048, gen), torch.rand(2048, 1, generator=gen)
    points = {"real": real, "fake": fake, "interpolates": alpha * real + (1 - alpha) * fake}
    return {k: input_grad_norm(D, x, None).detach() for k, x in points.items()}


@pytest.fixture(scope="module")
def unconstrained():
    return gradient_norms(Penalty())


def test_gradient_penalty_drives_the_norm_on_interpolates_to_one(unconstrained):
    assert (unconstrained["interpolates"] - 1).abs().mean() > 10  # an unconstrained critic's slope runs away
    assert (gradient_norms(GradientPenalty(10.0))["interpolates"] - 1).abs().mean() < 0.15


def test_one_sided_gradient_penalty_caps_the_norm(unconstrained):
    assert unconstrained["interpolates"].max() > 10
    assert gradient_norms(OneSidedGradientPenalty(10.0))["interpolates"].max() < 1.3


@pytest.mark.parametrize("on_real", [True, False])
def test_r1_and_r2_flatten_d_on_their_own_samples_only(on_real):
    """On two well-separated classes, R1 flattens D around the real samples, R2 around the fake ones."""
    apart = Gaussian(-2.0, 0.5), Gaussian(2.0, 0.5)
    own, other = ("real", "fake") if on_real else ("fake", "real")
    free = gradient_norms(Penalty(), "minimax", *apart)
    norms = gradient_norms((R1 if on_real else R2)(10.0), "minimax", *apart)
    assert free[own].mean() > 1
    assert norms[own].mean() < 0.1 * free[own].mean() and norms[own].mean() < 0.1 * norms[other].mean()


class Quadratic(nn.Module):
    """D(x) = c / 2 ||x||^2 + w . x: its input gradient at x is c x + w, known exactly."""

    def __init__(self, c: float, w: torch.Tensor):
        super().__init__()
        self.c, self.w = c, nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        flat = x.flatten(1)
        return 0.5 * self.c * flat.square().sum(1) + flat @ self.w


def test_r1_and_r2_are_half_the_weight_times_the_squared_gradient_norm():
    """On a linear D the input gradient is its weight vector a: R1 = R2 = gamma / 2 ||a||^2. On a quadratic D
    the gradient is c x, so R1 reads the real points and R2 the fake ones."""
    a = torch.tensor([3.0, -4.0], dtype=torch.float64)  # ||a|| = 5
    real = torch.randn(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fake = 3 + torch.randn(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for cls in (R1, R2):
        reports = {}
        value = cls(2.0)(Quadratic(0.0, a), real, fake, None, lambda tag, v, r=reports: r.__setitem__(tag, v))
        assert float(value.detach()) == pytest.approx(2.0 / 2 * 25)
        name = cls.name
        assert float(reports[f"Penalty/{name}"]) == pytest.approx(25.0) and float(reports[f"Penalty/{name}_grad_norm"]) == pytest.approx(5.0)
    zero = torch.zeros(2, dtype=torch.float64)
    quadratic = Quadratic(2.0, zero)  # gradient 2 x: R1 = 0.5 / 2 * 4 E||x||^2 over the real points, R2 the fake
    assert float(R1(0.5)(quadratic, real, fake, None).detach()) == pytest.approx(float(real.square().sum(1).mean()))
    assert float(R2(0.5)(quadratic, real, fake, None).detach()) == pytest.approx(float(fake.square().sum(1).mean()))


def test_gradient_penalty_interpolates_between_each_real_and_fake_sample_with_its_own_alpha():
    """x_hat = a x + (1 - a) G(z), a ~ U[0, 1] drawn once per sample (the same for all of its pixels)."""
    real, fake = torch.ones(4000, 3, 4, 4), torch.zeros(4000, 3, 4, 4)
    torch.manual_seed(0)
    x_hat = GradientPenalty(10.0).points(real, fake)
    alpha = x_hat.flatten(1)[:, 0]
    assert torch.equal(x_hat, alpha[:, None, None, None].expand_as(x_hat))  # one alpha per sample
    assert alpha.min() >= 0 and alpha.max() <= 1 and alpha.unique().numel() > 3900  # each sample its own
    assert float(alpha.mean()) == pytest.approx(0.5, abs=0.02) and float(alpha.var()) == pytest.approx(1 / 12, abs=0.01)
    real, fake = torch.randn(500, 2), torch.randn(500, 2)
    x_hat = GradientPenalty(10.0).points(real, fake)  # on the segment from each fake to its own real point
    a = ((x_hat - fake) / (real - fake))
    torch.testing.assert_close(a[:, 0], a[:, 1])


@pytest.mark.parametrize("slope", [2.0, 0.5])
def test_penalties_and_their_gradients_on_a_linear_critic(slope):
    """A linear D has gradient a everywhere: GP = lambda (||a|| - 1)^2 (one-sided: only above 1) and R1 = R2 =
    gamma / 2 ||a||^2; D's update follows their gradients in a, 2 lambda (||a|| - 1) a / ||a|| and gamma a."""
    a = torch.tensor([0.0, slope])
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    expected = {
        GradientPenalty(10.0): (10 * (slope - 1) ** 2, 20 * (slope - 1) * a / slope),
        OneSidedGradientPenalty(10.0): (10 * max(slope - 1, 0) ** 2, 20 * max(slope - 1, 0) * a / slope),
        R1(3.0): (1.5 * slope**2, 3.0 * a),
        R2(3.0): (1.5 * slope**2, 3.0 * a),
    }
    for penalty, (value, grad) in expected.items():
        D = Quadratic(0.0, a)
        term = penalty(D, real, fake, None)
        (got,) = torch.autograd.grad(term, D.w)
        assert float(term.detach()) == pytest.approx(value, abs=1e-6), penalty.name
        torch.testing.assert_close(got, grad, msg=penalty.name)


def test_weight_clipping_clamps_every_parameter_after_a_d_step():
    D = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    with torch.no_grad():
        for p in D.parameters():
            p.copy_(torch.linspace(-1, 1, p.numel()).view_as(p))
    before = [p.detach().clone() for p in D.parameters()]
    WeightClip(0.03).after_d_step(D)
    for b, p in zip(before, D.parameters(), strict=True):
        torch.testing.assert_close(p.detach(), b.clamp(-0.03, 0.03), rtol=0, atol=0)
    assert WeightClip(0.03)(D, torch.zeros(1, 2), torch.zeros(1, 2), None) is None  # no term in D's loss


def test_lazy_r1_is_applied_on_every_kth_d_step_only_and_k_times_as_strong():
    """penalty.every=k (StyleGAN2's lazy regularisation): D's update on steps 1..k-1 is the unregularised one;
    on step k it differs from it by exactly k times the R1 gradient (plain SGD makes the update -lr * gradient)."""
    k, weight, lr = 4, 3.0, 0.1
    cfg = compose_config(["model=gan", "data=grid25", "model.hidden=16", "model.layers=2"])
    data = load_dataset(cfg.data)
    r1 = R1(weight)

    def make_step(penalty: Penalty) -> GANStep:
        torch.manual_seed(0)  # the same initial G and D for both
        G, D = build_models(cfg.model, spec_of(data))
        opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=lr), torch.optim.SGD(D.parameters(), lr=lr)
        return GANStep(G, D, opt_g, opt_d, build_objective("non_saturating"), penalty, n_critic=1, batch_size=32,
                       penalty_every=k)

    lazy, plain = make_step(r1), make_step(Penalty())
    for step in range(1, k + 1):
        before = [p.detach().clone() for p in lazy.D.parameters()]
        torch.manual_seed(100 + step)
        real, _ = data.sample(32)  # the batch the D step below draws first
        x = real.detach().requires_grad_(True)  # R1 by its formula, gamma / 2 E||grad D(x)||^2, not by the class
        (grad_x,) = torch.autograd.grad(lazy.D(x).sum(), x, create_graph=True)
        r1_value = weight / 2 * grad_x.square().sum(1).mean()
        params = list(lazy.D.parameters())  # D's output bias does not change its input gradient: a zero grad
        r1_grads = [torch.zeros_like(p) if g is None else g
                    for p, g in zip(params, torch.autograd.grad(r1_value, params, allow_unused=True), strict=True)]
        torch.manual_seed(100 + step)
        stats, _ = lazy(data)
        torch.manual_seed(100 + step)
        plain(data)
        for b, p_lazy, p_plain, g in zip(before, lazy.D.parameters(), plain.D.parameters(), r1_grads, strict=True):
            if step < k:
                torch.testing.assert_close(p_lazy, p_plain, rtol=0, atol=0)
            else:  # the update's difference from the unregularised one is -lr * k * grad R1
                torch.testing.assert_close(p_lazy - b, p_plain - b - lr * k * g, rtol=1e-4, atol=1e-6)
        logged = float(stats.get("Penalty/r1", 0.0))  # Penalty/r1: the value at its last evaluation, not times k
        assert logged == (0.0 if step < k else pytest.approx(float(r1_value.detach()), rel=1e-5))
        for p_lazy, p_plain in zip(lazy.G.parameters(), plain.G.parameters(), strict=True):
            with torch.no_grad():  # keep G identical, so the next D step starts from the same fakes
                p_plain.copy_(p_lazy)
        if step == k:
            assert float(r1_value.detach()) > 1e-4  # the penalty is not trivially zero, so the check above has teeth


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    return tiny_trainer(tmp_path_factory.mktemp("toy"), "data=grid25", "objective=hinge")


def test_every_penalty_has_its_config_option():
    options = {p.stem for p in (config_dir() / "penalty").glob("*.yaml")} - {"preset"}  # preset: the model's choice
    assert sorted(options) == sorted(PENALTIES)


@pytest.mark.parametrize("name", list(PENALTIES))
def test_one_training_step_with_every_penalty(toy_run, name):
    """The penalty its option `penalty=<name>` builds joins a run's D step: the gradient penalties report their
    value and the mean gradient norm where they are taken (value >= weight / 2 * norm^2 for R1 / R2 by Jensen's
    inequality), clipping leaves every D weight inside its bound, and no penalty reports without a term."""
    penalty = build_penalty(OmegaConf.load(config_dir() / "penalty" / f"{name}.yaml"))
    t = toy_run
    step = GANStep(t.G, t.D, t.opt_g, t.opt_d, t.objective, penalty, n_critic=2, batch_size=16)
    stats, _ = step(t.data)
    tags = {tag for tag in stats if tag.startswith("Penalty/")}
    if name == "r1r2":  # the sum, and each part's own value and gradient norm
        assert tags == {"Penalty/r1r2", *(f"Penalty/{p}{s}" for p in ("r1", "r2") for s in ("", "_grad_norm"))}
        assert float(stats["Penalty/r1r2"]) == pytest.approx(float(stats["Penalty/r1"]) + float(stats["Penalty/r2"]))
    elif penalty.gradient:
        assert tags == {f"Penalty/{name}", f"Penalty/{name}_grad_norm"}
        value, norm = float(stats[f"Penalty/{name}"]), float(stats[f"Penalty/{name}_grad_norm"])
        assert math.isfinite(value) and norm > 0
        if name in ("r1", "r2"):
            assert value >= penalty.weight / 2 * norm**2 * (1 - 1e-5)
    else:
        assert not tags
    if name == "clip":
        assert max(float(p.detach().abs().max()) for p in t.D.parameters()) <= penalty.bound


def test_spectral_norm_makes_each_layer_of_d_1_lipschitz(tmp_path):
    """model.spectral_norm=true: every linear layer of D (and none of G) is divided by its largest singular
    value, which power iteration tracks as D trains; a gradient penalty differentiates through it."""
    run = tiny_trainer(tmp_path, "data=grid25", "objective=hinge", "penalty=gp", "model.spectral_norm=true",
                       "optim.lr=2e-4")
    layers = [m for m in run.D.modules() if isinstance(m, nn.Linear)]
    assert len(layers) == run.cfg.model.layers + 1  # hidden layers + output
    assert all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in run.G.modules())
    for _ in range(20):
        stats, _ = run.gan_step(run.data)
    assert math.isfinite(float(stats["Penalty/gp"]))
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert 0.99 <= sigma <= 1.1  # power iteration approaches the largest singular value from below
    plain = tiny_trainer(tmp_path, "data=grid25", "objective=hinge")
    assert max(torch.linalg.matrix_norm(m.weight.detach(), ord=2) for m in plain.D.modules() if isinstance(m, nn.Linear)) > 1.2
