"""A new part is one module and one YAML file, and what a part may differ in it declares.

A copy of ganlab gets the example parts of ``tests/example_parts/`` (a module each, and a YAML file each but for
the metric family), with nothing else edited: a residual MLP family declaring ``hidden`` with its own default and
range beside the MLP family's, a relativistic-average objective (no closed form, no per-sample G loss, no
estimate), a closed-form objective, a labelled image data set, a 2-D data set that is no image, and a metric
family that declares itself a headline. In the copy they compose, train together, and the tests that go over
every part of a kind (objectives, configs, layers, help, headlines) pass unedited."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from conftest import GANLAB

import ganlab

PACKAGE = Path(ganlab.__file__).resolve().parent
REPO = Path(__file__).resolve().parent.parent
EXAMPLES = Path(__file__).resolve().parent / "example_parts"
# every file the example parts add, by the kind of part: one module (and one YAML file) each
ADDED = {
    "network family": ["ganlab/models/resmlp.py", "configs/model/resmlp_gan.yaml"],
    "objective (relativistic average)": ["ganlab/objectives/ragan.py", "configs/objective/ragan.yaml"],
    "objective (closed form)": ["ganlab/objectives/ls_symmetric.py", "configs/objective/ls_symmetric.yaml"],
    "data set (labelled images)": ["ganlab/data/bars.py", "configs/data/bars.yaml"],
    "data set (points)": ["ganlab/data/spiral.py", "configs/data/spiral.yaml"],
    "metric family": ["ganlab/metrics/sliced.py"],
}
# the tests that go over every part of a kind, run unedited in the copy
EVERY_PART = ["tests/test_objectives.py", "tests/test_rpgan.py", "tests/test_config.py", "tests/test_layout.py",
              "tests/test_cli.py::test_train_help_is_hydras", "tests/test_eval.py::test_the_headline_metric_and_what_is_better"]
CHECKS = """
import json
from functools import partial
import torch
import ganlab
from omegaconf import OmegaConf
from ganlab.commands.compose import compose_config
from ganlab.errors import GanlabError
from ganlab.objectives import build_objective
from ganlab.theory import PAIRS, expected_d_loss, optimal_outputs, true_value

def model(*overrides):
    return OmegaConf.to_container(compose_config(list(overrides)).model)

out = {"at": ganlab.__file__, "resmlp": model("model=resmlp_gan"), "gan": model("model=gan", "model.hidden=4")}
try:
    model("model=resmlp_gan", "model.hidden=4")
except GanlabError as err:
    out["resmlp_hidden_4"] = str(err)
obj = build_objective("ls_symmetric")
out["closed_form"] = [(float(obj.estimate_from_d_loss(torch.tensor(expected_d_loss(obj, partial(optimal_outputs, obj, p, q), p, q)))),
                       true_value(obj, p, q)) for p, q in PAIRS.values()]
print(json.dumps(out))
"""


def copy_with_the_example_parts(tmp_path: Path) -> Path:
    """ganlab, its configs and its tests, with exactly the files of ADDED added."""
    tree = tmp_path / "tree"
    shutil.copytree(PACKAGE, tree / "ganlab", ignore=shutil.ignore_patterns("__pycache__", "configs"))
    shutil.copytree(PACKAGE / "configs" if (PACKAGE / "configs").is_dir() else REPO / "configs", tree / "configs")
    shutil.copytree(REPO / "tests", tree / "tests", ignore=shutil.ignore_patterns("__pycache__", "example_parts"))
    shutil.copy(REPO / "pyproject.toml", tree)
    examples = sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*") if p.is_file()
                      and "__pycache__" not in p.parts)
    assert examples == sorted(f for files in ADDED.values() for f in files)
    for rel in examples:
        assert not (tree / rel).exists()  # added, never an edit
        shutil.copy(EXAMPLES / rel, tree / rel)
    return tree


def test_new_parts_are_one_module_and_one_yaml_each_and_train_together(tmp_path):
    tree = copy_with_the_example_parts(tmp_path)
    # the copy first on the import path, the caller's after it (where its packages may come from)
    path = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}

    def run(*args: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    checks = json.loads(run(sys.executable, "-c", CHECKS).stdout.splitlines()[-1])
    assert checks["at"] == str(tree / "ganlab" / "__init__.py")  # the copy ran
    # the family's own hidden (default 48, at least 8) beside the MLP family's (its preset's 512, at least 1)
    assert (checks["resmlp"]["hidden"], checks["resmlp"]["blocks"]) == (48, 1) and "layers" not in checks["resmlp"]
    assert checks["gan"]["hidden"] == 4 and "blocks" not in checks["gan"]
    assert "model.hidden=4 is out of range: it must be >= 8" in checks["resmlp_hidden_4"]
    assert all(abs(estimate - truth) < 1e-4 for estimate, truth in checks["closed_form"])  # from its declarations

    fast = ["trainer.steps=30", "trainer.batch_size=32", "trainer.log_every=10", "trainer.progress=false", "eval.n=200",
            f"eval.cache_dir={tmp_path / 'cache'}"]
    bars, spiral = tmp_path / "bars", tmp_path / "spiral"
    run(GANLAB, "train", "model=resmlp_gan", "data=bars", *fast, f"hydra.run.dir={bars}")  # objective=ragan
    state = torch.load(bars / "checkpoints" / "last.pt", weights_only=True)
    assert (state["config"]["model"]["arch"], state["config"]["model"]["hidden"], state["config"]["objective"]) == (
        "resmlp", 48, {"name": "ragan"})
    metrics = json.loads((bars / "metrics.json").read_text())
    assert {"fid_classifier", "class_kl"} <= metrics.keys() and metrics["classifier_accuracy"] > 0.9  # bars are easy

    # model.arch=auto builds MLPs for the points the data set says it holds; the metric it declares ranks the run
    run(GANLAB, "train", "model=dcgan", "data=spiral", "objective=ls_symmetric", "model.mlp.hidden=16", "eval.every=10",
        *fast, f"hydra.run.dir={spiral}")
    state = torch.load(spiral / "checkpoints" / "last.pt", weights_only=True)
    assert "hidden" in state["config"]["model"] and "channels" not in state["config"]["model"]
    assert state["best"]["metric"] == "sliced_wasserstein" and (spiral / "checkpoints" / "best.pt").is_file()

    tests = run(sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *EVERY_PART, cwd=tree)
    for name in ("ragan", "ls_symmetric"):  # the objectives' own cases ran
        assert f"test_one_training_step_of_every_objective[{name}]" in tests.stdout
    assert "test_the_optimal_discriminator_attains_the_true_value[N(0,1)|N(1,1)-ls_symmetric]" in tests.stdout
    assert " failed" not in tests.stdout.splitlines()[-1]
