"""`ganlab train` end to end: one run per model, the conditional conv nets on every file format, the files and
TensorBoard tags a run writes, a sweep's report, resume; and, in-process, every model on every kind of data."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import torch
from conftest import (
    FAST,
    ganlab_cli,
    make_cifar10,
    make_image_folder,
    make_mnist,
    read_image_tags,
    read_scalars,
    run_ganlab,
    tiny_trainer,
    trained,
)

from ganlab.commands.compose import compose_config
from ganlab.commands.train import main as train_main
from ganlab.config import TrainConfig
from ganlab.data import spec_of
from ganlab.data.base import ImageTensors
from ganlab.data.toys import grid25
from ganlab.errors import GanlabError
from ganlab.models import build_models
from ganlab.objectives import build_objective, build_penalty
from ganlab.training.optim import build_optimizers, decay_end
from ganlab.training.state import resumed_config
from ganlab.training.step import GANStep

pytestmark = pytest.mark.usefixtures("single_thread")
MODELS = ["gan", "cgan", "dcgan", "wgan", "wgan_gp", "rpgan"]
BASE_TAGS = {"Loss/D", "Loss/G", "Diversity/pairwise", "GradNorm/D", "GradNorm/G", "LR/D", "LR/G", "Speed/img_per_s"}
CRITICS = ("wgan", "wgan_gp", "rpgan")  # D's raw outputs, not probabilities: D/critic_real, ... (training/tags.py)


def run_dirs(sweep_dir: Path) -> dict[str, Path]:
    """The job dirs of a multirun, by their `<num>_<model>_<data>` name without the number."""
    return {p.name.split("_", 1)[1]: p for p in sorted(sweep_dir.iterdir()) if p.is_dir() and p.name[0].isdigit()}


def assert_run_complete(run: Path, model: str, evaluated: bool, steps: int = 20) -> None:
    """The files and TensorBoard tags of a finished run of ``steps`` with FAST's intervals (``evaluated``: at its
    end, which also keeps that evaluation as the best)."""
    scalars = read_scalars(run)
    outputs = ["D/critic_real", "D/critic_fake", "D/critic_gap"] if model in CRITICS else ["D/real", "D/fake", "D/gap"]
    expected = {*BASE_TAGS, *outputs}
    assert not {t.replace("critic_", "") if model in CRITICS else t.replace("D/", "D/critic_") for t in outputs} & scalars.keys()
    expected.add({"wgan": "Wasserstein/estimate", "wgan_gp": "Wasserstein/estimate",
                  "rpgan": "Divergence/relativistic_pairing"}.get(model, "Divergence/jensen_shannon"))
    if model == "wgan_gp":
        expected |= {"Penalty/gp", "Penalty/gp_grad_norm"}
    if model == "rpgan":  # lazy: on D steps 0 and 16 of 20, so in two of the four logging windows
        expected |= {"Penalty/r1r2", "Penalty/r1", "Penalty/r2"}
    assert expected <= scalars.keys(), f"{run.name}: missing {expected - scalars.keys()}"
    assert [s for s, _ in scalars["Loss/D"]] == list(range(5, steps + 1, 5))
    assert "Samples" in read_image_tags(run)
    checkpoints = ["best.pt"] * evaluated + ["last.pt", "step_0000010.pt", "step_0000020.pt"]
    assert sorted(p.name for p in (run / "checkpoints").glob("*.pt")) == checkpoints
    assert (run / "metrics.json").is_file() == evaluated == (run / "checkpoints" / "best.json").is_file()
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["step_0000010.png", "step_0000020.png"]
    assert (run / ".hydra" / "config.yaml").is_file() and (run / ".hydra" / "overrides.yaml").is_file()
    assert not list(run.glob("*.log"))  # Hydra's log file would stay empty: ganlab prints its own lines


@pytest.fixture(scope="module")
def sweep_output(tmp_path_factory):
    """Every model on digits, in one `ganlab train -m` (one process), evaluated at the end: its dir and output."""
    tmp = tmp_path_factory.mktemp("sweep")
    proc = run_ganlab("train", "-m", f"model={','.join(MODELS)}", "data=digits", *FAST, f"hydra.sweep.dir={tmp}")
    return tmp, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def sweep(sweep_output):
    return sweep_output[0]


def hparams_columns(logdir: Path) -> tuple[list[str], list[str]]:
    """The hyperparameters and metrics TensorBoard's HParams tab shows at first for the runs under ``logdir``: its
    backend's experiment, then the dashboard's rule (five of each; hyperparameters that differ between runs
    first)."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import backend_context

    runs = plugin_event_multiplexer.EventMultiplexer()
    runs.AddRunsFromDirectory(str(logdir))
    runs.Reload()
    tb = backend_context.Context(base_plugin.TBContext(
        logdir=str(logdir), multiplexer=runs, data_provider=data_provider.MultiplexerDataProvider(runs, str(logdir))))
    request = context.RequestContext()
    experiment = tb.experiment_from_metadata(request, "", True, tb.hparams_metadata(request, ""),
                                             tb.hparams_from_data_provider(request, "", limit=1000))
    hparams = sorted(experiment.hparam_infos, key=lambda h: not h.differs)  # stable, as the dashboard sorts
    return [h.name for h in hparams][:5], [m.name.tag for m in experiment.metric_infos][:5]


