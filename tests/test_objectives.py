"""Every objective against GAN theory: exact optima by quadrature, short critic fits, extreme logits, the
papers' formulas for D's and G's losses, the direction G's loss pushes, and one training step of each."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from conftest import tiny_trainer
from omegaconf import OmegaConf

from ganlab.commands.compose import compose_config, config_dir
from ganlab.errors import GanlabError
from ganlab.objectives import OBJECTIVES, build_objective
from ganlab.objectives.fgan import FDivergence, safe_exp
from ganlab.objectives.penalties import GradientPenalty, Penalty
from ganlab.theory import (
    PAIRS,
    Gaussian,
    critic_outputs,
    expected_d_loss,
    fit_critic,
    kl,
    optimal_d_error,
    optimal_outputs,
    pearson,
    squared_hellinger,
    true_value,
    wasserstein1,
)
from ganlab.training.step import GANStep

pytestmark = pytest.mark.usefixtures("single_thread")
A, B = PAIRS["N(0,1)|N(1,1)"], PAIRS["N(0,1)|N(0,4)"]  # B is asymmetric: a swapped P and Q shows there

F_OBJECTIVES = [n for n in OBJECTIVES if isinstance(build_objective(n), FDivergence)]
CLOSED_FORM = [n for n in OBJECTIVES if build_objective(n).closed_form]  # theory knows their optimal D


def optimal(name: str, p: Gaussian, q: Gaussian):
    """The optimal discriminator the objective declares, as a function of the quadrature points."""
    return partial(optimal_outputs, build_objective(name), p, q)


def estimate_at(name: str, p: Gaussian, q: Gaussian, outputs) -> float:
    objective = build_objective(name)
    return float(objective.estimate_from_d_loss(torch.tensor(expected_d_loss(objective, outputs, p, q))))


def test_closed_forms_of_the_true_values():
    """The reference values themselves, against textbook numbers."""
    assert kl(*A) == pytest.approx(0.5) and kl(*B) == pytest.approx(math.log(2) + 1 / 8 - 1 / 2)
    assert kl(B[1], B[0]) == pytest.approx(2 - 1 / 2 - math.log(2))
    assert pearson(*A) == pytest.approx(math.e - 1) and pearson(*B) == pytest.approx(4 / math.sqrt(7) - 1)
    assert pearson(B[1], B[0]) == math.inf  # Neyman chi^2 of N(0,1) vs N(0,4): int q^2 / p diverges
    assert squared_hellinger(*A) == pytest.approx(2 * (1 - math.exp(-1 / 8)))
    assert wasserstein1(*A) == pytest.approx(1.0) and wasserstein1(*B) == pytest.approx(math.sqrt(2 / math.pi))
    assert true_value("total_variation", *A) == pytest.approx(math.erf(0.5 / math.sqrt(2)), abs=1e-7)
    jsd = true_value("jensen_shannon", *B)
    assert 0 < jsd < math.log(2)
    assert true_value("gan_divergence", *B) == pytest.approx(2 * jsd - math.log(4))


@pytest.mark.parametrize("name", CLOSED_FORM)
@pytest.mark.parametrize("pair", ["N(0,1)|N(1,1)", "N(0,1)|N(0,4)"])
def test_the_optimal_discriminator_attains_the_true_value(name, pair):
    """At the theoretical optimum, ganlab's D loss gives the divergence exactly: a wrong sign, a missing
    log 2 or a swapped P and Q would each move it far off."""
    p, q = PAIRS[pair]
    truth = true_value(name, p, q)
    estimate = estimate_at(name, p, q, optimal(name, p, q))
    if math.isinf(truth):
        assert estimate > 1e6  # the bound has no limit: it grows with the range the critic covers
    else:
        assert estimate == pytest.approx(truth, rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("name", [n for n in CLOSED_FORM if n != "wasserstein"])
def test_any_other_discriminator_estimates_less(name):
    """The estimate is a lower bound, tight only at the optimum."""
    p, q = B if math.isfinite(true_value(name, *B)) else A
    truth = estimate_at(name, p, q, optimal(name, p, q))
    for bump in (lambda x: 0.3 * torch.sin(x), lambda x: torch.full_like(x, 0.2), lambda x: -0.2 * x.abs()):
        estimate = estimate_at(name, p, q, lambda x, b=bump: optimal(name, p, q)(x) + b(x))
        assert estimate < truth or (name == "total_variation" and estimate <= truth)  # TV: any |v| >> 1 is optimal


@pytest.mark.parametrize("name", CLOSED_FORM)
def test_a_trained_critic_approaches_the_true_value(name):
    """A short version of scripts/check_objectives.py on the asymmetric pair N(0,1) vs N(0,4)."""
    p, q = B
    objective = build_objective(name)
    penalty = GradientPenalty(100.0) if name == "wasserstein" else Penalty()
    D = fit_critic(objective, penalty, p, q, steps=200, batch_size=512)
    estimate = float(objective.estimate_from_d_loss(torch.tensor(expected_d_loss(objective, partial(critic_outputs, D), p, q))))
    truth = true_value(name, p, q)
    if math.isinf(truth):
        assert estimate > 3  # above every finite divergence of the check (the largest is e - 1)
    else:
        assert estimate == pytest.approx(truth, rel=0.15)
    if objective.probabilistic:
        assert optimal_d_error(D, p, q) < 0.06


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_extreme_logits_give_finite_losses_and_gradients(name, dtype):
    """D outputs of +-1e4 (and 0) in float32, and in bf16 under autocast."""
    objectives = [build_objective(name)]
    if name in F_OBJECTIVES:
        objectives.append(OBJECTIVES[name](non_saturating=False))
    for objective in objectives:
        v = torch.tensor([1e4, -1e4, 0.0, 3.0], dtype=dtype, requires_grad=True)

        def g_loss(fake, real, objective=objective):  # a relativistic G loss also takes D's outputs for real data
            return objective.g_loss(fake, real) if objective.relativistic else objective.g_loss(fake)

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            terms = [objective.d_loss(v, v), g_loss(v, v.flip(0)), objective.d_loss(v[:1], v[1:2]),
                     objective.d_loss(v[1:2], v[:1]), g_loss(v[:1], v[1:2]), g_loss(v[1:2], v[:1])]
            estimate = objective.estimate(v, v)
        for term in terms:
            (grad,) = torch.autograd.grad(term, v)
            assert torch.isfinite(term) and torch.isfinite(grad).all(), (objective.name, term, grad)
        assert estimate is None or torch.isfinite(estimate)


def test_exponentials_continue_along_their_tangent_above_30():
    """safe_exp is exp up to 30 and its tangent line beyond: finite, with the slope e^30 (not 0) out there."""
    v = torch.tensor([0.0, 29.0, 31.0, 1e4], dtype=torch.float64, requires_grad=True)
    out = safe_exp(v)
    (grad,) = torch.autograd.grad(out.sum(), v)
    e30 = math.exp(30)
    assert out.detach().tolist() == pytest.approx([1.0, math.exp(29), 2 * e30, e30 * (1 + 1e4 - 30)], rel=1e-12)
    assert grad.tolist() == pytest.approx([1.0, math.exp(29), e30, e30], rel=1e-12)
    assert float(safe_exp(torch.tensor(30.0, dtype=torch.float64))) == pytest.approx(e30, rel=1e-12)


def test_saturating_and_non_saturating_generator_losses():
    """Non-saturating: G maximises E_Q[g_f(v)]; saturating: G minimises -E_Q[f*(g_f(v))] (the bound's Q term).
    For the GAN divergence these are the non-saturating and minimax generator losses of Goodfellow et al."""
    v = torch.linspace(-5, 5, 11)
    ns, sat = build_objective("gan_divergence"), OBJECTIVES["gan_divergence"](non_saturating=False)
    assert torch.allclose(ns.g_loss(v), build_objective("non_saturating").g_loss(v))
    assert torch.allclose(sat.g_loss(v), build_objective("minimax").g_loss(v))
    kl_ns, kl_sat = build_objective("kl"), OBJECTIVES["kl"](non_saturating=False)
    assert torch.allclose(kl_ns.g_loss(v), -v.mean()) and torch.allclose(kl_sat.g_loss(v), -(v - 1).exp().mean())


def all_objectives():
    """Every objective as a run builds it, and each f-GAN in its saturating form too."""
    out = [(name, build_objective(name)) for name in OBJECTIVES]
    out += [(f"{name}(saturating)", OBJECTIVES[name](non_saturating=False)) for name in F_OBJECTIVES]
    return out


@pytest.mark.parametrize("name,objective", all_objectives(), ids=[n for n, _ in all_objectives()])
def test_the_generator_loss_falls_as_d_scores_the_fakes_higher(name, objective):
    """G's loss is a decreasing function of D's raw output on the fakes over the outputs a real D gives them
    (below least squares' target 1, above Pearson's f*-minimum -2): minimising it pushes G towards what D
    takes for real. A G loss of the wrong sign or of the wrong target pushes the other way somewhere here."""
    v = torch.linspace(-1.5, 0.9, 25, dtype=torch.float64, requires_grad=True)

    def g_loss(fake):  # a relativistic objective pairs each fake with a real output: D(x) = 0 here
        return objective.g_loss(fake, torch.zeros_like(fake)) if objective.relativistic else objective.g_loss(fake)

    per_sample = torch.stack([g_loss(x.reshape(1)) for x in v])
    (slope,) = torch.autograd.grad(per_sample.sum(), v)
    assert (slope < 0).all(), (name, slope)
    if objective.g_loss_per_sample:  # as it declares: the loss of a batch is the average of its samples' losses
        assert float(g_loss(v.detach())) == pytest.approx(float(per_sample.detach().mean()), rel=1e-12)


def test_generator_losses_are_their_papers_formulas():
    """Exact values at known D outputs (logits for the probabilistic objectives)."""
    v = torch.tensor([-2.0, 0.0, 0.5, 3.0], dtype=torch.float64)
    sigmoid = torch.sigmoid(v)
    expected = {
        "minimax": torch.log(1 - sigmoid).mean(),  # E[log(1 - D(G(z)))]
        "non_saturating": -torch.log(sigmoid).mean(),  # -E[log D(G(z))]
        "wasserstein": -v.mean(),
        "hinge": -v.mean(),  # Lim & Ye: -E[D(G(z))]
        "least_squares": 0.5 * ((v - 1) ** 2).mean(),  # Mao et al.: 1/2 E[(D(G(z)) - c)^2], c = 1
    }
    for name, value in expected.items():
        assert float(build_objective(name).g_loss(v)) == pytest.approx(float(value), rel=1e-12), name


def test_discriminator_losses_are_their_papers_formulas():
    """D's loss on a real and a fake batch, by the formulas of the objectives' papers."""
    real, fake = torch.tensor([-1.0, 0.3, 2.0], dtype=torch.float64), torch.tensor([-0.5, 1.5], dtype=torch.float64)
    sr, sf = torch.sigmoid(real), torch.sigmoid(fake)
    bce = -(torch.log(sr).mean() + torch.log(1 - sf).mean())
    expected = {
        "minimax": bce, "non_saturating": bce, "gan_divergence": bce,
        "wasserstein": fake.mean() - real.mean(),
        "hinge": torch.relu(1 - real).mean() + torch.relu(1 + fake).mean(),
        "least_squares": 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(),
        "kl": -real.mean() + torch.exp(fake - 1).mean(),  # -E_P[T] + E_Q[exp(T - 1)]
        "pearson": -real.mean() + (fake**2 / 4 + fake).mean(),
    }
    for name, value in expected.items():
        assert float(build_objective(name).d_loss(real, fake)) == pytest.approx(float(value), rel=1e-12), name


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    return tiny_trainer(tmp_path_factory.mktemp("toy"), "data=grid25")


def test_every_objective_has_its_config_option():
    assert sorted(p.stem for p in (config_dir() / "objective").glob("*.yaml")) == sorted(OBJECTIVES)


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_one_training_step_of_every_objective(toy_run, name):
    """The objective its option `objective=<name>` builds trains a step of a run and reports D's and G's losses
    and, where it declares one, its estimate under its tag, all finite."""
    objective = build_objective(OmegaConf.load(config_dir() / "objective" / f"{name}.yaml"))
    assert objective.name == name
    t = toy_run
    step = GANStep(t.G, t.D, t.opt_g, t.opt_d, objective, t.penalty, n_critic=2, batch_size=16)
    stats, grads = step(t.data, measure_grads=True)
    # D's outputs: probabilities (D/real, D/fake) for a classifier D, raw values under their own names for a critic
    outputs, others = (("D/real", "D/fake"), ("D/critic_real", "D/critic_fake"))[::1 if objective.probabilistic else -1]
    assert {"Loss/D", "Loss/G", *outputs} <= stats.keys(), sorted(stats)
    assert not set(others) & stats.keys()
    assert all(torch.isfinite(v) for v in [*stats.values(), *grads.values()]), stats
    if objective.estimate_tag:
        estimate = objective.estimate_from_d_loss(stats["Loss/D"])
        assert float(stats[objective.estimate_tag]) == pytest.approx(float(estimate))
    if objective.probabilistic:
        assert 0 < float(stats["D/real"]) < 1 and 0 < float(stats["D/fake"]) < 1


def test_non_saturating_option_is_checked():
    with pytest.raises(GanlabError) as err:
        compose_config(["objective=hinge", "objective.non_saturating=true", "data=grid25"])
    assert "objective.non_saturating=True applies to objective=" in str(err.value)
    assert "not to objective=hinge" in str(err.value)
    assert compose_config(["objective=kl", "objective.non_saturating=false"]).objective.non_saturating is False
