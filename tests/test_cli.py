"""The command line as a user meets it: help, config printing from anywhere, and every bad input's error (the
first of each kind through the `ganlab` command in a subprocess, the rest through its dispatcher in-process)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import yaml
from conftest import FAST, ganlab_cli, run_ganlab, tiny_trainer, train_run

from ganlab.commands.sample import main as sample_main
from ganlab.errors import GanlabError
from ganlab.runs import generate, read_run


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
    """Every option of each group (one YAML file each), then each key of the parts the run would be built from."""
    from ganlab.commands.compose import config_dir

    proc = run_ganlab("train", "--help", "model=dcgan", "data=ring8", cwd=tmp_path)
    for group in ("model", "data", "objective", "penalty"):
        options = ", ".join(sorted(p.stem for p in (config_dir() / group).glob("*.yaml")))
        assert f"\n{group}: {options}\n" in proc.stdout
    assert "model.arch=mlp (model.arch=auto's choice for data=ring8, points data): its keys" in proc.stdout
    assert "  model.hidden=256  (default 256; >= 1 and <= 65536; width of each hidden layer)" in proc.stdout
    assert "data=ring8: its keys\n  data.std=0.0" in proc.stdout and "penalty=none: no keys of its own" in proc.stdout
    assert "model_data:" not in proc.stdout and "applies by itself when model= and data= name that pair" in proc.stdout


@pytest.mark.parametrize("command,keys", [
    ("sample", ["run", "out", "n", "label", "seed", "checkpoint", "weights", "numbered"]),
    ("interpolate", ["run", "out", "n", "steps", "mode"]),
    ("arithmetic", ["run", "out", "a", "b", "c", "n", "seed"]),
    ("export", ["run", "out", "weights", "checkpoint"]),
    ("eval", ["run", "n", "checkpoint", "out", "inception_weights", "data.root", "data.path", "weights"]),
    ("report", ["dir", "out"]),
])
def test_every_commands_help_lists_its_keys_defaults_and_an_example(command, keys, tmp_path):
    """`ganlab <command> --help` (and -h) exits 0 with a usage line naming the required keys, each key with its
    default, and an example; nothing is read or written."""
    for flag in ("--help", "-h"):
        proc = run_ganlab(command, flag, cwd=tmp_path)
        lines = proc.stdout.splitlines()
        assert lines[0].startswith(f"usage: ganlab {command} ") and proc.stderr == ""
        rows = {line.split()[0]: line.split()[1] for line in lines if line.startswith("  ") and len(line.split()) > 1}
        for key in keys:
            assert key in rows, (key, proc.stdout)
        assert any(line.startswith(f"  ganlab {command} ") for line in lines[lines.index(next(
            line for line in lines if line.startswith("example"))):])
    assert list(tmp_path.iterdir()) == []
    if command == "sample":
        assert (rows["n"], rows["label"], rows["run"], rows["numbered"]) == ("64", "unset", "required", "false")


def test_shell_completion_of_train_works_through_hydra(tmp_path):
    """What --hydra-help advertises: the install script completes the command `ganlab`, and its queries answer
    the subcommand names, then train's groups and options (Hydra's)."""
    script = run_ganlab("train", "-sc", "install=bash", cwd=tmp_path).stdout
    assert script.rstrip().endswith("-F hydra_bash_completion ganlab")
    def query(line: str) -> list[str]:
        return run_ganlab("-sc", "query=bash", cwd=tmp_path, env={"COMP_LINE": line}).stdout.split()
    assert query("ganlab ex") == ["export"]
    assert query("ganlab train model=wg") == ["model=wgan", "model=wgan_gp"]
    assert query("ganlab sample ru") == []  # the shell offers file names


def test_model_data_is_chosen_by_model_and_data(tmp_path, capsys):
    """A tuned preset that does not go with model= and data= is refused before a run dir is made, naming the pair
    it tunes; ~model_data leaves the tuning out."""
    proc = ganlab_cli(capsys, "train", "model_data=wgan_gp_grid25", f"hydra.run.dir={tmp_path}/r", check=False)
    assert_clean_error(proc, "model_data=wgan_gp_grid25 does not go with model=gan data=digits",
                       "(model=wgan_gp data=grid25)", "~model_data")
    assert proc.returncode == 2 and not (tmp_path / "r").exists()


def test_configs_are_found_from_any_directory_and_a_user_config_dir_adds_options(tmp_path):
    (tmp_path / "mine" / "data").mkdir(parents=True)
    (tmp_path / "mine" / "data" / "wide_ring.yaml").write_text("name: ring8\nstd: 0.2\n")
    proc = run_ganlab("train", "--config-dir", str(tmp_path / "mine"), "model=wgan_gp", "data=wide_ring", "--cfg", "job",
                      cwd=tmp_path)
    config = yaml.safe_load(proc.stdout)
    assert (config["model"]["name"], config["data"]["name"], config["data"]["std"]) == ("wgan_gp", "ring8", 0.2)


def test_unknown_command():
    assert_clean_error(run_ganlab("trian", check=False), "unknown command 'trian'", "train")


def test_unknown_group_option_names_the_choices(capsys):
    proc = ganlab_cli(capsys, "train", "model=wgangp", check=False)
    assert_clean_error(proc, "model/wgangp", "wgan_gp", "dcgan", "cgan")


def test_misspelt_key_names_the_valid_keys(tmp_path):
    proc = run_ganlab("train", "trainer.stepz=10", check=False, cwd=tmp_path)
    assert_clean_error(proc, "trainer.stepz", "Did you mean 'trainer.steps'", "batch_size", "n_critic")
    assert proc.returncode == 2


def test_wrong_type_and_out_of_range_values(tmp_path, capsys):
    """A value of the wrong type (Hydra's merge into the schema) and one out of its range (ganlab's validation
    pass, test_config has the others): one paragraph, exit 2."""
    assert_clean_error(ganlab_cli(capsys, "train", "trainer.steps=many", check=False), "trainer.steps", "many")
    proc = ganlab_cli(capsys, "train", "trainer.batch_size=0", f"hydra.run.dir={tmp_path}/r", check=False)
    assert_clean_error(proc, "trainer.batch_size=0 is out of range", ">= 1")
    assert proc.returncode == 2


def test_conditional_model_on_unlabelled_data(tmp_path, capsys):
    proc = ganlab_cli(capsys, "train", "model=cgan", "data=grid25", *FAST, f"hydra.run.dir={tmp_path}/r", check=False)
    assert_clean_error(proc, "conditional", "needs labelled data", "data=digits")
    assert proc.returncode == 2


def test_what_a_run_cannot_be_built_from_is_a_ganlab_error(tmp_path):
    """The errors a run's parts raise as they are built (the command line prints them as the one above)."""
    with pytest.raises(GanlabError, match=r"image side 20 .*28, 32.*set data.image_size"):
        tiny_trainer(tmp_path, "model=dcgan", "data.image_size=20")
    with pytest.raises(GanlabError, match=str(tmp_path / "cifar-10-batches-py")):
        tiny_trainer(tmp_path, "model=wgan_gp", "data=cifar10", f"data.root={tmp_path}")
    if not torch.cuda.is_available():
        with pytest.raises(GanlabError, match="device=cuda.*device=cpu"):
            tiny_trainer(tmp_path, "device=cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_run(tmp_path):
    train_run(tmp_path / "r", "device=cuda", "model=dcgan", "data=digits")
    assert (tmp_path / "r" / "checkpoints" / "last.pt").is_file()


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cgan") / "run"
    tiny_trainer(run, "model=cgan", "data=digits", "trainer.steps=2", "eval.at_end=false").fit()
    return run


def expected_samples(run, n: int, seed: int = 0, label: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What `ganlab sample` documents: the run's generator on N(0, 1) noise from ``seed``, and for a conditional
    model the classes in equal shares, in order (or all ``label``)."""
    G, _ = read_run(run, weights=None)
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    y = None
    if G.num_classes:
        y = torch.full((n,), label) if label is not None else torch.arange(n) * G.num_classes // n
    return generate(G, z, y), y


def test_sample_writes_the_documented_arrays(cgan_run, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    run_ganlab("sample", f"run={cgan_run}", "n=25", "device=cpu", f"out={tmp_path / 's.npz'}")
    arrays = np.load(tmp_path / "s.npz")
    samples, labels = expected_samples(cgan_run, 25)
    assert arrays["samples"].dtype == np.float32 and arrays["labels"].dtype == np.int64
    assert np.array_equal(arrays["samples"], samples.numpy()) and arrays["samples"].shape == (25, 1, 8, 8)
    assert arrays["labels"].tolist() == labels.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6,
                                                             7, 7, 8, 8, 8, 9, 9]
    ganlab_cli(capsys, "sample", f"run={cgan_run}", "n=6", "label=7", "seed=3", "device=cpu", f"out={tmp_path / 'seven.npz'}")
    seven = np.load(tmp_path / "seven.npz")
    assert seven["labels"].tolist() == [7] * 6
    assert np.array_equal(seven["samples"], expected_samples(cgan_run, 6, seed=3, label=7)[0].numpy())
    ganlab_cli(capsys, "sample", f"run={cgan_run}", "n=20", f"out={tmp_path / 'grid.png'}")
    # one row per class, two samples each: 8x8 digits enlarged 6x, in cells of 48 + 2 pixels of padding
    assert Image.open(tmp_path / "grid.png").size == (2 * 50 + 2, 10 * 50 + 2)


def test_sample_of_points_and_its_errors(tmp_path, capsys):
    import numpy as np

    toy = tmp_path / "toy"
    tiny_trainer(toy, "model=wgan_gp", "data=ring8", "trainer.steps=2", "eval.at_end=false").fit()
    ganlab_cli(capsys, "sample", f"run={toy}", "n=300", "device=cpu", f"out={tmp_path / 'p.npz'}")
    arrays = np.load(tmp_path / "p.npz")
    assert np.array_equal(arrays["samples"], expected_samples(toy, 300)[0].numpy()) and "labels" not in arrays
    assert arrays["samples"].shape == (300, 2)
    assert_clean_error(run_ganlab("sample", f"run={toy}", "n=3", "label=1", f"out={tmp_path / 'x.npz'}", check=False),
                       "not conditional")
    for args, needles in (([], ["out=<value>"]), (["out=x.jpg"], [".npz", ".png"]), (["count=3", "out=x.png"], ["count", "run, n, out"])):
        with pytest.raises(GanlabError) as err:
            sample_main([f"run={toy}", *args])
        assert all(needle in str(err.value) for needle in needles), str(err.value)
