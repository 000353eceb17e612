"""The second part of the bad-input table (tests/bad_input_cases.py): files that are links, configs that
instantiate, names that become paths, runs stopped before they finished, and what issue 27 found beyond them.
:func:`build_hostile` makes the files these cases use (beside the first part's fixtures); :func:`hostile_cases`
is the table's part. A hostile config's payload creates the table's marker file if it runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

TINY = ["trainer.steps=20", "trainer.batch_size=16", "trainer.log_every=5", "trainer.sample_every=10",
        "trainer.ckpt_every=10", "trainer.progress=false", "model.mlp.hidden=32", "model.conv.channels=8", "model.z_dim=16",
        "eval.n=200", "eval.at_end=false"]
PINNED = ["model=gan", "data=digits", "device=cpu", "device.precision=fp32"]  # alike in- and out of process
EXPERIMENTS = {  # --config-dir <root>/mine: +experiment=<name>
    "callback_open": {"hydra": {"callbacks": {"x": {"_target_": "builtins.open", "file": "{marker}", "mode": "w"}}}},
    "callback_torch_load": {"hydra": {"callbacks": {"x": {"_target_": "torch.load", "f": "{pickle}",
                                                          "weights_only": False}}}},
    "callback_nested": {"hydra": {"callbacks": {"ganlab": {"_target_": "ganlab.commands.jobs.Jobs",
                                                           "x": {"_target_": "builtins.open", "file": "{marker}",
                                                                 "mode": "w"}}}}},
    "logging_factory": {"hydra": {"job_logging": {"handlers": {"file": {"()": "builtins.open", "file": "{marker}",
                                                                        "mode": "w"}}}}},
    "logging_file": {"hydra": {"job_logging": {"handlers": {"file": {"class": "logging.FileHandler",
                                                                     "filename": "{marker}", "mode": "w"}}}}},
    "env_preload": {"hydra": {"job": {"env_set": {"LD_PRELOAD": "{marker}"}}}},
    "fine": {"trainer": {"steps": 77}},
}


def _filled(tree: object, values: dict[str, str]) -> object:
    """``tree`` with ``{name}`` placeholders in its strings filled from ``values``."""
    if isinstance(tree, dict):
        return {k: _filled(v, values) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_filled(v, values) for v in tree]
    return tree.format(**values) if isinstance(tree, str) else tree


def yaml_text(tree: dict, **values: str) -> str:
    import yaml

    return yaml.safe_dump(_filled(tree, values))


def _write_yaml(path: Path, tree: dict, **values: str) -> None:
    """``tree`` as a YAML file of the global package."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# @package _global_\n" + yaml_text(tree, **values))


def _copy(run: str, to: Path) -> Path:
    shutil.copytree(run, to, symlinks=True)
    return to


