"""The code's shape: imports point down the layers, and a new part is one module plus one YAML file."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import ganlab
from ganlab.objectives.theory import PAIRS

PACKAGE = Path(ganlab.__file__).resolve().parent
REPO = PACKAGE.parent

# each unit of ganlab/ (its first-level module or folder) and its layer; a unit may import lower layers only
# (the foundations may import each other; no two parts of one layer above them may)
LAYERS = {
    "errors": 0, "registry": 0, "console": 0, "figures": 0, "files": 0, "shares": 0, "memory": 0,
    "config": 1,
    "data": 2, "models": 2, "objectives": 2,
    "runs": 3,
    "metrics": 4,
    "training": 5,
    "commands": 6, "cli": 6, "__main__": 6, "__init__": 6,
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every ganlab module ``path`` imports, with its line: top-level and inside functions alike."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.startswith("ganlab.")]
    return out


def unit(module: str) -> str:
    return module.split(".")[1]


def test_every_import_points_down_a_layer():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        here = rel.parts[0].removesuffix(".py")
        assert here in LAYERS, f"{rel}: a new unit of ganlab/ needs its place in LAYERS"
        for line, target in imports_of(path):
            there = unit(target)
            allowed = there == here or LAYERS[there] < LAYERS[here] or (LAYERS[here] in (0, 6) and LAYERS[there] == LAYERS[here])
            if not allowed:
                bad.append(f"ganlab/{rel}:{line} imports {target} (layer {LAYERS[there]} from layer {LAYERS[here]})")
    assert not bad, "\n".join(bad)


def test_no_module_is_longer_than_about_300_lines():
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 320}
    assert not long, long


# ------------------------------------------------------------------------------------------ adding a part
MODEL = '''
"""A tiny network family: one hidden layer of ``model.width`` units (a test's example part)."""
from dataclasses import dataclass
from torch import nn
from ganlab.models import NETWORKS, Networks
from ganlab.models.mlp import MLPDiscriminator, MLPGenerator

@dataclass
class TinyParams:
    width: int = 8

@NETWORKS.register("tiny", params=TinyParams)
class Tiny(Networks):
    @classmethod
    def build(cls, cfg, spec, num_classes):
        tanh = spec.kind == "image"
        G = MLPGenerator(cfg.z_dim, spec.shape, cfg.width, 1, "none", num_classes, tanh=tanh)
        return G, MLPDiscriminator(spec.shape, cfg.width, 1, "none", num_classes)
'''
MODEL_YAML = """# @package _global_
defaults:
  - override /objective: non_saturating
model:
  name: tiny_gan
  arch: tiny
  width: 12
"""
OBJECTIVE = '''
"""Least squares with targets -1 and 1 (Mao et al. 2017, a = -1, b = 1, c = 0) (a test's example part)."""
import torch
from ganlab.objectives import OBJECTIVES
from ganlab.objectives.base import Objective

@OBJECTIVES.register("ls_symmetric")
class SymmetricLeastSquares(Objective):
    name = "ls_symmetric"
    divergence = "triangular"  # D's loss at its optimum is (2 - Delta) / 2
    estimate_tag = "Divergence/triangular"

    def loss_real(self, out):
        return 0.5 * (out - 1.0).square()

    def loss_fake(self, out):
        return 0.5 * (out + 1.0).square()

    def g_loss(self, fake):
        return 0.5 * fake.sub(1.0).square().mean()

    def estimate_from_d_loss(self, d_loss):
        return 2.0 - 2.0 * d_loss

    def optimal_output(self, log_ratio):
        return torch.tanh(log_ratio / 2)  # (p - q) / (p + q)
'''
DATASET = '''
"""Bars: 8x8 images of a vertical bar whose column is the class, 4 classes (a test's example part)."""
import torch
from ganlab.data import DATASETS
from ganlab.data.base import ImageTensors

@DATASETS.register("bars")
def load_bars(cfg):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(120) % 4
    images = torch.randint(0, 30, (120, 1, 8, 8), generator=g, dtype=torch.uint8)
    for i, y in enumerate(labels.tolist()):
        images[i, 0, :, 2 * y : 2 * y + 2] = 255
    return ImageTensors("bars", images, labels, 4, classified=True)
'''
THEORY = """
from ganlab.objectives import build_objective
from ganlab.objectives.theory import PAIRS, expected_d_loss, optimal_outputs, true_value
from functools import partial
import torch
obj = build_objective("ls_symmetric")
for p, q in PAIRS.values():
    d = expected_d_loss(obj, partial(optimal_outputs, obj, p, q), p, q)
    est, truth = float(obj.estimate_from_d_loss(torch.tensor(d))), true_value(obj, p, q)
    assert abs(est - truth) < 1e-4, (est, truth)
    print(f"{est:.6f} {truth:.6f}")
"""


def test_a_model_an_objective_and_a_labelled_dataset_are_one_module_and_one_yaml_each(tmp_path):
    """A copy of ganlab with exactly three modules and three YAML files added, nothing else edited: the new
    network family, objective and data set train together, the data set gets classifier metrics, and the
    objective's closed-form check comes from its own declarations."""
    tree = tmp_path / "tree"
    shutil.copytree(PACKAGE, tree / "ganlab", ignore=shutil.ignore_patterns("__pycache__", "configs"))
    shutil.copytree(PACKAGE / "configs" if (PACKAGE / "configs").is_dir() else REPO / "configs", tree / "configs")
    added = {
        "ganlab/models/tiny.py": MODEL, "configs/model/tiny_gan.yaml": MODEL_YAML,
        "ganlab/objectives/ls_symmetric.py": OBJECTIVE, "configs/objective/ls_symmetric.yaml": "name: ls_symmetric\n",
        "ganlab/data/bars.py": DATASET, "configs/data/bars.yaml": "name: bars\n",
    }
    for rel, text in added.items():
        (tree / rel).write_text(textwrap.dedent(text).lstrip())
    # the copy first on the import path, the caller's after it (where its packages may come from)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    run = tmp_path / "run"
    train = ["train", "model=tiny_gan", "objective=ls_symmetric", "data=bars", "trainer.steps=30", "trainer.batch_size=32",
             "trainer.log_every=10", "trainer.progress=false", "eval.n=200", f"eval.cache_dir={tmp_path / 'cache'}",
             f"hydra.run.dir={run}"]
    # one process: which ganlab it imports, the objective's closed-form check, then `ganlab train`
    code = f"import sys, ganlab\nprint('ganlab at', ganlab.__file__)\n{THEORY}\nfrom ganlab.cli import main\nsys.exit(main({train!r}))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ganlab at {tree}" in proc.stdout  # the copy ran
    checked = [line for line in proc.stdout.splitlines() if re.fullmatch(r"-?\d+\.\d{6} -?\d+\.\d{6}", line)]
    assert len(checked) == len(PAIRS), proc.stdout  # the closed-form check: estimate and truth on each pair
    config = (run / ".hydra" / "config.yaml").read_text()
    assert "arch: tiny" in config and "width: 12" in config and "name: ls_symmetric" in config
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    assert {"fid_classifier", "class_kl", "classifier_accuracy"} <= metrics.keys()
    assert metrics["classifier_accuracy"] > 0.9  # the bars are easy to tell apart
