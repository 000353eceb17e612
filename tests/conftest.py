"""Shared test helpers: run the installed ``ganlab`` command in a subprocess, read a run's TensorBoard events,
build a tiny run in-process; and the checks that the suite tests this checkout and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# OpenMP threads that sleep while waiting, as the `ganlab` command sets them: in-process tests on a shared
# 2-core machine otherwise spin against the subprocesses they start.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `pytest -n auto`: one worker per core already, so each worker (and the commands it starts) computes in one
    # thread; a second one would only wait for the other worker's core
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent  # the checkout these tests belong to
GANLAB = str(Path(sys.executable).with_name("ganlab"))
# tiny settings that keep one training run to a few seconds on a 2-core CPU
FAST = ["trainer.steps=20", "trainer.batch_size=16", "trainer.log_every=5", "trainer.sample_every=10",
        "trainer.ckpt_every=10", "trainer.progress=false", "model.mlp.hidden=32", "model.conv.channels=8", "model.z_dim=16",
        "eval.n=200"]
# env for runs of tiny networks: a second torch thread only adds waiting (3x slower on a busy 2-core machine)
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


# ----------------------------------------------------------------------------------- which ganlab is tested
def package_files(package: Path, configs: Path) -> dict[str, bytes]:
    """The source of a ganlab copy: its modules and its YAML configs, by relative name."""
    files = {f"ganlab/{p.relative_to(package)}": p.read_bytes() for p in package.rglob("*.py")
             if "__pycache__" not in p.parts and configs not in p.parents}
    files.update({f"configs/{p.relative_to(configs)}": p.read_bytes() for p in configs.rglob("*.yaml")})
    return files


def same_as_checkout(package: Path) -> bool:
    """Whether the ganlab at ``package`` is this checkout's: the checkout itself, or an install of exactly its
    files (a non-editable ``pip install .`` of this tree, as CI makes)."""
    if package == REPO / "ganlab":
        return True
    installed_configs = package / "configs" if (package / "configs").is_dir() else package.parent / "configs"
    return package_files(package, installed_configs) == package_files(REPO / "ganlab", REPO / "configs")


def wrong_copy_message(where: str, package: Path | str) -> str:
    return (
        f"{where} imports ganlab from {package}, which is not the checkout these tests live in ({REPO}) and "
        "differs from it: the suite would test that copy, and an edit to this checkout's ganlab/ would silently "
        f"go untested. Install this checkout editable (`pip install -e \"{REPO}[test]\"`), or put it first on the "
        f"import path (`PYTHONPATH={REPO} pytest`), then run the tests again."
    )


def command_package() -> Path | None:
    """The ganlab package the ``ganlab`` command imports (``ganlab --version`` names it; None: it does not)."""
    proc = subprocess.run([GANLAB, "--version"], capture_output=True, text=True, timeout=60)
    words = proc.stdout.strip().split(" from ", 1)
    return Path(words[1]).resolve() if proc.returncode == 0 and len(words) == 2 else None


def pytest_sessionstart(session: pytest.Session) -> None:
    import ganlab

    here = Path(ganlab.__file__).resolve().parent
    if not same_as_checkout(here):
        pytest.exit(wrong_copy_message("pytest", here), returncode=4)
    command = command_package()
    if command is None or (command != here and not same_as_checkout(command)):
        where = command or "an older ganlab (its --version does not say where it lives)"
        pytest.exit(wrong_copy_message(f"the `ganlab` command ({GANLAB})", where), returncode=4)


def pytest_report_header(config: pytest.Config) -> str:
    import ganlab

    here = Path(ganlab.__file__).resolve().parent
    how = "" if here == REPO / "ganlab" else f" (an install identical to the checkout {REPO})"
    return f"ganlab under test: {here}{how}"


# ------------------------------------------------------------------------------------- pytest -n (xdist)
# the test files whose tests take longest: under `pytest -n auto --dist loadscope` (each module's tests on one
# worker, so that a module's trained runs are built once) they are handed out first, so that no worker is left
# with a long file at the end while the other waits (a scheduling hint only)
LONGEST_FIRST = ("tests/test_submitit.py", "tests/test_trust.py", "tests/test_sweeps.py", "tests/test_distributed.py",
                 "tests/test_bad_inputs.py", "tests/test_train.py", "tests/test_parts.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first, in the order above; the rest as collected."""
    order = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: order.get(item.nodeid.split("::")[0], len(order)))  # stable