def build_hostile(root: Path, fx: dict[str, str], train: Callable[[list[str]], object], marker: Path) -> None:
    """The files of :func:`hostile_cases`, under ``root``; ``fx`` holds the first part's (a trained ``run``)."""
    from corrupt_files import hostile_checkpoint

    hostile_checkpoint(root / "hostile.pickle", marker)
    for name, tree in EXPERIMENTS.items():
        _write_yaml(root / "mine" / "experiment" / f"{name}.yaml", tree, marker=str(marker),
                    pickle=str(root / "hostile.pickle"))
    launcher = {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
                "n_jobs": {"_target_": "builtins.open", "file": "{marker}", "mode": "w"}}  # built before the plugin
    (root / "mine" / "hydra" / "launcher").mkdir(parents=True)
    (root / "mine" / "hydra" / "launcher" / "evil.yaml").write_text(yaml_text(launcher, marker=str(marker)))
    fx["mine"] = str(root / "mine")
    precious = root / "precious.txt"
    precious.write_text("a file elsewhere that a link in a run dir points to\n")
    fx["precious"] = str(precious)
    for name, inside in (("link_lock", ".ganlab.lock"), ("link_status", "status.json"), ("link_ckpt", "checkpoints"),
                         ("link_log", "train.log")):
        run = _copy(fx["run"], root / name)
        target = run / inside
        if target.is_dir():
            shutil.move(target, root / f"{name}_moved")
            target.symlink_to(root / f"{name}_moved", target_is_directory=True)
        else:
            target.unlink(missing_ok=True)
            target.symlink_to(precious)
        fx[name] = str(run)
    # a run killed (SIGKILL) in its last evaluation: last.pt at the last step, status still "running", no metrics
    killed = _copy(fx["run"], root / "killed_in_eval")
    (killed / "status.json").write_text(json.dumps({"status": "running", "pid": 2**22 + 1, "step": 0}))
    (killed / "metrics.json").unlink(missing_ok=True)
    fx["killed_in_eval"] = str(killed)
    # a run stopped (SIGTERM) before its first step: Hydra's files, no checkpoint
    early = root / "stopped_early"
    (early / ".hydra").mkdir(parents=True)
    shutil.copy(Path(fx["run"]) / ".hydra" / "config.yaml", early / ".hydra" / "config.yaml")
    (early / "status.json").write_text(json.dumps({"status": "running", "pid": 2**22 + 1, "step": 0}))
    fx["stopped_early"] = str(early)
    fx["run_comma"] = str(_copy(fx["run"], root / "run,with 'odd' name"))
    # a sweep whose finished job holds a metrics.json that is not an object, re-run (resume=auto)
    train([*TINY, *PINNED, f"hydra.run.dir={root / 'pinned'}"])
    job = _copy(str(root / "pinned"), root / "sweep_rerun" / "0_gan_digits")
    (job / "metrics.json").write_text("[1, 2, 3]")
    (job / "status.json").write_text(json.dumps({"status": "done", "pid": 2**22 + 1, "step": 20}))
    fx["sweep_rerun"] = str(root / "sweep_rerun")
    # sweeps for `ganlab report`: a metric that is a boolean, an Optuna record with an alias bomb or a Python tag
    for name, write in (
        ("sweep_bool", lambda s: (s / "1_gan_digits" / "metrics.json").write_text('{"step": 20, "fid_classifier": true}')),
        ("sweep_aliases", lambda s: (s / "optimization_results.yaml").write_text(
            'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(  # 9^5 strings from 6 lines (9^9 as easily)
                f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcd", "bcde", strict=True))
            + "best_params: {optim.lr: 0.001}\nbest_value: *e\n")),
        ("sweep_tag", lambda s: (s / "optimization_results.yaml").write_text(
            f"best_params: !!python/object/apply:builtins.open ['{marker}', 'w']\nbest_value: 1.0\n")),
        ("sweep_report_link", lambda s: (s / "report.md").symlink_to(precious)),
    ):
        sweep = root / name
        for i, lr in enumerate(("1e-4", "1e-3")):
            job = _copy(fx["run"], sweep / f"{i}_gan_digits")
            (job / ".hydra" / "overrides.yaml").write_text(f"- optim.lr={lr}\n- model=gan\n")
            (job / "metrics.json").write_text(json.dumps({"step": 20, "fid_classifier": 10.0 + i}))
        write(sweep)
        fx[name] = str(sweep)


