"""What each objective's discriminator converges to on a fixed pair of 1-D Gaussians, and a critic fitted to it.

GAN theory gives exact answers: the optimal discriminator is D* = p / (p + q), where the minimax value is
2 JSD(p || q) - log 4; an f-GAN critic's variational bound tends to the f-divergence; a 1-Lipschitz critic's
gap tends to the Wasserstein-1 distance. This module computes those answers for P = N(m1, s1^2) (the data)
and Q = N(m2, s2^2) (a fixed generator) in closed form where one exists and by quadrature otherwise, fits a
small MLP critic with an objective's own losses on fresh samples, and integrates the fitted critic's loss
against the two densities. ``scripts/check_objectives.py`` and the tests compare the two.

What to compute comes from the objective itself: its ``divergence`` names the quantity (a closed form below,
or for an f-divergence with no closed form, E_Q[f(p / q)] by quadrature of its own ``f``), and its
``optimal_output`` gives the optimal critic. A new objective needs no edit here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganlab.objectives import build_objective
from ganlab.objectives.base import Objective
from ganlab.objectives.penalties import Penalty


@dataclass(frozen=True)
class Gaussian:
    mean: float
    std: float

    def log_density(self, x: Tensor) -> Tensor:
        return -0.5 * ((x - self.mean) / self.std) ** 2 - math.log(self.std * math.sqrt(2 * math.pi))

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """n samples as an (n, 1) batch of 1-D points."""
        return self.mean + self.std * torch.randn(n, 1, generator=generator)


# the pairs (P, Q) of the check, keyed as N(mean,variance)|N(mean,variance)
PAIRS: dict[str, tuple[Gaussian, Gaussian]] = {
    "N(0,1)|N(1,1)": (Gaussian(0.0, 1.0), Gaussian(1.0, 1.0)),
    "N(0,1)|N(0,4)": (Gaussian(0.0, 1.0), Gaussian(0.0, 2.0)),
}


# ----------------------------------------------------------------------------------------------- true values
def kl(p: Gaussian, q: Gaussian) -> float:
    """KL(P || Q)."""
    return math.log(q.std / p.std) + (p.std**2 + (p.mean - q.mean) ** 2) / (2 * q.std**2) - 0.5


def pearson(p: Gaussian, q: Gaussian) -> float:
    """Pearson chi^2(P || Q) = int p^2 / q - 1; infinite unless 2 s_q^2 > s_p^2 (q's tails must cover p^2's)."""
    spread = 2 * q.std**2 - p.std**2
    if spread <= 0:
        return math.inf
    return q.std**2 / (p.std * math.sqrt(spread)) * math.exp((p.mean - q.mean) ** 2 / spread) - 1.0


def squared_hellinger(p: Gaussian, q: Gaussian) -> float:
    """int (sqrt p - sqrt q)^2 = 2 (1 - Bhattacharyya coefficient)."""
    var = p.std**2 + q.std**2
    bc = math.sqrt(2 * p.std * q.std / var) * math.exp(-((p.mean - q.mean) ** 2) / (4 * var))
    return 2.0 * (1.0 - bc)


def wasserstein1(p: Gaussian, q: Gaussian) -> float:
    """W1 in 1-D couples the quantiles: E|(m_p - m_q) + (s_p - s_q) Z| for Z ~ N(0, 1)."""
    a, b = p.mean - q.mean, abs(p.std - q.std)
    if b == 0:
        return abs(a)
    normal_cdf = 0.5 * (1 + math.erf(-a / b / math.sqrt(2)))
    return b * math.sqrt(2 / math.pi) * math.exp(-(a**2) / (2 * b**2)) + a * (1 - 2 * normal_cdf)


def quadrature_grid(p: Gaussian, q: Gaussian, points: int = 200_001) -> tuple[Tensor, float]:
    """Equally spaced float64 points covering both densities to 12 standard deviations, and their spacing."""
    lo = min(p.mean - 12 * p.std, q.mean - 12 * q.std)
    hi = max(p.mean + 12 * p.std, q.mean + 12 * q.std)
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    return x, (hi - lo) / (points - 1)


def integrate(values: Tensor, dx: float) -> float:
    """The trapezoid rule on an equally spaced grid."""
    return float(torch.trapezoid(values, dx=dx))


def mixture_divergences(p: Gaussian, q: Gaussian) -> dict[str, float]:
    """The divergences with no closed form for two Gaussians, by quadrature: JSD (nats), TV, triangular."""
    x, dx = quadrature_grid(p, q)
    log_p, log_q = p.log_density(x), q.log_density(x)
    log_m = torch.logaddexp(log_p, log_q) - math.log(2.0)
    dens_p, dens_q = log_p.exp(), log_q.exp()
    return {
        "jsd": integrate(0.5 * (dens_p * (log_p - log_m) + dens_q * (log_q - log_m)), dx),
        "tv": integrate(0.5 * (dens_p - dens_q).abs(), dx),
        "triangular": integrate((dens_p - dens_q) ** 2 / (dens_p + dens_q).clamp(min=1e-300), dx),
    }


def f_divergence(objective: Objective, p: Gaussian, q: Gaussian) -> float:
    """D_f(P || Q) = E_Q[f(p / q)] by quadrature, for an f-GAN objective's own generator f."""
    x, dx = quadrature_grid(p, q)
    log_p, log_q = p.log_density(x), q.log_density(x)
    return integrate(log_q.exp() * objective.f_of_log_ratio(log_p - log_q), dx)  # type: ignore[attr-defined]