_SCRATCH: list[Path] = []  # the session's working folder for commands not given one


@pytest.fixture(scope="session", autouse=True)
def hermetic(tmp_path_factory):
    """Classifiers, torch hub files and whatever a command writes into its working folder go to the session's
    temporary folder: the tests leave nothing in ~/.cache or the checkout (and never find a developer's
    Inception weights there)."""
    root = tmp_path_factory.mktemp("session")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # `pytest -n`: the workers share the classifiers they train (each written by an atomic rename), in the
        # temporary folder of the whole run
        shared = tmp_path_factory.getbasetemp().parent / "ganlab_cache"
        shared.mkdir(exist_ok=True)
        (root / "ganlab_cache").symlink_to(shared, target_is_directory=True)
    saved = {k: os.environ.get(k) for k in ("GANLAB_CACHE", "TORCH_HOME")}
    os.environ["GANLAB_CACHE"], os.environ["TORCH_HOME"] = str(root / "ganlab_cache"), str(root / "torch_home")
    _SCRATCH.append(root)
    yield root
    _SCRATCH.clear()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def single_thread():
    """torch in one thread for a module's in-process work on tiny tensors (restored afterwards)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------- helpers
def run_ganlab(*args: str, cwd: Path | str | None = None, check: bool = True, timeout: float = 300,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``ganlab *args`` (in the session's scratch folder unless ``cwd``); with ``check``, fail the test with
    the command's output if it exits non-zero."""
    full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", **(env or {})}
    proc = subprocess.run([GANLAB, *args], cwd=cwd or (_SCRATCH[0] if _SCRATCH else None), capture_output=True,
                          text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        pytest.fail(f"ganlab {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def ganlab_cli(capsys: pytest.CaptureFixture, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``ganlab *args`` in this process, through the dispatcher the command runs (for the commands that are no
    Hydra app: sample, eval, export, report, ...; and the errors ``train`` raises before Hydra starts): its exit
    status and output (with whatever the test printed before and did not read) as :func:`run_ganlab` gives them, without paying a process's imports. An exception the
    dispatcher does not turn into a one-paragraph error (which the command would print as a traceback) fails the
    test by propagating."""
    from ganlab.cli import main

    try:
        code = main(list(args))
    except SystemExit as exit_:  # `ganlab train`'s Hydra app ends a refused run so
        code = exit_.code if isinstance(exit_.code, int) else 1
    out = capsys.readouterr()
    proc = subprocess.CompletedProcess(["ganlab", *args], code, out.out, out.err)
    if check and code != 0:
        pytest.fail(f"ganlab {' '.join(args)} returned {code}\nstdout:\n{out.out}\nstderr:\n{out.err}")
    return proc


def train_run(run_dir: Path, *overrides: str, fast: bool = True) -> subprocess.CompletedProcess:
    """``ganlab train`` into ``run_dir`` with the tiny settings (later overrides win)."""
    return run_ganlab("train", *(FAST if fast else []), *overrides, f"hydra.run.dir={run_dir}")


def tiny_trainer(run_dir: Path, *overrides: str):
    """A :class:`Trainer` built in-process with the tiny settings (later overrides win), on the CPU in fp32."""
    from ganlab.commands.compose import compose_config
    from ganlab.training.loop import Trainer

    cfg = compose_config([*FAST, "device=cpu", "device.precision=fp32", *overrides])
    return Trainer(cfg, Path(run_dir))


def trained(run_dir: Path, *overrides: str) -> Path:
    """A tiny run trained in this process (:func:`tiny_trainer`), with the ``.hydra/`` files the command's Hydra
    writes beside it (its config and its command-line overrides)."""
    from omegaconf import OmegaConf

    trainer = tiny_trainer(run_dir, *overrides)
    trainer.fit()
    (run_dir / ".hydra").mkdir()
    OmegaConf.save(trainer.cfg, run_dir / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), run_dir / ".hydra" / "overrides.yaml")
    return run_dir


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of a run's TensorBoard events, as (step, value) lists, read with TensorBoard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def read_image_tags(run_dir: Path) -> list[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0})
    acc.Reload()
    return acc.Tags()["images"]


from formats import make_cifar10, make_image_folder, make_mnist, write_idx  # noqa: E402,F401 -- shared helpers