def hostile_cases(fx: dict[str, str], case: Callable[..., object]) -> list:
    """The table's second part: ``case(group, args, expect=2, needle="", trains=False)`` makes each row."""
    r, t, mine = fx["run"], ("train", *TINY), fx["mine"]
    out = [case("train: hostile configs", (*t, "--config-dir", mine, f"+experiment={name}"), needle=needle)
           for name, needle in (("callback_open", "_target_=builtins.open"), ("callback_torch_load", "torch.load"),
                                ("callback_nested", "hydra.callbacks.ganlab.x._target_"),
                                ("logging_factory", "'()' factory"), ("logging_file", "log file goes into the run"),
                                ("env_preload", "LD_PRELOAD"))]
    out += [case("train: hostile configs", a, needle=n) for a, n in (
        (("train", "-m", *TINY, "--config-dir", mine, "hydra/launcher=evil"), "hydra.launcher.n_jobs._target_"),
        (("train", "--experimental-rerun", str(Path(fx["root"]) / "hostile.pickle")), "unpickles"),
        (("train", "-cn", "train", *TINY), "composes its own config"),
        ((*t, "+hydra.callbacks.x._target_=builtins.print"), "may instantiate only"),
        ((*t, "hydra/sweeper=optuna", "hydra.sweeper.custom_search_space=os.system"), "custom_search_space"))]
    out += [case("train: names that become paths", (*t, *a.split()), needle=n) for a, n in (
        ("model.name=x/../../escape", "is not a name"), ("hydra.job.name=../../x", "hydra.job.name"),
        ("hydra.output_subdir=../../x", "hydra.output_subdir"), ("hydra.run.dir=", "hydra.run.dir is empty"),
        ("-m hydra.sweep.subdir=../x", "climbs out"), ("-m model.name=a,b/c", "'b/c' is not a name"))]
    out += [case("train: interpolations", (*t, *a.split()), needle=n) for a, n in (
        ("seed=${nope}", "'nope' not found"), ("seed=${oc.env:GANLAB_NO_SUCH_VARIABLE}", "GANLAB_NO_SUCH_VARIABLE"),
        ("-m seed=1,${nope}", "'nope' not found"), ("trainer.steps=${seed}0${nope}", "nope"))]
    out += [case("train: links in run dirs", ("train", f"resume={fx[k]}", "trainer.steps=30"), needle=n)
            for k, n in (("link_lock", "is a symbolic link"), ("link_status", "status.json is a symbolic link"),
                         ("link_ckpt", "checkpoints is a symbolic link"), ("link_log", "train.log is a symbolic link"))]
    out += [case("train: stopped runs", a, expect=0, needle=n, trains=True) for a, n in (
        (("train", f"resume={fx['killed_in_eval']}"), "finishing the run"),
        (("train", f"resume={fx['stopped_early']}", "trainer.steps=5"), "starting it again from step 0"),
        (("train", f"resume={fx['run_comma']}", "trainer.steps=22"), "resuming at step 20"),
        (("train", "-m", *TINY, *PINNED, f"hydra.sweep.dir={fx['sweep_rerun']}"), "nothing to train"),
        (("train", f"--config-dir={mine}", "+experiment=fine", "--cfg", "job"), "steps: 77"))]
    out += [case("train: more", ("train", *a.split(), *TINY, *b.split()), needle=n, trains=True) for a, b, n in (
        ("", "hparams_search=gan_grid25", "add -m"), ("", "model=gan model.g_norm=batch trainer.batch_size=1", "at least 2"),
        ("-m", f"eval.at_end=true hparams_search=gan_grid25 hydra.sweeper.n_trials=2 data.std=1e30 "
               f"hydra.sweep.dir={fx['root']}/optuna", "no trial of the search completed"))]
    s = ("sample", f"run={r}", "out=x.png")
    out += [case("sample, interpolate, arithmetic", a, needle=n) for a, n in (
        ((*s, f"checkpoint=../../{Path(fx['cgan']).name}/checkpoints/last"), "checkpoint='../../"),
        ((*s, "seed=${nope}"), "seed=${nope}"), ((*s, "n=${oc.env:GANLAB_NO_SUCH_VARIABLE}"), "GANLAB_NO_SUCH"),
        (("interpolate", f"run={r}", "out=x.png", "n=100000000"), "needs at least"),
        (("interpolate", f"run={r}", "out=x.png", "steps=1000000000"), "needs at least"),
        (("interpolate", f"run={r}", "out=x.png", "seed=-1"), "seed=-1"),
        (("interpolate", f"run={r}", "out=x.png", "seed=99999999999999999999"), "seed="),
        (("arithmetic", f"run={r}", "out=x.png", "a=1", "b=2", "c=3", "n=10000000000"), "n=10000000000"),
        (("arithmetic", f"run={r}", "out=x.png", "a=1", "b=2", "c=3", "n=2000000000"), "needs at least"),
        (("eval", f"run={r}", "checkpoint=../x"), "not a name"))]
    out += [case("report: hostile files", ("report", fx[k]), needle=n) for k, n in (
        ("sweep_bool", "not a ganlab metrics file"), ("sweep_aliases", "alias"), ("sweep_tag", "python/object"))]
    out += [case("report: hostile files", ("report", fx["sweep_report_link"]), expect=0, needle="report.md")]
    return out