def test_the_hparams_tab_shows_the_headline_metric_and_the_main_hyperparameters(sweep):
    """The sweep's HParams table as TensorBoard shows it at first: the final metrics alone, fid_classifier among
    them (no loss, rate or speed), and model, data, learning rate, batch size and n_critic; the keys every job
    shares (FAST's) are no columns."""
    hparams, metrics = hparams_columns(sweep)
    assert "Metrics/fid_classifier" in metrics and all(m.startswith("Metrics/") for m in metrics), metrics
    assert sorted(hparams) == ["data.name", "model.name", "optim.lr", "trainer.batch_size", "trainer.n_critic"]


def test_a_note_that_holds_for_every_job_is_said_once(sweep_output):
    """No Inception weights at hand (the tests' TORCH_HOME holds none): one line for the sweep's six jobs."""
    assert sweep_output[1].count("no Inception weights") == 1


def test_a_sweep_makes_one_run_dir_per_job(sweep):
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [f"{i}_{m}_digits" for i, m in enumerate(MODELS)]


@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_end_to_end(sweep, model):
    run = run_dirs(sweep)[f"{model}_digits"]
    assert_run_complete(run, model, evaluated=True)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 20 and state["config"]["model"]["name"] == model
    conv = any(v.ndim == 4 for k, v in state["G"].items() if k.endswith("weight"))
    assert conv == (model not in ("gan", "cgan"))  # gan and cgan stay MLPs on images, as in their papers
    lr, end = dict(read_scalars(run)["LR/G"]), decay_end(state["config"])
    # a linear decay where the preset asks for one (gan on digits: 3,000 steps), over the 20 steps asked for
    assert end == (20 if model == "gan" else None)
    assert list(lr.values()) == pytest.approx([state["config"]["optim"]["lr"] * (1 - s / end if end else 1) for s in lr])


