"""What a user must be able to trust: no code runs from a file, no two runs share a dir, no step of a run or its
curves is lost, and a sweep outlives its failed jobs. Each check goes once through the `ganlab` command in a
subprocess (exit status, no traceback) and otherwise through its dispatcher in this process."""

from __future__ import annotations

import csv
import errno
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import (
    FAST,
    GANLAB,
    ganlab_cli,
    make_cifar10,
    read_image_tags,
    read_scalars,
    run_ganlab,
    trained,
)
from corrupt_files import hostile_checkpoint, hostile_cifar_batch, hostile_weights

from ganlab.errors import GanlabError
from ganlab.runs.checkpoint import load_checkpoint, newest_checkpoint, save_checkpoint
from ganlab.runs.rundir import claim_dir, lock_run_dir, release_run_dir, write_status

QUIET = ["eval.at_end=false"]


def refused(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 2, one paragraph without a traceback, saying each of ``needles``."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out, out
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out}"


@pytest.fixture(scope="module", autouse=True)
def one_thread(single_thread):
    """The in-process runs in one torch thread, as the command's runs in the tests."""


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory):
    """A DCGAN trained 20 steps on CIFAR-10-format files (checkpoints at steps 10 and 20)."""
    tmp = tmp_path_factory.mktemp("cifar")
    make_cifar10(tmp / "data", per_batch=8)
    return trained(tmp / "run", "model=dcgan", "data=cifar10", f"data.root={tmp / 'data'}", *QUIET)


def copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


