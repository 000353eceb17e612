"""The command line as a user meets it: help, config printing from anywhere, and every bad input's error."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import yaml
from conftest import FAST, GANLAB, run_ganlab, train_run


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit code != 0, no Python traceback, and the message says each of ``needles``."""
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Traceback" not in out, out
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out}"


def test_help_lists_commands_without_importing_torch():
    proc = run_ganlab("--help")
    for command in ("train", "sample", "eval", "report"):
        assert f"  {command}" in proc.stdout
    code = "import sys; from ganlab.cli import main; main(['--help']); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_train_help_is_hydras(tmp_path):
    proc = run_ganlab("train", "--help", cwd=tmp_path)
    assert "model: cgan, dcgan, gan, wgan, wgan_gp" in proc.stdout


def test_configs_are_found_from_any_directory(tmp_path):
    proc = run_ganlab("train", "model=wgan_gp", "data=grid25", "--cfg", "job", cwd=tmp_path)
    assert "name: wgan_gp" in proc.stdout and "name: grid25" in proc.stdout
    assert GANLAB.startswith(sys.prefix)


def test_user_config_dir_adds_an_experiment(tmp_path):
    (tmp_path / "mine" / "data").mkdir(parents=True)
    (tmp_path / "mine" / "data" / "wide_ring.yaml").write_text("name: ring8\nstd: 0.2\n")
    proc = run_ganlab("train", "--config-dir", str(tmp_path / "mine"), "data=wide_ring", "--cfg", "job", cwd=tmp_path)
    assert "std: 0.2" in proc.stdout


def composed(*overrides: str) -> dict:
    """The config `ganlab train <overrides>` would run with, as printed by `--cfg job`."""
    return yaml.safe_load(run_ganlab("train", *overrides, "--cfg", "job").stdout)


def test_tuned_preset_for_a_model_on_a_data_set_and_the_command_line_wins():
    tuned = composed("model=gan", "data=grid25")  # configs/model_data/gan_grid25.yaml
    assert (tuned["model"]["hidden"], tuned["penalty"]["name"], tuned["penalty"]["weight"]) == (128, "r1", 0.1)
    assert tuned["penalty"]["every"] == 16  # lazy R1
    assert composed("model=gan", "data=ring8")["trainer"]["steps"] == 15000  # builds on the grid25 tuning
    plain = composed("model=gan", "data=digits")
    assert (plain["model"]["hidden"], plain["penalty"]["name"]) == (512, "none")
    assert composed("model=gan", "data=grid25", "penalty=none")["penalty"]["name"] == "none"
    # a penalty chosen on the command line is its own option's, not the preset's lazy R1
    assert composed("model=gan", "data=grid25", "penalty=gp")["penalty"] == {"name": "gp", "weight": 10.0, "clip": 0.01, "every": 1}
    assert composed("model=gan", "data=grid25", "model.hidden=64")["model"]["hidden"] == 64
    assert composed("model=wgan_gp", "penalty=r1")["penalty"]["name"] == "r1"
    assert composed("model=wgan")["penalty"]["name"] == "clip"


def test_unknown_command():
    assert_clean_error(run_ganlab("trian", check=False), "unknown command 'trian'", "train")


def test_unknown_group_option_names_the_choices(tmp_path):
    proc = run_ganlab("train", "model=wgangp", check=False, cwd=tmp_path)
    assert_clean_error(proc, "model/wgangp", "wgan_gp", "dcgan", "cgan")
    proc = run_ganlab("train", "objective=wasserstien", check=False, cwd=tmp_path)
    assert_clean_error(proc, "objective", "wasserstein", "hinge")


def test_misspelt_key_names_the_valid_keys(tmp_path):
    proc = run_ganlab("train", "trainer.stepz=10", check=False, cwd=tmp_path)
    assert_clean_error(proc, "trainer.stepz", "Did you mean 'trainer.steps'", "batch_size", "n_critic")
    assert proc.returncode == 2


