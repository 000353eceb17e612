"""Each Lipschitz constraint / gradient regulariser changes the gradient it should, in a fitted critic and in
`ganlab train` runs (penalty=<each>, model.spectral_norm=true)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import FAST, ONE_THREAD, read_scalars, run_ganlab
from omegaconf import OmegaConf

from ganlab.models import build_models
from ganlab.objectives import build_objective
from ganlab.objectives.penalties import (
    GradientPenalty,
    Penalty,
    WeightClip,
    ZeroCentredPenalty,
    input_grad_norm,
)
from ganlab.objectives.theory import PAIRS, Gaussian, fit_critic
from ganlab.training.trainer import spec_namespace

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
    assert gradient_norms(GradientPenalty(10.0, one_sided=True))["interpolates"].max() < 1.3


@pytest.mark.parametrize("on_real", [True, False])
def test_r1_and_r2_flatten_d_on_their_own_samples_only(on_real):
    """On two well-separated classes, R1 flattens D around the real samples, R2 around the fake ones."""
    apart = Gaussian(-2.0, 0.5), Gaussian(2.0, 0.5)
    own, other = ("real", "fake") if on_real else ("fake", "real")
    free = gradient_norms(Penalty(), "minimax", *apart)
    norms = gradient_norms(ZeroCentredPenalty(10.0, on_real=on_real), "minimax", *apart)
    assert free[own].mean() > 1
    assert norms[own].mean() < 0.1 * free[own].mean() and norms[own].mean() < 0.1 * norms[other].mean()


def test_weight_clipping_bounds_every_parameter():
    D = fit_critic(build_objective("wasserstein"), WeightClip(0.03), P, Q, steps=50, batch_size=256)
    largest = max(float(p.detach().abs().max()) for p in D.parameters())
    assert largest == pytest.approx(0.03)  # the critic presses against the bound, and never beyond it


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Every penalty, and spectral normalisation, through `ganlab train` in one sweep on grid25.

    At the MLP preset's rate (2e-4; the grid25 tuning's 1e-3 moves the weights faster than spectral norm's one
    power iteration per step follows), so sigma is tracked within the bounds tested below."""
    out = tmp_path_factory.mktemp("penalties")
    run_ganlab("train", "-m", "objective=hinge", "penalty=none,clip,gp,gp_one_sided,r1,r2", "model.spectral_norm=false,true",
               "data=grid25", *FAST, "optim.lr=2e-4", "penalty.clip=0.02", "trainer.sample_every=20", "trainer.ckpt_every=20",
               f"hydra.sweep.dir={out}", env=ONE_THREAD)
    runs = {}
    for run in out.iterdir():
        if run.is_dir() and run.name[0].isdigit():
            overrides = dict(line[2:].split("=", 1) for line in (run / ".hydra" / "overrides.yaml").read_text().splitlines())
            runs[(overrides["penalty"], overrides["model.spectral_norm"].lower() == "true")] = run
    assert len(runs) == 12
    return runs


def load_d(run):
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    _, D = build_models(OmegaConf.create(state["config"]["model"]), spec_namespace(state["data"]))
    D.load_state_dict(state["D"])
    return D.eval()


@pytest.mark.parametrize("penalty", ["none", "clip", "gp", "gp_one_sided", "r1", "r2"])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_every_penalty_trains_and_logs_its_value(sweep, penalty, spectral_norm):
    scalars = read_scalars(sweep[(penalty, spectral_norm)])
    assert scalars["Loss/D"][-1][0] == 20
    if penalty in ("gp", "gp_one_sided", "r1", "r2"):
        assert all(math.isfinite(v) and v >= 0 for _, v in scalars[f"Penalty/{penalty}"])
    else:
        assert not any(tag.startswith("Penalty/") for tag in scalars)


def test_clip_bounds_every_weight_of_the_trained_critic(sweep):
    D = load_d(sweep[("clip", False)])
    assert max(float(p.detach().abs().max()) for p in D.parameters()) <= 0.02 + 1e-7
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