def true_value(objective: Objective | str, p: Gaussian, q: Gaussian) -> float:
    """What ``objective``'s estimate tends to at the optimal discriminator (math.inf where it diverges): the
    quantity its ``divergence`` names, with P the data and Q the generator."""
    obj = build_objective(objective) if isinstance(objective, str) else objective
    closed = {
        "wasserstein1": lambda: wasserstein1(p, q),
        "kl": lambda: kl(p, q),
        "reverse_kl": lambda: kl(q, p),
        "pearson": lambda: pearson(p, q),
        "neyman": lambda: pearson(q, p),
        "squared_hellinger": lambda: squared_hellinger(p, q),
    }
    mixed = {"jensen_shannon": "jsd", "total_variation": "tv", "triangular": "triangular"}
    name = obj.divergence
    if name in closed:
        return closed[name]()
    if name in mixed:
        return mixture_divergences(p, q)[mixed[name]]
    if name == "gan_divergence":
        return 2 * mixture_divergences(p, q)["jsd"] - math.log(4.0)
    if hasattr(obj, "f_of_log_ratio"):
        return f_divergence(obj, p, q)
    raise ValueError(f"objective {obj.name} declares no divergence theory knows ({name})")


def optimal_outputs(objective: Objective, p: Gaussian, q: Gaussian, x: Tensor) -> Tensor:
    """The optimal discriminator's raw outputs at the float64 points ``x`` (in increasing order)."""
    if objective.divergence == "wasserstein1":  # in 1-D the optimal 1-Lipschitz critic has slope sign(F_Q - F_P)
        def cdf(g: Gaussian) -> Tensor:
            return 0.5 * (1 + torch.erf((x - g.mean) / (g.std * math.sqrt(2))))

        return torch.cumsum(torch.sign(cdf(q) - cdf(p)), 0) * (x[1] - x[0])
    out = objective.optimal_output(p.log_density(x) - q.log_density(x))
    if out is None:
        raise ValueError(f"objective {objective.name} declares no optimal discriminator")
    return out


# ----------------------------------------------------------------------------------------------- the critic
class Critic(nn.Module):
    """A small MLP on 1-D points, called as D(x, y) like ganlab's discriminators (y is ignored)."""

    def __init__(self, hidden: int, layers: int):
        super().__init__()
        blocks: list[nn.Module] = []
        width = 1
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.net = nn.Sequential(*blocks, nn.Linear(width, 1))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x).view(-1)


def fit_critic(objective: Objective, penalty: Penalty, p: Gaussian, q: Gaussian, steps: int, batch_size: int,
               lr: float = 5e-3, hidden: int = 64, layers: int = 2, seed: int = 0) -> nn.Module:
    """An MLP critic trained with ``objective``'s D loss (and ``penalty``) on fresh samples of P (real) and Q (fake).

    Adam with a cosine decay of the learning rate to 0, so the last steps average out the sampling noise. The
    output layer starts at zero, so the critic starts flat: a random initial slope is what a two-sided
    gradient penalty would otherwise lock in, as a straight line with |slope| = 1 is a local optimum from
    which the V-shaped optimal critic of N(0, 1) vs N(0, 4) cannot be reached.
    Runs on the CPU in float32, in one thread (the fastest for a network this small); leaves the global RNG
    and thread count as it found them.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the critic's initialisation and the penalty's interpolation weights
        gen = torch.Generator().manual_seed(seed)
        D = Critic(hidden, layers)
        nn.init.zeros_(D.net[-1].weight)
        nn.init.zeros_(D.net[-1].bias)
        opt = torch.optim.Adam(D.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for _ in range(steps):
            real, fake = p.sample(batch_size, gen), q.sample(batch_size, gen)
            loss = objective.d_loss(*D(torch.cat([real, fake])).split(batch_size))
            pen = penalty(D, real, fake, None)
            opt.zero_grad(set_to_none=True)
            (loss if pen is None else loss + pen).backward()
            opt.step()
            sched.step()
            penalty.after_d_step(D)
    torch.set_num_threads(threads)
    return D.eval()


@torch.no_grad()
def critic_outputs(D: nn.Module, x: Tensor) -> Tensor:
    """D's raw outputs at the float64 points ``x``, as float64."""
    return D(x.float()[:, None]).double()


def expected_d_loss(objective: Objective, outputs: Callable[[Tensor], Tensor], p: Gaussian, q: Gaussian) -> float:
    """D's loss in expectation under P and Q, by quadrature (no sampling noise), for the discriminator whose raw
    outputs at float64 points x are ``outputs(x)`` (a trained critic: ``partial(critic_outputs, D)``)."""
    x, dx = quadrature_grid(p, q, points=40_001)
    v = outputs(x)
    return integrate(p.log_density(x).exp() * objective.loss_real(v) + q.log_density(x).exp() * objective.loss_fake(v), dx)


def optimal_d_error(D: nn.Module, p: Gaussian, q: Gaussian, lo: float = -3.0, hi: float = 4.0) -> float:
    """max |sigmoid(D(x)) - p(x) / (p(x) + q(x))| over [lo, hi], for a discriminator that outputs logits."""
    x = torch.linspace(lo, hi, 7001, dtype=torch.float64)
    optimal = torch.sigmoid(p.log_density(x) - q.log_density(x))
    return float((torch.sigmoid(critic_outputs(D, x)) - optimal).abs().max())
