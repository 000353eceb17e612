"""Every objective against GAN theory: exact optima by quadrature, short critic fits, extreme logits, and
end-to-end runs of `ganlab train objective=<name>`."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from conftest import FAST, ONE_THREAD, read_scalars, run_ganlab

from ganlab.objectives import OBJECTIVES, build_objective
from ganlab.objectives.fgan import FDivergence
from ganlab.objectives.penalties import GradientPenalty, Penalty
from ganlab.objectives.theory import (
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
    assert true_value("gan", *B) == pytest.approx(2 * jsd - math.log(4))


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


def test_saturating_and_non_saturating_generator_losses():
    """Non-saturating: G maximises E_Q[g_f(v)]; saturating: G minimises -E_Q[f*(g_f(v))] (the bound's Q term).
    For the GAN divergence these are the non-saturating and minimax generator losses of Goodfellow et al."""
    v = torch.linspace(-5, 5, 11)
    ns, sat = build_objective("gan"), OBJECTIVES["gan"](non_saturating=False)
    assert torch.allclose(ns.g_loss(v), build_objective("non_saturating").g_loss(v))
    assert torch.allclose(sat.g_loss(v), build_objective("minimax").g_loss(v))
    kl_ns, kl_sat = build_objective("kl"), OBJECTIVES["kl"](non_saturating=False)
    assert torch.allclose(kl_ns.g_loss(v), -v.mean()) and torch.allclose(kl_sat.g_loss(v), -(v - 1).exp().mean())


def test_every_objective_trains_end_to_end(tmp_path):
    """`ganlab train objective=<each>` on grid25, all in one sweep, each logging its estimate under its tag."""
    names = list(OBJECTIVES)
    run_ganlab("train", "-m", f"objective={','.join(names)}", "data=grid25", *FAST,
               "trainer.sample_every=20", "trainer.ckpt_every=20", f"hydra.sweep.dir={tmp_path}", env=ONE_THREAD)
    jobs = sorted((p for p in tmp_path.iterdir() if p.is_dir() and p.name[0].isdigit()), key=lambda p: int(p.name.split("_")[0]))
    assert len(jobs) == len(names)
    for name, run in zip(names, jobs, strict=True):
        assert f"objective={name}\n" in (run / ".hydra" / "overrides.yaml").read_text()
        scalars = read_scalars(run)
        tag = build_objective(name).estimate_tag
        assert tag in scalars and scalars[tag][-1][0] == 20, f"{name}: {sorted(scalars)}"
        assert all(math.isfinite(value) for _, value in scalars[tag])


def test_non_saturating_option_is_checked(tmp_path):
    proc = run_ganlab("train", "objective=hinge", "objective.non_saturating=true", "data=grid25", *FAST,
                      f"hydra.run.dir={tmp_path}", check=False, env=ONE_THREAD)
    assert proc.returncode == 2 and "objective.non_saturating=True applies to objective=" in proc.stderr
    assert "not to objective=hinge" in proc.stderr and "Traceback" not in proc.stderr
