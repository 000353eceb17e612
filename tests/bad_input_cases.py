"""A table of bad inputs to every ganlab command, and the files and runs they need (broken and hostile copies
of each format ganlab reads; the hostile configs, links and stopped runs of tests/hostile_cases.py). Run through the real command by ``scripts/bad_inputs.py``, in-process by
``tests/test_bad_inputs.py``. Each case must exit 2 with one paragraph and no traceback (or 0 where the input
is valid), and no file's payload may run."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from corrupt_files import (
    cifar_batch,
    corrupt_gzip,
    decompression_bomb_png,
    gray16_png,
    hostile_checkpoint,
    hostile_cifar_batch,
    hostile_weights,
    truncated,
    write_cifar_batch,
)
from formats import make_cifar10, make_image_folder, make_mnist, write_idx
from hostile_cases import TINY, build_hostile, hostile_cases

MARKER = "PAYLOAD_RAN"  # hostile files create this file in the fixtures folder if anything unpickles them


@dataclass(frozen=True)
class Case:
    group: str
    args: tuple[str, ...]  # after `ganlab`
    expect: int = 2  # the exit status: 2 (a clear error) or 0 (valid input)
    needle: str = ""  # a phrase the output must hold
    trains: bool = False  # it trains or evaluates for real (seconds, not milliseconds)


def _mnist_variant(root: Path, name: str, breaker: Callable[[Path], None], gz: bool = False, folder: str = "MNIST") -> str:
    make_mnist(root / name, n=64, folder=folder, gz=gz)
    breaker(root / name / folder / "raw")
    return str(root / name)


def _cifar_variant(root: Path, name: str, batch3: Callable[[Path], None]) -> str:
    make_cifar10(root / name, per_batch=8)
    batch3(root / name / "cifar-10-batches-py" / "data_batch_3")
    return str(root / name)


def _broken_run(fx: dict[str, str], root: Path, name: str, breaker: Callable[[Path], None]) -> str:
    """A copy of the trained digits run with only a last.pt, broken by ``breaker``."""
    run = root / name
    shutil.copytree(fx["run"], run)
    for p in (run / "checkpoints").glob("step_*.pt"):
        p.unlink()
    breaker(run / "checkpoints" / "last.pt")
    return str(run)


def _checkpoint_with(changes: Callable[[dict], None]) -> Callable[[Path], None]:
    def breaker(path: Path) -> None:
        import torch

        state = torch.load(path, weights_only=True)
        changes(state)
        torch.save(state, path)

    return breaker


def _sweep(fx: dict[str, str], root: Path, name: str, breaker: Callable[[Path], None] | None = None) -> str:
    """A sweep of two copies of the digits run (lr 1e-4 and 1e-3, with metrics), ``breaker`` applied to job 1."""
    import json

    sweep = root / name
    for i, lr in enumerate(("1e-4", "1e-3")):
        job = sweep / f"{i}_gan_digits"
        shutil.copytree(fx["run"], job)
        (job / ".hydra" / "overrides.yaml").write_text(f"- optim.lr={lr}\n- model=gan\n")
        (job / "metrics.json").write_text(json.dumps({"step": 20, "fid_classifier": 10.0 + i, "class_kl": 0.1}))
    if breaker:
        breaker(sweep / "1_gan_digits")
    return str(sweep)


def build_fixtures(root: Path, train: Callable[[list[str]], object]) -> dict[str, str]:
    """Everything the cases refer to, under ``root``; ``train(args)`` runs `ganlab train <args>`."""
    root.mkdir(parents=True, exist_ok=True)
    marker = root / MARKER
    fx: dict[str, str] = {"root": str(root), "cwd": str(root / "cwd"), "file": str(root / "afile"),
                          "empty": str(root / "empty"), "nowhere": str(root / "nowhere")}
    (root / "cwd").mkdir(exist_ok=True)
    (root / "empty").mkdir(exist_ok=True)
    (root / "afile").write_text("not a folder\n")
    # data files: good, then broken copies of each format
    make_mnist(root / "mnist", n=64)
    fx["mnist"] = str(root / "mnist")
    raw = "train-images-idx3-ubyte"
    fx["mnist_truncated_gz"] = _mnist_variant(root, "mnist_truncated_gz", lambda d: truncated(d / f"{raw}.gz"), gz=True)
    fx["mnist_corrupt_gz"] = _mnist_variant(root, "mnist_corrupt_gz", lambda d: corrupt_gzip(d / f"{raw}.gz"), gz=True)
    fx["mnist_bad_magic"] = _mnist_variant(root, "mnist_bad_magic", lambda d: (d / raw).write_bytes(b"PK\x03\x04 zip"))
    fx["mnist_truncated"] = _mnist_variant(root, "mnist_truncated", lambda d: truncated(d / raw, 0.9))
    fx["mnist_empty_file"] = _mnist_variant(root, "mnist_empty_file", lambda d: (d / raw).write_bytes(b""))
    fx["mnist_labels_12"] = _mnist_variant(
        root, "mnist_labels_12", lambda d: write_idx(d / "train-labels-idx1-ubyte", np.full(64, 12, np.uint8)))
    fx["mnist_count"] = _mnist_variant(
        root, "mnist_count", lambda d: write_idx(d / "train-labels-idx1-ubyte", np.zeros(63, np.uint8)))
    fx["mnist_bad_type"] = _mnist_variant(
        root, "mnist_bad_type", lambda d: (d / raw).write_bytes(b"\0\0\x07\x03" + b"\0" * 12))
    fx["fashion_header"] = _mnist_variant(root, "fashion_header", lambda d: truncated(d / raw, 0.0001),
                                          folder="FashionMNIST")
    make_cifar10(root / "cifar", per_batch=8)
    fx["cifar"] = str(root / "cifar")
    fx["cifar_list"] = _cifar_variant(root, "cifar_list", lambda p: write_cifar_batch(p, [1, 2, 3]))
    fx["cifar_hostile"] = _cifar_variant(root, "cifar_hostile", lambda p: hostile_cifar_batch(p, marker))
    fx["cifar_no_data"] = _cifar_variant(root, "cifar_no_data", lambda p: write_cifar_batch(p, {"labels": [1]}))
    fx["cifar_labels_10"] = _cifar_variant(root, "cifar_labels_10", lambda p: write_cifar_batch(p, cifar_batch(4, [10] * 4)))
    fx["cifar_float"] = _cifar_variant(
        root, "cifar_float", lambda p: write_cifar_batch(p, {**cifar_batch(), "data": np.zeros((4, 3072), np.float32)}))
    fx["cifar_truncated"] = _cifar_variant(root, "cifar_truncated", lambda p: truncated(p))
    fx["cifar_bytes"] = _cifar_variant(root, "cifar_bytes", lambda p: p.write_bytes(bytes(range(256))))
    fx["folder"] = str(make_image_folder(root / "folder", classes=("a", "b"), per_class=4, size=20))
    for name, value in (("gray16", 30326), ("gray16_dark", 1000)):
        for i in range(4):
            gray16_png(root / name / f"{i}.png", value)
    fx["gray16"] = str(root / "gray16")
    make_image_folder(root / "folder_corrupt", classes=(), per_class=2, size=20)
    (root / "folder_corrupt" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    fx["folder_corrupt"] = str(root / "folder_corrupt")
    make_image_folder(root / "folder_bomb", classes=(), per_class=2, size=20)
    decompression_bomb_png(root / "folder_bomb" / "bomb.png")
    fx["folder_bomb"] = str(root / "folder_bomb")
    make_image_folder(root / "folder_text", classes=(), per_class=2, size=20)
    (root / "folder_text" / "notes.jpg").write_text("a text file named .jpg\n")
    fx["folder_text"] = str(root / "folder_text")
    # runs, trained through the command
    for name, args in (("run", ["model=gan", "data=digits"]), ("cgan", ["model=cgan", "data=digits"]),
                       ("toy", ["model=gan", "data=grid25"]),
                       ("mnist_run", ["model=gan", "data=mnist", f"data.root={root / 'mnist_moving'}"]),
                       ("cifar_run", ["model=dcgan", "data=cifar10", f"data.root={root / 'cifar_turning'}"])):
        if name == "mnist_run":
            make_mnist(root / "mnist_moving", n=64)
        if name == "cifar_run":
            make_cifar10(root / "cifar_turning", per_batch=8)
        train([*TINY, *args, f"hydra.run.dir={root / name}"])
        fx[name] = str(root / name)
    (root / "mnist_moving").rename(root / "mnist_moved")  # the run's data moved
    fx["mnist_moved"] = str(root / "mnist_moved")
    hostile_cifar_batch(root / "cifar_turning" / "cifar-10-batches-py" / "data_batch_2", marker)
    # broken checkpoints (in copies of the digits run)
    import torch

    fx["ck_hostile"] = _broken_run(fx, root, "ck_hostile", lambda p: hostile_checkpoint(
        p, marker, torch.load(p, weights_only=True)))
    fx["ck_truncated"] = _broken_run(fx, root, "ck_truncated", truncated)
    fx["ck_bytes"] = _broken_run(fx, root, "ck_bytes", lambda p: p.write_bytes(b"half-written garbage"))
    fx["ck_list"] = _broken_run(fx, root, "ck_list", lambda p: torch.save([1, 2, 3], p))
    fx["ck_keys"] = _broken_run(fx, root, "ck_keys", lambda p: torch.save({"G": {}}, p))
    fx["ck_weights"] = _broken_run(fx, root, "ck_weights", _checkpoint_with(
        lambda s: s["config"]["model"].update(hidden=48)))
    fx["ck_config"] = _broken_run(fx, root, "ck_config", _checkpoint_with(lambda s: s["config"].update(model="gan")))
    fx["ck_step"] = _broken_run(fx, root, "ck_step", _checkpoint_with(lambda s: s.update(step="ten")))
    # the Inception weights
    hostile_weights(root / "inception_hostile.pt", marker)
    fx["inception_hostile"] = str(root / "inception_hostile.pt")
    (root / "inception_bytes.pt").write_bytes(bytes(range(256)) * 8)
    fx["inception_bytes"] = str(root / "inception_bytes.pt")
    torch.save({"weight": [1, 2]}, root / "inception_lists.pt")
    fx["inception_lists"] = str(root / "inception_lists.pt")
    # sweeps for `ganlab report`
    fx["sweep"] = _sweep(fx, root, "sweep")
    for name, breaker in (
        ("metrics_json", lambda j: (j / "metrics.json").write_text('{"fid": 1.0,')),
        ("metrics_list", lambda j: (j / "metrics.json").write_text("[1, 2, 3]")),
        ("metrics_text", lambda j: (j / "metrics.json").write_text('{"fid": "low"}')),
        ("best_json", lambda j: (j / "checkpoints" / "best.json").write_text("{{")),
        ("overrides_yaml", lambda j: (j / ".hydra" / "overrides.yaml").write_text("- a=1\n  - : [\n")),
        ("overrides_dict", lambda j: (j / ".hydra" / "overrides.yaml").write_text("optim.lr: 1e-3\n")),
        ("status_json", lambda j: (j / "status.json").write_text("running")),
    ):
        fx[f"sweep_{name}"] = _sweep(fx, root, f"sweep_{name}", breaker)
    (root / "odd").mkdir(exist_ok=True)
    (root / "odd" / "x.png").mkdir(exist_ok=True)
    (root / "odd" / "m.json").mkdir(exist_ok=True)
    build_hostile(root, fx, train, marker)  # links, hostile configs, stopped runs (tests/hostile_cases.py)
    return fx


def cases(fx: dict[str, str]) -> list[Case]:
    """The table: train's config keys, data files, run dirs and resume; sample, eval and report; the CLI."""
    r, f, odd = fx["run"], fx["file"], Path(fx["root"]) / "odd"
    t = ("train", *TINY)
    out = [Case("train: optimiser", (*t, a), needle=n) for a, n in (
        ("optim.lr_d=-1", "optim.lr_d=-1.0 is out of range"), ("optim.lr_d=nan", "finite"),
        ("optim.beta1=2", "optim.beta1"), ("optim.beta2=-0.1", "optim.beta2"), ("optim.lr=0", "optim.lr"),
        ("optim.lr=inf", "finite"), ("optim.lr=fast", "optim.lr"), ("optim.name=sgd", "adam, rmsprop"),
        ("optim.decay_steps=-10", "optim.decay_steps"), ("optim.decay_steps=0", "optim.decay_steps"))]
    out += [Case("train: model", (*t, *a.split()), needle=n) for a, n in (
        ("model.d_dropout=1.5", "model.d_dropout"), ("model.d_dropout=-0.1", "model.d_dropout"),
        ("model.hidden=0", "model.hidden"), ("model.layers=-1", "model.layers"), ("model.layers=0", "model.layers"),
        ("model=dcgan model.channels=0", "model.channels"), ("model.z_dim=0", "model.z_dim"),
        ("model.init_std=-1", "model.init_std"), ("model.g_norm=group", "model.g_norm"),
        ("model.arch=resnet", "auto, conv, mlp"), ("model.spectral_norm=maybe", "model.spectral_norm"),
        ("model=wgangp", "wgan_gp"), ("model=cgan data=grid25", "needs labelled data"),
        ("model.arch=conv data=grid25", "cannot model"), ("model.conditional=true data=ring8", "labelled"),
        ("model.hidden=65536 model.layers=64", "parameters"),
        ("model=dcgan model.channels=4096 data.image_size=512", "parameters"))]
    out += [Case("train: sizes", (*t, *a.split()), needle=n) for a, n in (
        ("data.image_size=-8", "data.image_size"), ("data.image_size=0", "data.image_size"),
        ("data.image_size=4096", "data.image_size"), ("model=dcgan data.image_size=20", "data.image_size"),
        ("trainer.batch_size=2000000000", "trainer.batch_size"), ("trainer.batch_size=0", "trainer.batch_size"),
        ("trainer.batch_size=-1", "trainer.batch_size"), ("trainer.num_samples=50000000", "trainer.num_samples"),
        ("model=dcgan trainer.batch_size=65536 data.image_size=1024", "needs at least"),
        ("trainer.steps=0", "trainer.steps"), ("trainer.steps=many", "trainer.steps"),
        ("trainer.steps=1e3", "trainer.steps"), ("trainer.n_critic=0", "trainer.n_critic"),
        ("trainer.log_every=0", "trainer.log_every"), ("trainer.ckpt_every=-5", "trainer.ckpt_every"),
        ("trainer.sample_every=0", "trainer.sample_every"), ("trainer.progress=perhaps", "trainer.progress"),
        ("seed=-1", "seed"), ("seed=99999999999999999999", "seed"))]
    out += [Case("train: eval, device, penalty", (*t, *a.split()), needle=n) for a, n in (
        ("eval.n=1", "eval.n"), ("eval.n=1000000000", "eval.n"), ("eval.every=-1", "eval.every"),
        ("eval.warn_diversity=2", "eval.warn_diversity"), ("eval.warn_window=0", "eval.warn_window"),
        (f"eval.inception_weights={fx['nowhere']}", "no such file"),
        (f"eval.inception_weights={fx['inception_hostile']}", "not the Inception weights"),
        (f"eval.inception_weights={fx['inception_bytes']}", "not the Inception weights"),
        (f"eval.inception_weights={fx['inception_lists']}", "not the Inception weights"),
        ("device=tpu", "device"), ("device.precision=fp16", "fp16"),
        ("objective=wasserstien", "wasserstein"), ("penalty=gp penalty.weight=-1", "penalty.weight"),
        ("penalty=gp penalty.every=0", "penalty.every"), ("model=wgan penalty.every=4", "not to penalty=clip"),
        ("model=wgan penalty.bound=0", "penalty.bound"), ("objective=hinge objective.non_saturating=false", "objective"),
        ("penalty=none penalty.weight=3", "penalty.weight"))]
    out += [Case("train: augment, data.limit", (*t, *a.split()), needle=n) for a, n in (
        ("augment=flip", "diffaugment"), ("augment=diffaugment augment.policy=[color,zoom]", "has no op 'zoom'"),
        ("augment=diffaugment augment.policy=[color,color]", "names an op twice"),
        ("augment=ada augment.policy=[]", "names no op"), ("augment=ada augment.policy=','", "names no op"), ("data=grid25 augment=diffaugment", "augment=none"),
        ("augment=ada augment.target=1.5", "augment.target"), ("augment=ada augment.target=0", "augment.target"),
        ("augment=ada augment.speed=0", "augment.speed"), ("augment=ada augment.p=2", "augment.p"),
        ("augment=ada objective=wasserstein", "augment=diffaugment"), ("augment.target=0.5", "augment=ada"),
        ("data.limit=0", "data.limit"), ("data.limit=100000", "1,797 training images"),
        ("data=grid25 data.limit=100", "applies to data="))]
    out += [Case("train: unknown keys", (*t, a), needle=n) for a, n in (
        ("+trainer.stepz=10", "Did you mean 'trainer.steps'"), ("trainer.stepz=10", "trainer.stepz"),
        ("+sead=1", "Did you mean 'seed'"), ("sead=1", "sead"), ("++sead=1", "sead"), ("+model.widht=3", "model.widht"),
        ("+optim.momentum=0.9", "optim.momentum"), ("+data.foo=1", "data.foo"), ("~seed", "would remove 'seed'"),
        ("~optim.lr", "would remove"), ("~model", "model"))]
    if_gpu = [] if _has_cuda() else [Case("train: eval, device, penalty", (*t, "device=cuda"), needle="device=cpu")]
    out += if_gpu
    data = [("data=mnist", "mnist_truncated_gz", "corrupt or truncated"), ("data=mnist", "mnist_corrupt_gz", "corrupt"),
            ("data=mnist", "mnist_bad_magic", "not an IDX file"), ("data=mnist", "mnist_truncated", "truncated"),
            ("data=mnist", "mnist_empty_file", "not an IDX file"), ("data=mnist", "mnist_labels_12", "0..9"),
            ("data=mnist", "mnist_count", "do not match"), ("data=mnist", "mnist_bad_type", "element type"),
            ("data=stacked_mnist", "mnist_labels_12", "0..9"), ("data=fashion_mnist", "fashion_header", "truncated inside its header"),
            ("data=mnist", "empty", "train-images-idx3-ubyte"), ("data=cifar10", "empty", "data_batch_1"),
            ("model=dcgan data=cifar10", "cifar_list", "not a CIFAR-10 batch"),
            ("model=dcgan data=cifar10", "cifar_hostile", "not a CIFAR-10 batch"),
            ("model=dcgan data=cifar10", "cifar_no_data", "not a CIFAR-10 batch"),
            ("model=dcgan data=cifar10", "cifar_labels_10", "not a CIFAR-10 batch"),
            ("model=dcgan data=cifar10", "cifar_float", "not a CIFAR-10 batch"),
            ("model=dcgan data=cifar10", "cifar_truncated", "not a CIFAR-10 batch"),
            ("model=dcgan data=cifar10", "cifar_bytes", "not a CIFAR-10 batch")]
    out += [Case("train: data files", (*t, *a.split(), f"data.root={fx[k]}"), needle=n) for a, k, n in data]
    out += [Case("train: data files", (*t, "data=folder", f"data.path={fx[k]}", "data.image_size=8"), needle=n)
            for k, n in (("folder_corrupt", "broken.png"), ("folder_bomb", "DecompressionBombError"),
                         ("folder_text", "notes.jpg"), ("empty", "no images"), ("nowhere", "not a directory"),
                         ("file", "not a directory"))]
    out += [Case("train: data files", (*t, "data=folder"), needle="data.path=<dir>"),
            Case("train: data files", (*t, "data=folder", f"data.path={fx['folder']}", "data.channels=2"),
                 needle="data.channels"),
            Case("train: data files", (*t, "data=ring8", "data.std=-1"), needle="data.std"),
            Case("train: data files", (*t, "data=folder", f"data.path={fx['gray16']}", "data.image_size=8",
                                       "data.channels=1", "trainer.steps=2", f"hydra.run.dir={fx['root']}/gray16_run"),
                 expect=0, trains=True)]
    out += [Case("train: run dirs", a, needle=n) for a, n in (
        (("train", *TINY, f"hydra.run.dir={r}"), "already holds a run"),
        (("train", *TINY, f"hydra.run.dir={f}/run"), "is a file"),
        (("train", *TINY, "hydra.run.dir=/sys/ganlab_run"), "cannot write"),
        (("train", "-m", *TINY, "seed=1,2", f"hydra.sweep.dir={fx['sweep']}"), "already holds another run"),
        (("train", "-m", *TINY, "seed=1,2", f"hydra.sweep.dir={f}"), "cannot write"),
        (("train", f"resume={fx['nowhere']}"), "checkpoints/"), (("train", f"resume={r}"), "trainer.steps=<M>"),
        (("train", f"resume={r}", "trainer.steps=30", "model=wgan"), "model=wgan"),
        (("train", f"resume={r}", "trainer.steps=30", "seed=3"), "seed=3"),
        (("train", "-m", f"resume={r}", "trainer.steps=30"), "-m/--multirun"),
        (("train", f"resume={r}", "trainer.steps=30", "optim.lr=-1"), "optim.lr"),
        (("train", f"resume={r}", "trainer.steps=30", "+sead=1"), "sead"),
        (("train", f"resume={fx['cifar_run']}", "trainer.steps=30"), "not a CIFAR-10 batch"))]
    out += [Case("train: resume a broken checkpoint", ("train", f"resume={fx[k]}", "trainer.steps=30"), needle=n)
            for k, n in (("ck_hostile", "not a ganlab checkpoint"), ("ck_truncated", "not a ganlab checkpoint"),
                         ("ck_bytes", "not a ganlab checkpoint"), ("ck_list", "not a ganlab checkpoint"),
                         ("ck_keys", "not a ganlab checkpoint"), ("ck_weights", "does not fit"),
                         ("ck_config", "config"), ("ck_step", "not a ganlab checkpoint"))]
    out += [Case("train: sweep", ("train", "-m", *TINY, "trainer.steps=2", "optim.lr=2e-4,-1",
                                  f"hydra.sweep.dir={fx['root']}/sweep_run"), needle="1 of 2 jobs done", trains=True)]
    s = ("sample", f"run={r}")
    out += [Case("sample", a, needle=n) for a, n in (
        (("sample",), "run=<value>"), (("sample", f"run={r}"), "out=<value>"),
        (("sample", f"run={fx['nowhere']}", "out=x.png"), "does not exist"),
        (("sample", f"run={f}", "out=x.png"), "does not exist"), (("sample", f"run={fx['empty']}", "out=x.png"), "no checkpoint"),
        ((*s, "out=x.jpg"), ".npz"), ((*s, "out=x"), ".npz"), ((*s, "out=.png"), ".npz"),
        ((*s, f"out={odd / 'x.png'}"), "is a directory"), ((*s, f"out={f}/x.png"), "is a file"),
        ((*s, "out=/sys/ganlab_x.png"), "cannot write"), ((*s, f"out={fx['root']}/{'n' * 300}.png"), "too long"),
        ((*s, "out=x.png", "n=0"), "n=0"), ((*s, "out=x.png", "n=-5"), "n=-5"), ((*s, "out=x.png", "n=many"), "n"),
        ((*s, f"out={fx['root']}/big.npz", "n=2000000000"), "free"),
        ((*s, f"out={fx['root']}/big.png", "n=2000000000"), "needs at least"),
        ((*s, "out=x.png", "device=tpu"), "device=tpu"), ((*s, "out=x.png", "label=3"), "not conditional"),
        (("sample", f"run={fx['cgan']}", "out=x.png", "label=10"), "0..9"),
        (("sample", f"run={fx['cgan']}", "out=x.png", "label=-1"), "label"),
        ((*s, "out=x.png", "checkpoint=nope"), "no checkpoint"), ((*s, "out=x.png", "checkpoint=best"), "best.pt"),
        ((*s, "out=x.png", "seed=-1"), "seed"), ((*s, "out=x.png", "count=3"), "count"), ((*s, "x.png"), "key=value"))]
    out += [Case("sample: broken checkpoint", ("sample", f"run={fx[k]}", "out=x.png"), needle=n)
            for k, n in (("ck_hostile", "not a ganlab checkpoint"), ("ck_truncated", "not a ganlab checkpoint"),
                         ("ck_bytes", "not a ganlab checkpoint"), ("ck_list", "not a ganlab checkpoint"),
                         ("ck_keys", "not a ganlab checkpoint"), ("ck_weights", "rebuild"), ("ck_config", "rebuild"),
                         ("ck_step", "not a ganlab checkpoint"))]
    if not _has_cuda():
        out.append(Case("sample", (*s, "out=x.png", "device=cuda"), needle="device=cpu"))
    out += [Case("sample: valid", a, expect=0, trains=True) for a in (
        (*s, f"out={fx['root']}/many.npz", "n=200000"), ("sample", f"run={fx['toy']}", f"out={fx['root']}/toy.png", "n=500"),
        ("sample", f"run={fx['cgan']}", f"out={fx['root']}/cgan.png", "n=30", "label=4"))]
    e = ("eval", f"run={r}")
    out += [Case("eval", a, needle=n) for a, n in (
        (("eval",), "run=<value>"), (("eval", f"run={fx['nowhere']}"), "does not exist"),
        ((*e, "n=1000000000"), "n=1000000000"), ((*e, "n=1"), "n=1"), ((*e, "n=lots"), "n"),
        ((*e, "device=tpu"), "device=tpu"), ((*e, "checkpoint=best"), "best.pt"), ((*e, "data.size=3"), "data.size"),
        ((*e, f"inception_weights={fx['inception_hostile']}"), "not the Inception weights"),
        ((*e, f"inception_weights={fx['inception_bytes']}"), "not the Inception weights"),
        ((*e, f"inception_weights={fx['nowhere']}"), "no such file"),
        ((*e, f"out={odd / 'm.json'}"), "is a directory"), ((*e, f"out={f}/m.json"), "is a file"),
        (("eval", f"run={fx['mnist_run']}"), "data.root=<dir>"), (("eval", f"run={fx['cifar_run']}"), "not a CIFAR-10 batch"),
        (("eval", f"run={fx['cifar_run']}", f"data.root={fx['cifar_hostile']}"), "not a CIFAR-10 batch"))]
    out += [Case("eval: broken checkpoint", ("eval", f"run={fx[k]}"), needle=n)
            for k, n in (("ck_hostile", "not a ganlab checkpoint"), ("ck_truncated", "not a ganlab checkpoint"),
                         ("ck_list", "not a ganlab checkpoint"), ("ck_weights", "rebuild"), ("ck_config", "rebuild"))]
    out += [Case("eval: valid", a, expect=0, trains=True) for a in (
        ("eval", f"run={fx['mnist_run']}", f"data.root={fx['mnist_moved']}", f"cache_dir={fx['root']}/cache"),
        ("eval", f"run={fx['toy']}", "n=500", f"out={fx['root']}/toy.json"))]
    out += [Case("report", a, needle=n) for a, n in (
        (("report",), "dir=<value>"), (("report", fx["nowhere"]), "not a directory"), (("report", f), "not a directory"),
        (("report", fx["empty"]), "no run dirs"), (("report", fx["sweep"], "foo=1"), "foo"),
        (("report", fx["sweep"], f"out={f}"), "not a folder"), (("report", fx["sweep"], f"out={f}/sub"), "is a file"),
        (("report", fx["sweep"], "out=/sys/ganlab_report"), "cannot write"))]
    out += [Case("report: broken files", ("report", fx[f"sweep_{k}"]), needle=n) for k, n in (
        ("metrics_json", "is not valid JSON"), ("metrics_list", "not a ganlab metrics file"),
        ("metrics_text", "not a ganlab metrics file"), ("best_json", "best.json"), ("overrides_yaml", "not valid YAML"),
        ("overrides_dict", "not a list"), ("status_json", "status"))]
    out += [Case("report: valid", ("report", fx["sweep"], f"out={fx['root']}/report"), expect=0)]
    out += [Case("cli", a, expect=x, needle=n) for a, x, n in (
        ((), 0, "usage"), (("trian",), 2, "unknown command"), (("--version",), 0, "ganlab"),
        (("train", "--cfg", "job", "model=wgan_gp"), 0, "wgan_gp"), (("train", "--help"), 0, "model:"),
        (("train", "--frobnicate"), 2, "unrecognized"), (("train", "model="), 2, "model"),
        (("train", "--config-dir", fx["nowhere"], "--cfg", "job"), 2, "config"))]
    return out + hostile_cases(fx, Case)


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