def test_wrong_type_and_bad_values(tmp_path):
    assert_clean_error(run_ganlab("train", "trainer.steps=many", check=False, cwd=tmp_path), "trainer.steps", "many")
    assert_clean_error(run_ganlab("train", "model.arch=resnet", check=False, cwd=tmp_path), "auto, conv, mlp")
    assert_clean_error(run_ganlab("train", "trainer.batch_size=0", check=False, cwd=tmp_path),
                       "trainer.batch_size=0 is out of range", ">= 1")
    assert_clean_error(run_ganlab("train", "model=wgan", "penalty.every=4", check=False, cwd=tmp_path),
                       "penalty.every (lazy regularisation) applies to the gradient penalties", "not to penalty=clip")


def test_conditional_model_on_unlabelled_data(tmp_path):
    proc = run_ganlab("train", "model=cgan", "data=grid25", *FAST, f"hydra.run.dir={tmp_path}/r", check=False)
    assert_clean_error(proc, "conditional", "needs labelled data", "data=digits")


def test_missing_dataset_files_say_where_to_put_them(tmp_path):
    proc = run_ganlab("train", "model=wgan_gp", "data=cifar10", f"data.root={tmp_path}", *FAST,
                      f"hydra.run.dir={tmp_path}/r", check=False)
    assert_clean_error(proc, "data_batch_1", str(tmp_path / "cifar-10-batches-py"), "data.root")


def test_image_size_the_conv_nets_cannot_make(tmp_path):
    proc = run_ganlab("train", "model=dcgan", "data.image_size=20", *FAST, f"hydra.run.dir={tmp_path}/r", check=False)
    assert_clean_error(proc, "data.image_size", "28", "32")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    proc = run_ganlab("train", "device=cuda", *FAST, f"hydra.run.dir={tmp_path}/r", check=False)
    assert_clean_error(proc, "device=cuda", "device=cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run(tmp_path):
    train_run(tmp_path / "r", "device=cuda", "model=dcgan", "data=digits")
    assert (tmp_path / "r" / "checkpoints" / "last.pt").is_file()


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cgan") / "run"
    train_run(run, "model=cgan", "data=digits")
    return run


def test_sample_writes_the_documented_arrays(cgan_run, tmp_path):
    import numpy as np

    run_ganlab("sample", f"run={cgan_run}", "n=25", f"out={tmp_path / 's.npz'}")
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["samples"].shape == (25, 1, 8, 8) and arrays["samples"].dtype == np.float32
    assert arrays["samples"].min() >= -1 and arrays["samples"].max() <= 1
    assert arrays["labels"].dtype == np.int64 and arrays["labels"].shape == (25,)
    assert sorted(set(arrays["labels"].tolist())) == list(range(10))  # one row per class
    run_ganlab("sample", f"run={cgan_run}", "n=6", "label=7", "seed=3", f"out={tmp_path / 'seven.npz'}")
    assert np.load(tmp_path / "seven.npz")["labels"].tolist() == [7] * 6
    run_ganlab("sample", f"run={cgan_run}", "n=20", f"out={tmp_path / 'grid.png'}")
    from PIL import Image

    assert Image.open(tmp_path / "grid.png").size[0] > 100


def test_sample_of_points_and_its_errors(tmp_path):
    import numpy as np

    train_run(tmp_path / "toy", "model=wgan_gp", "data=ring8")
    run_ganlab("sample", f"run={tmp_path / 'toy'}", "n=300", f"out={tmp_path / 'p.npz'}")
    arrays = np.load(tmp_path / "p.npz")
    assert arrays["samples"].shape == (300, 2) and "labels" not in arrays
    assert_clean_error(run_ganlab("sample", f"run={tmp_path / 'toy'}", "n=3", "label=1",
                                  f"out={tmp_path / 'x.npz'}", check=False), "not conditional")
    assert_clean_error(run_ganlab("sample", f"run={tmp_path / 'toy'}", check=False), "out=<value>")
    assert_clean_error(run_ganlab("sample", f"run={tmp_path / 'toy'}", "out=x.jpg", check=False), ".npz", ".png")
    assert_clean_error(run_ganlab("sample", f"run={tmp_path / 'toy'}", "count=3", "out=x.png", check=False),
                       "count", "run, n, out")
