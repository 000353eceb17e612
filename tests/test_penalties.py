"""Each Lipschitz constraint / gradient regulariser changes the gradient it should, in a fitted critic and in
`ganlab train` runs (penalty=<each>, model.spectral_norm=true)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import FAST, ONE_THREAD, read_scalars, run_ganlab
from omegaconf import OmegaConf

from ganlab.commands.config import compose_config
from ganlab.config import DataSpec
from ganlab.data import load_dataset, spec_of
from ganlab.models import build_models
from ganlab.objectives import build_objective
from ganlab.objectives.penalties import (
    R1,
    R2,
    GradientPenalty,
    OneSidedGradientPenalty,
    Penalty,
    WeightClip,
    input_grad_norm,
)
from ganlab.objectives.theory import PAIRS, Gaussian, fit_critic
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


def test_weight_clipping_bounds_every_parameter():
    D = fit_critic(build_objective("wasserstein"), WeightClip(0.03), P, Q, steps=50, batch_size=256)
    largest = max(float(p.detach().abs().max()) for p in D.parameters())
    assert largest == pytest.approx(0.03)  # the critic presses against the bound, and never beyond it


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
        r1_value = r1(lazy.D, real, None, None)
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
def sweep(tmp_path_factory):
    """Every penalty, and spectral normalisation, through `ganlab train` in one sweep on grid25.

    At the MLP preset's rate (2e-4; the grid25 tuning's 1e-3 moves the weights faster than spectral norm's one
    power iteration per step follows), so sigma is tracked within the bounds tested below."""
    out = tmp_path_factory.mktemp("penalties")
    run_ganlab("train", "-m", "objective=hinge", "penalty=none,clip,gp,gp_one_sided,r1,r2", "model.spectral_norm=false,true",
               "data=grid25", *FAST, "optim.lr=2e-4", "trainer.sample_every=20", "trainer.ckpt_every=20",
               f"hydra.sweep.dir={out}", env=ONE_THREAD)
    runs = {}
    for run in out.iterdir():
        if run.is_dir() and run.name[0].isdigit():
            overrides = dict(line[2:].split("=", 1) for line in (run / ".hydra" / "overrides.yaml").read_text().splitlines())
            runs[(overrides["penalty"], overrides["model.spectral_norm"].lower() == "true")] = run
    assert len(runs) == 12
    return runs


def load_d(run):
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    _, D = build_models(OmegaConf.create(state["config"]["model"]), DataSpec.from_dict(state["data"]))
    D.load_state_dict(state["D"])
    return D.eval()


@pytest.mark.parametrize("penalty", ["none", "clip", "gp", "gp_one_sided", "r1", "r2"])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_every_penalty_trains_and_logs_its_value(sweep, penalty, spectral_norm):
    scalars = read_scalars(sweep[(penalty, spectral_norm)])
    assert scalars["Loss/D"][-1][0] == 20
    if penalty in ("gp", "gp_one_sided", "r1", "r2"):
        assert all(math.isfinite(v) and v >= 0 for _, v in scalars[f"Penalty/{penalty}"])
        assert all(math.isfinite(v) and v > 0 for _, v in scalars[f"Penalty/{penalty}_grad_norm"])
    else:
        assert not any(tag.startswith("Penalty/") for tag in scalars)


def test_clip_bounds_every_weight_of_the_trained_critic(sweep):
    D = load_d(sweep[("clip", False)])
    assert max(float(p.detach().abs().max()) for p in D.parameters()) <= 0.01 + 1e-7
    assert max(float(p.detach().abs().max()) for p in load_d(sweep[("none", False)]).parameters()) > 0.1  # not clipped without it


def test_spectral_norm_makes_each_layer_1_lipschitz(sweep):
    run = sweep[("none", True)]
    layers = [m for m in load_d(run).modules() if isinstance(m, torch.nn.Linear)]
    assert len(layers) == OmegaConf.load(run / ".hydra" / "config.yaml").model.layers + 1  # hidden layers + output
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert 0.99 <= sigma <= 1.1  # power iteration approaches the largest singular value from below
    plain = [m for m in load_d(sweep[("none", False)]).modules() if isinstance(m, torch.nn.Linear)]
    assert max(torch.linalg.matrix_norm(m.weight.detach(), ord=2) for m in plain) > 1.2