# ----------------------------------------------------------------------------------------------- security
def test_a_hostile_checkpoint_runs_nothing(cifar_run, tmp_path, capsys):
    run, marker = copy_run(cifar_run, tmp_path / "run"), tmp_path / "payload_ran"
    for step_file in (run / "checkpoints").glob("step_*.pt"):
        step_file.unlink()
    last = run / "checkpoints" / "last.pt"
    hostile_checkpoint(last, marker, torch.load(last, weights_only=True))
    torch.load(last, weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.exists()
    marker.unlink()
    for command, args in ((run_ganlab, ["sample", f"run={run}", f"out={tmp_path / 's.png'}"]),
                          (in_process(capsys), ["eval", f"run={run}"]),
                          (in_process(capsys), ["train", f"resume={run}", "trainer.steps=30"])):
        refused(command(*args, check=False), "not a ganlab checkpoint", "nothing in it was run")
        assert not marker.exists(), args


def in_process(capsys: pytest.CaptureFixture):
    """:func:`run_ganlab`'s signature for :func:`ganlab_cli`: the command's dispatcher in this process."""
    return lambda *args, check=True: ganlab_cli(capsys, *args, check=check)


def test_a_hostile_cifar_batch_runs_nothing(cifar_run, tmp_path, capsys, monkeypatch):
    marker, data = tmp_path / "payload_ran", tmp_path / "data"
    make_cifar10(data, per_batch=8)
    batch = data / "cifar-10-batches-py" / "data_batch_3"
    hostile_cifar_batch(batch, marker)
    with open(batch, "rb") as f:
        pickle.load(f)  # the payload is live
    assert marker.exists()
    marker.unlink()
    run = copy_run(cifar_run, tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    for command, args in ((run_ganlab, ["train", *FAST, "model=dcgan", "data=cifar10", f"data.root={data}"]),
                          (in_process(capsys), ["eval", f"run={run}", f"data.root={data}"]),
                          (in_process(capsys), ["train", f"resume={run}", "trainer.steps=30", f"data.root={data}"])):
        refused(command(*args, check=False), "is not a CIFAR-10 batch", "data_batch_3")
        assert not marker.exists(), args
    assert not (tmp_path / "outputs" / "runs").exists() or not any((tmp_path / "outputs" / "runs").iterdir())


def test_hostile_inception_weights_run_nothing(cifar_run, tmp_path, capsys, monkeypatch):
    marker, weights = tmp_path / "payload_ran", tmp_path / "pt_inception.pth"
    hostile_weights(weights, marker)
    run = copy_run(cifar_run, tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    for command, args in ((in_process(capsys), ["eval", f"run={run}", f"inception_weights={weights}"]),
                          (in_process(capsys), ["train", f"resume={run}", "trainer.steps=30",
                                                f"eval.inception_weights={weights}"]),
                          (run_ganlab, ["train", *FAST, "data=digits", f"eval.inception_weights={weights}"])):
        refused(command(*args, check=False), "is not the Inception weights", "nothing in it was run")
        assert not marker.exists(), args
    assert not (tmp_path / "outputs").exists()  # refused before a run dir was made


# ----------------------------------------------------------------------------------------------- run dirs
def test_runs_started_together_get_their_own_dirs(tmp_path):
    first, second = claim_dir(tmp_path / "same"), claim_dir(tmp_path / "same")
    assert (first.name, second.name) == ("same", "same-2")
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([GANLAB, "train", *FAST, *QUIET, "trainer.steps=10", f"seed={seed}"], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
    runs = sorted((tmp_path / "outputs" / "runs").iterdir())
    assert len(runs) == 2
    seeds = {load_checkpoint(run / "checkpoints" / "last.pt")["config"]["seed"] for run in runs}
    assert seeds == {1, 2}  # each dir holds one run's checkpoints
    for run in runs:
        ckpt_seed = load_checkpoint(run / "checkpoints" / "last.pt")["config"]["seed"]
        assert f"seed={ckpt_seed}" in (run / ".hydra" / "overrides.yaml").read_text()


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A GAN trained 20 steps on digits, checkpoints at steps 10 and 20."""
    return trained(tmp_path_factory.mktemp("digits") / "run", *QUIET)


def test_a_running_run_holds_its_dir(digits_run, tmp_path):
    run = copy_run(digits_run, tmp_path / "run")
    lock_run_dir(run)  # as a training process does while it runs
    try:
        refused(run_ganlab("train", f"resume={run}", "trainer.steps=30", check=False), f"PID {os.getpid()}",
                "in use by another ganlab process")
        lock_run_dir(tmp_path / "new")
        refused(run_ganlab("train", *FAST, f"hydra.run.dir={tmp_path / 'new'}", check=False), f"PID {os.getpid()}")
    finally:
        release_run_dir(run)
        release_run_dir(tmp_path / "new")
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 20


def test_a_dir_that_holds_a_run_is_not_trained_into(digits_run, tmp_path, capsys):
    run = copy_run(digits_run, tmp_path / "run")
    before = {p: (run / p).read_bytes() for p in ("checkpoints/last.pt", ".hydra/config.yaml")}
    refused(ganlab_cli(capsys, "train", *FAST, "seed=5", f"hydra.run.dir={run}", check=False), "already holds a run",
            f"resume={run}")
    assert {p: (run / p).read_bytes() for p in before} == before


def train_run_unchecked(run: Path, *overrides: str) -> subprocess.CompletedProcess:
    return run_ganlab("train", *FAST, *overrides, f"hydra.run.dir={run}", check=False)


def test_refused_commands_leave_no_run_dir(tmp_path, capsys, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    for args, needle in ((["optim.lr=-1"], "optim.lr"), (["data=mnist", f"data.root={tmp_path / 'empty'}"], "mnist files"),
                         (["model=cgan", "data=grid25"], "labelled"), (["model=dcgan", "data.image_size=20"], "20")):
        refused(ganlab_cli(capsys, "train", *FAST, *args, check=False), needle)
    assert [p for p in (tmp_path / "outputs").rglob("*") if p.name != "runs"] == []
    (tmp_path / "afile").write_text("")
    refused(train_run_unchecked(tmp_path / "afile" / "run"), "is a file, not a folder")


# ----------------------------------------------------------------------------------------------- resume
def test_curves_are_exact_across_a_resume_between_two_logs(tmp_path, capsys):
    """Stopped at step 25 with logs every 10 steps and resumed to 40: every logged value (but speed) and every
    sample image is the uninterrupted run's, with no extra point at step 25."""
    # the rate decays to 0 at step 40 in both (the default run's decay otherwise ends with each run's own steps)
    common = [*QUIET, "trainer.log_every=10", "trainer.sample_every=5", "trainer.ckpt_every=100", "optim.decay_steps=40"]
    trained(tmp_path / "full", *common, "trainer.steps=40")
    trained(tmp_path / "half", *common, "trainer.steps=25")
    ganlab_cli(capsys, "train", f"resume={tmp_path / 'half'}", "trainer.steps=40")
    full, half = read_scalars(tmp_path / "full"), read_scalars(tmp_path / "half")
    tags = {t for t in full if not t.startswith("Speed/")}
    assert tags == {t for t in half if not t.startswith("Speed/")}
    for tag in tags:
        # the default run's lazy R1 (every 16th D step) is first logged at step 20, then carried to every log
        logs = [20, 30, 40] if tag.startswith("Penalty/") else [10, 20, 30, 40]
        assert [s for s, _ in half[tag]] == [s for s, _ in full[tag]] == logs, tag
        assert [v for _, v in half[tag]] == pytest.approx([v for _, v in full[tag]], abs=1e-6), tag
    assert read_image_tags(tmp_path / "half") == read_image_tags(tmp_path / "full") == ["Samples", "Samples/interpolation"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def image_steps(run: Path, tag: str) -> list[int]:
        acc = EventAccumulator(str(run), size_guidance={"images": 0})
        acc.Reload()
        return [e.step for e in acc.Images(tag)]

    assert image_steps(tmp_path / "half", "Samples") == image_steps(tmp_path / "full", "Samples") == list(range(5, 41, 5))
    assert image_steps(tmp_path / "half", "Samples/interpolation") == [40]  # the stopped run's step-25 one is dropped


def test_resume_takes_the_newest_readable_checkpoint(digits_run, tmp_path, capsys):
    run = copy_run(digits_run, tmp_path / "run")
    ckpt = run / "checkpoints"
    assert newest_checkpoint(run)[0] == ckpt / "last.pt"  # last.pt and step_20 agree: last.pt
    shutil.copy(ckpt / "step_0000010.pt", ckpt / "last.pt")  # an older last.pt beside a newer step file
    path, state, notes = newest_checkpoint(run)
    assert (path.name, state["step"], notes) == ("step_0000020.pt", 20, ["last.pt is at step 10"])
    (ckpt / "step_0000020.pt").write_bytes(b"cut short")  # the newest step file broken: last.pt (10) vs step_10
    path, state, notes = newest_checkpoint(run)
    assert (path.name, state["step"]) == ("last.pt", 10) and "not a ganlab checkpoint" in notes[-1]
    shutil.copy(digits_run / "checkpoints" / "step_0000020.pt", ckpt / "step_0000020.pt")
    (ckpt / "last.pt").unlink()  # no last.pt at all
    assert newest_checkpoint(run)[0].name == "step_0000020.pt"
    shutil.copy(ckpt / "step_0000010.pt", ckpt / "last.pt")
    proc = ganlab_cli(capsys, "train", f"resume={run}", "trainer.steps=25")
    assert f"resuming from {ckpt / 'step_0000020.pt'} (last.pt is at step 10)" in proc.stdout
    assert "resuming at step 20" in proc.stdout
    assert load_checkpoint(ckpt / "last.pt")["step"] == 25
    for name in ("last.pt", "step_0000010.pt", "step_0000020.pt"):
        (ckpt / name).write_bytes(b"garbage")
    refused(ganlab_cli(capsys, "train", f"resume={run}", "trainer.steps=30", check=False), "no checkpoint in it can be read",
            "last.pt is not a ganlab checkpoint")


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint({"w": torch.ones(3)}, path)
    before = path.read_bytes()

    def full_disk(obj, f, *args, **kwargs):
        f.write(b"\0" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path.parent / ".last.pt.tmp"))

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(GanlabError) as err:
        save_checkpoint({"w": torch.zeros(3)}, path)
    assert f"no space left on {path.parent}" in str(err.value) and "The previous last.pt is kept" in str(err.value)
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def test_a_full_disk_while_training(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "600k"):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        proc = train_run_unchecked(disk / "run", *QUIET, "trainer.steps=100000", "trainer.ckpt_every=20",
                                   "trainer.sample_every=100000")
        refused(proc, "no space left on", "is kept", "resume=")
        ckpts = disk / "run" / "checkpoints"
        assert not [p for p in ckpts.iterdir() if p.name.endswith(".tmp")]
        assert load_checkpoint(ckpts / "last.pt")["step"] % 20 == 0
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# ----------------------------------------------------------------------------------------------- sweeps
def test_a_failed_job_does_not_end_the_sweep(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    proc = run_ganlab("train", "-m", *FAST, *QUIET, "optim.lr=2e-4,-1,1e30", f"hydra.sweep.dir={sweep}", check=False)
    refused(proc, "1 of 3 jobs done", "1_gan_digits: failed: optim.lr=-1.0 is out of range",
            "2_gan_digits: failed: training diverged", f"ganlab report {sweep}")
    assert (sweep / "0_gan_digits" / "checkpoints" / "last.pt").is_file()
    running = copy_run(sweep / "0_gan_digits", sweep / "3_gan_digits")
    lock_run_dir(running)
    write_status(running, "running", step=5)
    try:
        ganlab_cli(capsys, "report", str(sweep))
    finally:
        release_run_dir(running)
    status = {r["run"]: r["status"] for r in csv.DictReader((sweep / "report.csv").open())}
    assert status == {"0_gan_digits": "done", "1_gan_digits": "failed", "2_gan_digits": "failed",
                      "3_gan_digits": "running"}
    ganlab_cli(capsys, "report", str(sweep))
    assert {r["run"]: r["status"] for r in csv.DictReader((sweep / "report.csv").open())}["3_gan_digits"] == "stopped"


def test_a_broken_or_hostile_classifier_cache_is_trained_again(tmp_path, single_thread):
    from ganlab.data import ImageTensors
    from ganlab.metrics.classifier import fingerprint, load_or_train_classifier

    images = torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(40) % 10
    data = ImageTensors("tiny", images, labels, 10)
    cache, marker = tmp_path / "cache", tmp_path / "payload_ran"
    path = cache / f"classifier_tiny_1x8x8_{fingerprint(images, labels)}.pt"
    cache.mkdir()
    for breaker in (lambda: path.write_bytes(b"cut short"), lambda: hostile_checkpoint(path, marker)):
        breaker()
        lines: list[str] = []
        load_or_train_classifier(data, None, cache, log=lines.append)
        assert "is unreadable" in lines[0] and "trained the tiny classifier" in lines[1], lines
        assert not marker.exists()
        assert set(torch.load(path, weights_only=True)) == {"state", "num_classes", "accuracy", "measured_on"}