def test_the_report_of_a_sweep(sweep, capsys):
    """`ganlab report` (in this process) reads what training wrote: one row per run, best (lowest fid_classifier)
    first."""
    out = ganlab_cli(capsys, "report", str(sweep)).stdout
    assert "fid_classifier" in out and "Every run:" in out
    rows = list(csv.DictReader((sweep / "report.csv").open()))
    assert [r["model"] for r in rows] != [] and sorted(r["model"] for r in rows) == sorted(MODELS)
    fid = [float(r["fid_classifier"]) for r in rows]
    assert fid == sorted(fid) and all(r["step"] == "20" for r in rows)
    assert (sweep / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (sweep / "report.md").read_text().count("\n| ") == len(MODELS) + 1  # header and one row per run


def test_conditional_conv_nets_on_every_file_format(tmp_path):
    """model=dcgan model.conditional=true on MNIST's IDX files, CIFAR-10's pickles and a folder of class
    sub-folders: the one-hot label enters G beside z and D as constant planes beside the image."""
    make_mnist(tmp_path / "data", n=64)
    make_cifar10(tmp_path / "data")
    make_image_folder(tmp_path / "pictures", classes=("a", "b"), per_class=4)
    for name, channels, classes in (("mnist", 1, 10), ("cifar10", 3, 10), ("folder", 3, 2)):
        run = trained(tmp_path / name, "model=dcgan", "model.conditional=true", f"data={name}",
                      f"data.mnist.root={tmp_path / 'data'}", f"data.cifar10.root={tmp_path / 'data'}",
                      f"data.folder.path={tmp_path / 'pictures'}", "data.image_size=32",
                      "eval.at_end=false")
        assert_run_complete(run, "dcgan", evaluated=False)
        state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
        assert state["data"]["shape"] == [channels, 32, 32] and state["data"]["num_classes"] == classes
        assert state["G"]["net.0.weight"].shape[0] == 16 + classes  # ConvTranspose2d(z + one-hot, ...)
        assert state["D"]["net.0.weight"].shape[1] == channels + classes  # Conv2d(image + label planes, ...)


# ------------------------------------------------------------------------------- every model, every kind of data
def labelled_images(shape: tuple[int, int, int]) -> ImageTensors:
    g = torch.Generator().manual_seed(0)
    return ImageTensors(f"images{shape}", torch.randint(0, 256, (40, *shape), dtype=torch.uint8, generator=g),
                        torch.arange(40) % 10, 10)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_takes_a_step_on_every_kind_of_data(model):
    """Each preset's networks on 8x8 and 28x28 grey images (4 * 2^k and 7 * 2^k sides), 32x32 colour images and
    2-D points: the architecture follows the data, and one training step with the preset's objective, penalty
    and optimiser gives finite statistics."""
    sizes = [f"model={model}", "model.mlp.hidden=16", "model.conv.channels=4", "model.z_dim=8"]
    for data in (labelled_images((1, 8, 8)), labelled_images((1, 28, 28)), labelled_images((3, 32, 32)), grid25()):
        if model == "cgan" and data.num_classes is None:
            continue
        cfg = compose_config([*sizes, f"data={'grid25' if data.kind == 'points' else 'digits'}"])  # its networks' keys
        G, D = build_models(cfg.model, spec_of(data))
        conv = any(p.ndim == 4 for p in G.parameters())
        assert conv == (data.kind == "image" and model not in ("gan", "cgan")), (model, data.name)
        opt_g, opt_d = build_optimizers(cfg.optim, G, D)
        step = GANStep(G, D, opt_g, opt_d, build_objective(cfg.objective), build_penalty(cfg.penalty),
                       n_critic=cfg.trainer.n_critic, batch_size=8)
        stats, grads = step(data, measure_grads=True)
        assert all(torch.isfinite(v) for v in [*stats.values(), *grads.values()]), (model, data.name, stats)
        x = G(torch.randn(3, cfg.model.z_dim), torch.tensor([0, 1, 2]) if cfg.model.conditional else None)
        assert x.shape == (3, *data.shape)


def test_each_log_is_the_mean_of_the_steps_since_the_last(tmp_path):
    """Loss/D, Loss/G, D/real, D/fake at a log are averages over the generator steps of its window."""
    trainer = tiny_trainer(tmp_path, "data=grid25", "trainer.steps=7", "trainer.log_every=3", "eval.at_end=false")
    seen = []

    class Recording:  # the run's step, with each step's statistics noted
        def __init__(self, step):
            self.step = step

        def __call__(self, data, measure_grads=False):
            stats, grads = self.step(data, measure_grads=measure_grads)
            seen.append({k: float(v) for k, v in stats.items()})
            return stats, grads

        def __getattr__(self, name):
            return getattr(self.step, name)

    trainer.gan_step = Recording(trainer.gan_step)
    trainer.fit()
    logged = read_scalars(tmp_path)
    windows = {3: seen[0:3], 6: seen[3:6], 7: seen[6:7]}
    for tag in ("Loss/D", "Loss/G", "D/real", "D/fake"):
        assert [s for s, _ in logged[tag]] == [3, 6, 7]
        for step, value in logged[tag]:
            assert value == pytest.approx(sum(w[tag] for w in windows[step]) / len(windows[step]), rel=1e-5), (tag, step)


# ------------------------------------------------------------------------------------------------------ resume
def test_resume_continues_exactly_and_drops_the_events_past_its_checkpoint(tmp_path, capsys):
    """A run that logged to step 20 but whose last checkpoint is step 14 (a crash after its periodic
    checkpoint), resumed: TensorBoard drops the events past 14 and the run logs 15, 18, 20 again, the same
    losses as before at every step whose log window lies past the checkpoint (a lazy penalty on the same D
    steps, the learning rate in its decay), and no step twice."""
    run = tmp_path / "run"
    common = ["model=dcgan", "penalty=gp", "penalty.every=3", "data=digits", "trainer.log_every=3",
              "trainer.ckpt_every=7", "optim.schedule=linear", "optim.decay_steps=30", "eval.at_end=false"]
    tiny_trainer(run, *common).fit()
    before = read_scalars(run)
    shutil.copy(run / "checkpoints" / "step_0000014.pt", run / "checkpoints" / "last.pt")
    resumed = ganlab_cli(capsys, "train", f"resume={run}", "trainer.steps=20")
    assert "resuming at step 14" in resumed.stdout
    after = read_scalars(run)
    logged = [3, 6, 9, 12, 15, 18, 20]
    for tag in ("Loss/D", "Loss/G", "Penalty/gp", "LR/G"):
        assert [s for s, _ in after[tag]] == logged, tag
        a, b = dict(before[tag]), dict(after[tag])
        for step in (3, 6, 9, 12, 18, 20):
            assert b[step] == pytest.approx(a[step], abs=1e-6), (tag, step)
    lr = dict(after["LR/G"])
    assert [lr[s] for s in logged] == pytest.approx([2e-4 * (1 - s / 30) for s in logged], rel=1e-5)
    assert (run / "samples" / "step_0000020.png").is_file()


def test_resuming_past_the_end_of_a_decay_says_what_the_rate_does(tmp_path, capsys):
    """A run whose rate decayed to 0 with its 10 steps, resumed to 20: it says that the decay now ends at step 20
    and the rate logged follows that; an explicit optim.decay_steps that ended before is refused, naming the keys
    that choose how the rate goes on, and the run is left as it was."""
    run = tmp_path / "run"
    tiny_trainer(run, "data=grid25", "trainer.steps=10", "optim.schedule=linear", "optim.lr=1e-3", "eval.at_end=false").fit()
    refused = ganlab_cli(capsys, "train", f"resume={run}", "trainer.steps=30", "optim.decay_steps=10", check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    for needle in ("decayed to 0 at step 10 (optim.decay_steps=10)", "optim.decay_steps=null", "optim.schedule=constant"):
        assert needle in refused.stderr, refused.stderr
    resumed = ganlab_cli(capsys, "train", f"resume={run}", "trainer.steps=20")
    assert ("optim.schedule=linear: G's learning rate now decays to 0 at step 20 (the run's new end, "
            "trainer.steps=20): 0.0005 at step 10, where it was 0.") in resumed.stdout
    lr = dict(read_scalars(run)["LR/G"])
    assert [lr[s] for s in (5, 10, 15, 20)] == pytest.approx([1e-3 * (1 - 5 / 10), 0, 1e-3 * (1 - 15 / 20), 0], rel=1e-6)


def test_resume_refuses_what_it_cannot_do(tmp_path, capsys):
    run = tmp_path / "run"
    tiny_trainer(run, "data=grid25", "trainer.steps=10", "eval.at_end=false").fit()
    done = ganlab_cli(capsys, "train", f"resume={run}", check=False)
    assert done.returncode == 2 and "trainer.steps=<M>" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(GanlabError, match="cannot resume from .* checkpoints/last.pt"):
        train_main([f"resume={tmp_path / 'nowhere'}"])
    with pytest.raises(GanlabError, match="a resumed run keeps its model.* drop model=wgan"):
        resumed_config(TrainConfig, torch.load(run / "checkpoints" / "last.pt", weights_only=True)["config"],
                       [f"resume={run}", "model=wgan", "trainer.steps=20"])
    (run / "checkpoints" / "last.pt").write_bytes(b"half-written garbage")
    corrupt = ganlab_cli(capsys, "train", f"resume={run}", "trainer.steps=20")  # the step file beside it
    assert "step_0000010.pt (last.pt is not a ganlab checkpoint that can be read)" in corrupt.stdout
