"""`ganlab train` end to end: every model on every kind of data, the TensorBoard tags, sweeps, resume."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    FAST,
    make_cifar10,
    make_image_folder,
    make_mnist,
    read_image_tags,
    read_scalars,
    run_ganlab,
    train_run,
)

BASE_TAGS = {"Loss/D", "Loss/G", "D/real", "D/fake", "GradNorm/D", "GradNorm/G", "LR/D", "LR/G", "Speed/img_per_s"}


def run_dirs(sweep_dir: Path) -> dict[str, Path]:
    """The job dirs of a multirun, by their `<num>_<model>_<data>` name without the number."""
    return {p.name.split("_", 1)[1]: p for p in sorted(sweep_dir.iterdir()) if p.is_dir() and p.name[0].isdigit()}


def assert_run_complete(run: Path, model: str, steps: int = 20) -> None:
    scalars = read_scalars(run)
    expected = set(BASE_TAGS)
    if model in ("wgan", "wgan_gp"):
        expected.add("Wasserstein/estimate")
    if model == "wgan_gp":
        expected.add("Penalty/gp")
    assert expected <= scalars.keys(), f"{run.name}: missing {expected - scalars.keys()}"
    assert scalars["Loss/D"][-1][0] == steps
    assert "Samples" in read_image_tags(run)
    assert (run / "checkpoints" / "last.pt").is_file()
    assert sorted(p.name for p in (run / "samples").glob("*.png"))[-1] == f"step_{steps:07d}.png"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Every model on digits, MNIST-format files and grid25, in one `ganlab train -m` (one process)."""
    tmp = tmp_path_factory.mktemp("sweep")
    make_mnist(tmp / "data", n=64)
    run_ganlab("train", "-m", "model=gan,dcgan,wgan,wgan_gp", "data=digits,mnist,grid25", *FAST,
               f"data.root={tmp / 'data'}", f"hydra.sweep.dir={tmp / 'unconditional'}")
    run_ganlab("train", "-m", "model=cgan", "data=digits,mnist", *FAST,
               f"data.root={tmp / 'data'}", f"hydra.sweep.dir={tmp / 'conditional'}")
    return {**run_dirs(tmp / "unconditional"), **run_dirs(tmp / "conditional")}


@pytest.mark.parametrize("model", ["gan", "cgan", "dcgan", "wgan", "wgan_gp"])
@pytest.mark.parametrize("data", ["digits", "mnist", "grid25"])
def test_every_model_trains_on_every_data(sweep, model, data):
    if model == "cgan" and data == "grid25":
        pytest.skip("grid25 has no labels: tested as an error in test_cli")
    assert_run_complete(sweep[f"{model}_{data}"], model)


def test_multirun_makes_one_run_dir_per_job(tmp_path):
    run_ganlab("train", "-m", "model=gan,wgan_gp", "data=grid25", *FAST, "trainer.steps=20",
               f"hydra.sweep.dir={tmp_path}")
    runs = run_dirs(tmp_path)
    assert sorted(runs) == ["gan_grid25", "wgan_gp_grid25"]
    for name, run in runs.items():
        assert_run_complete(run, name.split("_grid25")[0])


def test_architecture_follows_the_data(sweep):
    import torch

    state = torch.load(sweep["dcgan_mnist"] / "checkpoints" / "last.pt", weights_only=True)
    assert any(k.endswith("weight") and v.ndim == 4 for k, v in state["G"].items())  # conv on images
    state = torch.load(sweep["dcgan_grid25"] / "checkpoints" / "last.pt", weights_only=True)
    assert all(v.ndim <= 2 for v in state["G"].values())  # MLP on 2-D points
    assert state["config"]["trainer"]["n_critic"] == 1


