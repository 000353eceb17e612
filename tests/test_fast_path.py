"""The fast training step computes what a plain, textbook implementation computes.

The plain loop below is written from the algorithm, not from ganlab's step: per critic step it samples a
real batch by index, draws z, runs G with a graph, scores real and fake, adds the gradient penalty by its
formula, zeroes gradients to zeros and steps a single-tensor Adam; then it generates the fake batch AGAIN for
the generator step and reads every loss with ``.item()``. The fast path instead keeps the last critic
batch's fake (graph and all) for the generator step, runs the earlier critic batches' G without a graph,
freezes D's parameters in the G step, uses ``set_to_none``, a fused Adam, ``index_select`` sampling, NHWC
convolutions on CPU and device-side statistics.

Why the comparison is exact in what it tests: G's weights do not change during the critic steps, so G run
again on the last critic batch's z gives the very fake batch the fast path reuses; the plain loop therefore
keeps that z and draws no new random numbers for its G step, and both loops consume the random stream in the
same order (batch indices, z, the penalty's interpolation weights, per critic step). With the same seed and
the same initial weights, the two must then report the same D and G losses at every step, up to float
rounding (fused vs. single-tensor Adam, NHWC vs. NCHW convolution, softplus vs. BCE-with-logits): the
tolerance below is far tighter than any change of algorithm (a fresh z for the G step, a stale D, a missed
critic step) would produce, which the last test checks.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from ganlab.commands.compose import compose_config
from ganlab.training.loop import Trainer

TINY = ["trainer.progress=false", "model.conv.channels=8", "model.mlp.hidden=32", "model.z_dim=16", "device.type=cpu",
        "device.precision=fp32"]
STEPS = 8


@pytest.fixture(autouse=True)
def one_thread():
    """These networks are tiny: a second intra-op thread buys nothing, and on a busy machine it waits for a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def plain_losses(trainer: Trainer, steps: int, fresh_z_for_g: bool = False) -> list[tuple[float, float]]:
    """A straightforward GAN loop on copies of the trainer's initial networks; (loss_D, loss_G) per step."""
    cfg = trainer.cfg
    G, D = copy.deepcopy(trainer.G).float(), copy.deepcopy(trainer.D).float()
    G, D = G.to(memory_format=torch.contiguous_format), D.to(memory_format=torch.contiguous_format)
    betas = (cfg.optim.beta1, cfg.optim.beta2)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.optim.lr, betas=betas, foreach=False)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.optim.lr, betas=betas, foreach=False)
    wasserstein = cfg.objective.name == "wasserstein"
    data, batch, z_dim = trainer.data, cfg.trainer.batch_size, cfg.model.z_dim
    losses = []
    for _ in range(steps):
        for _ in range(cfg.trainer.n_critic):
            idx = torch.randint(len(data), (batch,))
            real = data.images[idx].float() / 127.5 - 1.0
            z = torch.randn(batch, z_dim)
            fake = G(z)
            d_real, d_fake = D(real), D(fake.detach())
            if wasserstein:
                loss_d = d_fake.mean() - d_real.mean()
                alpha = torch.rand(batch, 1, 1, 1)
                x_hat = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
                loss_d = loss_d + cfg.penalty.weight * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            else:
                loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                          + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            opt_d.zero_grad(set_to_none=False)
            loss_d.backward()
            opt_d.step()
        if fresh_z_for_g:
            z = torch.randn(batch, z_dim)
        d_out = D(G(z))  # the fake batch generated again, on the last critic batch's z
        loss_g = -d_out.mean() if wasserstein else F.binary_cross_entropy_with_logits(d_out, torch.ones_like(d_out))
        opt_g.zero_grad(set_to_none=False)
        loss_g.backward()
        opt_g.step()
        losses.append((loss_d.item(), loss_g.item()))
    return losses


def fast_losses(trainer: Trainer, steps: int) -> list[tuple[float, float]]:
    """ganlab's step as the trainer runs it; (loss_D, loss_G) from its statistics."""
    out = []
    for i in range(steps):
        stats, _ = trainer.gan_step(trainer.data, measure_grads=i % 3 == 0)
        loss_d = stats["Loss/D"] + stats.get("Penalty/gp", 0.0)  # the plain loop reports D's loss with its penalty
        out.append((loss_d.item(), stats["Loss/G"].item()))
    return out


def flat(losses: list[tuple[float, float]]) -> list[float]:
    return [v for pair in losses for v in pair]


def twin_runs(tmp_path, overrides: list[str], **plain_kwargs) -> tuple[list, list]:
    """The plain loop and the fast step from the same seed and the same initial weights."""
    trainer = Trainer(compose_config([*TINY, *overrides]), tmp_path)
    state = (copy.deepcopy(trainer.G.state_dict()), copy.deepcopy(trainer.D.state_dict()), torch.get_rng_state())
    plain = plain_losses(trainer, STEPS, **plain_kwargs)
    trainer.G.load_state_dict(state[0])
    trainer.D.load_state_dict(state[1])
    torch.set_rng_state(state[2])
    return plain, fast_losses(trainer, STEPS)


@pytest.mark.parametrize("overrides", [
    ["model=dcgan", "data=digits", "trainer.batch_size=32"],  # conv + BatchNorm, NHWC on CPU, n_critic 1
    ["model=wgan_gp", "data=digits", "trainer.batch_size=16", "trainer.n_critic=3"],  # layer norm, GP
], ids=["dcgan", "wgan_gp"])
def test_fast_step_reports_the_plain_loops_losses(tmp_path, overrides):
    plain, fast = twin_runs(tmp_path, overrides)
    assert flat(fast) == pytest.approx(flat(plain), rel=1e-4, abs=1e-5)


def test_the_comparison_sees_a_changed_algorithm(tmp_path):
    """A G step on fresh noise (what reusing the fakes must not change) moves the losses far beyond the
    tolerance, so the test above would catch a fast path that drew or reused the wrong batch."""
    plain, fast = twin_runs(tmp_path, ["model=wgan_gp", "data=digits", "trainer.batch_size=16", "trainer.n_critic=3"],
                            fresh_z_for_g=True)
    assert fast[0][0] == pytest.approx(plain[0][0], rel=1e-4, abs=1e-5)  # the first critic steps agree ...
    assert flat(fast) != pytest.approx(flat(plain), rel=1e-4, abs=1e-5)  # ... the G step on other noise does not


def test_compiled_networks_give_the_eager_losses(tmp_path, monkeypatch):
    """``trainer.compile=true`` as the trainer wires it (compiled G and D, the penalty on the eager D), on the
    aot_eager backend: Dynamo's graphs and AOTAutograd's forward/backward split, as inductor receives them,
    without inductor's C++ code generation, which takes a minute on 2 cores (scripts/check_compile.py runs it)."""
    import ganlab.training.build as build_module
    from ganlab.training.step import compile_networks

    overrides = [*TINY, "model=wgan_gp", "data=grid25", "trainer.batch_size=16", "trainer.n_critic=2"]
    eager = Trainer(compose_config(overrides), tmp_path)
    expected = [torch.stack(list(eager.gan_step(eager.data, measure_grads=i == 1)[0].values())) for i in range(3)]
    monkeypatch.setattr(build_module, "compile_networks", lambda G, D: compile_networks(G, D, backend="aot_eager"))
    compiled = Trainer(compose_config([*overrides, "trainer.compile=true"]), tmp_path)
    assert compiled.gan_step.d_forward is not compiled.D  # the step runs the compiled forwards
    got = [torch.stack(list(compiled.gan_step(compiled.data, measure_grads=i == 1)[0].values())) for i in range(3)]
    assert torch.stack(got).flatten().tolist() == pytest.approx(torch.stack(expected).flatten().tolist(), rel=1e-4, abs=1e-5)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
def test_cuda_run_with_the_gradient_penalty(tmp_path):
    """A tiny ``ganlab train device=cuda`` on images: bf16 autocast, NHWC, the penalty's double backward."""
    from conftest import make_mnist, read_scalars, train_run

    make_mnist(tmp_path / "data", n=64)
    train_run(tmp_path / "run", "device=cuda", "model=wgan_gp", "data=mnist", f"data.root={tmp_path / 'data'}")
    scalars = read_scalars(tmp_path / "run")
    assert scalars["Loss/D"][-1][0] == 20
    for tag in ("Loss/D", "Loss/G", "Penalty/gp", "GradNorm/D"):
        assert all(math.isfinite(v) for _, v in scalars[tag]), tag
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


@cuda
@pytest.mark.parametrize("model", ["dcgan", "wgan_gp"])
def test_bf16_autocast_gives_finite_losses(tmp_path, model):
    trainer = Trainer(compose_config([*TINY, f"model={model}", "data=digits", "trainer.batch_size=32",
                                      "device.type=cuda", "device.precision=bf16"]), tmp_path)
    assert trainer.gan_step.autocast_dtype == torch.bfloat16
    seen = []
    trainer.D.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    stats = [trainer.gan_step(trainer.data, measure_grads=True)[0] for _ in range(10)]
    assert torch.bfloat16 in seen  # D ran in bf16
    assert all(torch.isfinite(v).all() for s in stats for v in s.values()), stats


def test_where_the_step_is_not_replayed_as_cuda_graphs_and_what_is_said(tmp_path, capsys):
    """trainer.cuda_graphs=auto replays the step as CUDA graphs on a GPU and says nothing elsewhere; asked for
    where they cannot run (the CPU, a data-parallel run), the run trains eagerly and says why in one line."""
    from ganlab.training.graphs import graphs_refused

    cuda = torch.device("cuda")
    assert graphs_refused("auto", cuda, 1) is None and graphs_refused("True", cuda, 1) is None
    assert "DistributedDataParallel" in graphs_refused("auto", cuda, 2)
    assert graphs_refused(False, cuda, 1) == "trainer.cuda_graphs=false"
    assert "on cpu" in graphs_refused("true", torch.device("cpu"), 1)
    quiet = Trainer(compose_config([*TINY, "data=grid25"]), tmp_path / "a")
    assert quiet.graphed is None and capsys.readouterr().out == ""
    asked = Trainer(compose_config([*TINY, "data=grid25", "trainer.cuda_graphs=true"]), tmp_path / "b")
    out = capsys.readouterr().out
    assert asked.graphed is None and out.count("\n") == 1
    assert "training eagerly, without CUDA graphs: CUDA graphs run on CUDA GPUs, and this run trains on cpu" in out