def test_presets_carry_their_papers_hyperparameters(tmp_path):
    def job(model: str) -> str:
        return run_ganlab("train", f"model={model}", "--cfg", "job", cwd=tmp_path).stdout

    wgan_gp = job("wgan_gp")
    for line in ("n_critic: 5", "lr: 0.0001", "beta1: 0.0", "beta2: 0.9", "name: gp", "weight: 10.0",
                 "d_norm: layer", "name: wasserstein"):
        assert line in wgan_gp
    wgan = job("wgan")
    for line in ("name: rmsprop", "lr: 5.0e-05", "name: clip", "clip: 0.01", "n_critic: 5"):
        assert line in wgan
    dcgan = job("dcgan")
    for line in ("init_std: 0.02", "g_norm: batch", "beta1: 0.5", "lr: 0.0002", "batch_size: 128"):
        assert line in dcgan
    # the command line wins over a preset's choice of objective
    assert "name: hinge" in run_ganlab("train", "model=wgan", "objective=hinge", "--cfg", "job", cwd=tmp_path).stdout


def test_cifar10_and_image_folder_train(tmp_path):
    make_cifar10(tmp_path / "data")
    make_image_folder(tmp_path / "pictures", classes=("a", "b"), per_class=4)
    run_ganlab("train", "-m", "model=wgan_gp", "data=cifar10,folder", *FAST, f"data.root={tmp_path / 'data'}",
               f"data.path={tmp_path / 'pictures'}", "data.image_size=32", f"hydra.sweep.dir={tmp_path / 'runs'}")
    runs = run_dirs(tmp_path / "runs")
    assert sorted(runs) == ["wgan_gp_cifar10", "wgan_gp_folder"]
    for run in runs.values():
        assert_run_complete(run, "wgan_gp")


def test_resume_continues_exactly(tmp_path):
    """A 2N-step run and an N-step run resumed to 2N log the same losses at every step after N (a lazy penalty
    falls on the same steps)."""
    common = ["model=dcgan", "penalty=gp", "penalty.every=3", "data=digits", "trainer.log_every=1", "optim.decay_steps=30"]
    train_run(tmp_path / "full", *common, "trainer.steps=20")
    train_run(tmp_path / "half", *common, "trainer.steps=10")
    resumed = run_ganlab("train", f"resume={tmp_path / 'half'}", "trainer.steps=20")
    assert "resuming at step 10" in resumed.stdout
    full, half = read_scalars(tmp_path / "full"), read_scalars(tmp_path / "half")
    for tag in ("Loss/D", "Loss/G", "Penalty/gp", "LR/G"):
        a, b = dict(full[tag]), dict(half[tag])
        first = 3 if tag == "Penalty/gp" else 1  # a lazy penalty is logged from its first evaluation (D step 3)
        assert sorted(b) == sorted(a) == list(range(first, 21)), tag
        for step in range(11, 21):
            assert b[step] == pytest.approx(a[step], abs=1e-6), (tag, step)
    assert (tmp_path / "half" / "samples" / "step_0000020.png").is_file()


def test_resume_refuses_what_it_cannot_do(tmp_path):
    train_run(tmp_path / "run", "data=grid25", "trainer.steps=10")
    done = run_ganlab("train", f"resume={tmp_path / 'run'}", check=False)
    assert done.returncode == 2 and "trainer.steps=<M>" in done.stderr
    group = run_ganlab("train", f"resume={tmp_path / 'run'}", "model=wgan", "trainer.steps=20", check=False)
    assert group.returncode == 2 and "model=wgan" in group.stderr
    nothing = run_ganlab("train", f"resume={tmp_path / 'nowhere'}", check=False)
    assert nothing.returncode == 2 and "checkpoints/last.pt" in nothing.stderr
    (tmp_path / "run" / "checkpoints" / "last.pt").write_bytes(b"half-written garbage")
    corrupt = run_ganlab("train", f"resume={tmp_path / 'run'}", "trainer.steps=20")  # the step file beside it
    assert "step_0000010.pt (last.pt is not a ganlab checkpoint that can be read)" in corrupt.stdout
