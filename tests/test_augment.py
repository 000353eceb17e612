"""The augmentations of ganlab/augment/: G's gradients flow through every op (gradient checks), each op does what
its paper says (shapes, ranges, what it leaves alone), ADA's p follows its rule on a D of fixed sign, and a
resumed run carries p on exactly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_trainer
from tiny_nets import LinearG
from torch import nn

from ganlab.augment import build_augment
from ganlab.augment.ada import COLOUR, GEOMETRIC, XINT
from ganlab.augment.base import Augment
from ganlab.augment.base import resample as affine_resample
from ganlab.augment.diffaugment import OPS, TRANSLATION
from ganlab.data import ImageTensors
from ganlab.objectives import build_objective, build_penalty
from ganlab.training.step import GANStep

pytestmark = pytest.mark.usefixtures("single_thread")


def seeded(fn, seed: int = 0):
    """``fn`` with the same random draws at every call (the gradient check evaluates it many times)."""

    def call(x):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return fn(x)

    return call


def one_op(part: str, op: str, p: float = 1.0):
    return build_augment({"name": part, "policy": op, **({"p": p} if part == "ada" else {})})


@pytest.mark.parametrize(("part", "op"), [("diffaugment", o) for o in OPS] + [("ada", o) for o in GEOMETRIC + COLOUR])
def test_gradients_flow_through_every_op(part, op):
    """Each op is differentiable with respect to the image (its Jacobian checked against finite differences, on
    colour images that are not square), and passes a gradient on: G learns through it."""
    aug = one_op(part, op)
    x = torch.randn(3, 3, 8, 6, dtype=torch.float64, requires_grad=True)
    f = seeded(aug.transform)
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-6, fast_mode=True)
    f(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("part", ["diffaugment", "ada"])
def test_every_op_is_differentiable_twice_as_r1_through_it_needs(part):
    """R1 on augmented reals takes the gradient of D's input gradient through the augmentation: each policy's
    Jacobian-vector products are checked against finite differences once more (gradgradcheck). ADA's resampling
    has its own twice-differentiable path (CUDA's grid_sample has none); on the CPU it must give what torch's
    grid_sample gives, forward and twice backward, to float64's last bits (the test failed on the GPU machine's
    torch 2.11 while it compared bit for bit; the failure's message was not seen)."""
    aug = build_augment({"name": part, **({"p": 1.0} if part == "ada" else {})})
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64, requires_grad=True)
    f = seeded(aug.transform)
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-6, atol=1e-6)
    if part == "ada":
        theta = torch.tensor([[[0.9, 0.3, 0.5], [-0.2, 1.1, -0.7]], [[1.2, -0.1, 0.0], [0.4, 0.8, 1.3]]],
                             dtype=torch.float64)
        grid = F.affine_grid(theta, [2, 3, 8, 6], align_corners=False)
        w = torch.randn(2, 3, 8, 6, dtype=torch.float64)
        outs = []
        for resample in (affine_resample, lambda a, g: F.grid_sample(a, g, padding_mode="reflection",
                                                                      align_corners=False)):
            y = resample(x, grid)
            (g,) = torch.autograd.grad((y * w).square().sum(), x, create_graph=True)
            (gg,) = torch.autograd.grad(g.square().sum(), x)
            outs.append((y, g, gg))
        for ours, torchs in zip(*outs, strict=True):
            torch.testing.assert_close(ours, torchs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("part", ["diffaugment", "ada"])
@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (5, 3, 32, 32), (5, 3, 12, 20)])
def test_every_policy_keeps_the_batch_shape_dtype_and_layout(part, shape):
    aug = build_augment({"name": part, **({"p": 1.0} if part == "ada" else {})})
    x = torch.rand(shape) * 2 - 1
    last = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the step calls it under autocast: it computes in fp32
        out, out_last = aug(x), aug(last)
    assert out.shape == x.shape and out.dtype == torch.float32 and out.is_contiguous()
    assert out_last.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(out, x)


def shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``x`` moved by (dy, dx) pixels (out[i, j] = x[i - dy, j - dx]), zero where nothing moved in."""
    h, w = x.shape[-2:]
    s = max(h, w)
    padded = F.pad(x, (s, s, s, s))
    return padded[..., s - dy : s - dy + h, s - dx : s - dx + w]


def test_diffaugment_translation_moves_by_whole_pixels_up_to_an_eighth_filling_zeros():
    x = torch.rand(200, 2, 16, 16) + 1  # no zero anywhere: the fill shows
    out = one_op("diffaugment", "translation").transform(x)
    s = int(16 * TRANSLATION + 0.5)
    seen = set()
    for xi, oi in zip(x, out, strict=True):
        found = [(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1) if torch.equal(oi, shifted(xi, dy, dx))]
        assert len(found) == 1
        seen.add(found[0])
    assert len(seen) == (2 * s + 1) ** 2  # every shift in range, uniformly drawn


def test_diffaugment_cutout_zeroes_one_square_of_half_the_side_clipped_at_the_border():
    x = torch.rand(300, 3, 16, 12) + 1
    out = one_op("diffaugment", "cutout").transform(x)
    full = 0
    for xi, oi in zip(x, out, strict=True):
        cut = oi[0] == 0
        assert torch.equal(cut, (oi == 0).all(0)) and torch.equal(oi[:, ~cut], xi[:, ~cut])
        rows, cols = cut.any(1).nonzero()[:, 0], cut.any(0).nonzero()[:, 0]
        assert cut.sum() == len(rows) * len(cols) > 0  # one rectangle
        assert len(rows) == 8 or rows.min() == 0 or rows.max() == 15  # the side, or clipped at the border
        assert len(cols) == 6 or cols.min() == 0 or cols.max() == 11
        full += int(len(rows) == 8 and len(cols) == 6)
    assert full > 50


def test_diffaugment_color_moves_brightness_and_contrast_and_leaves_grey_grey():
    x = torch.rand(500, 1, 8, 8) * 2 - 1
    out = one_op("diffaugment", "color").transform(x)
    a = out.flatten(1).std(1) / x.flatten(1).std(1)  # on one channel saturation does nothing: out = a x + b
    b = out.flatten(1).mean(1) - x.flatten(1).mean(1)
    assert torch.allclose(out, (x - x.mean((1, 2, 3), keepdim=True)) * a[:, None, None, None]
                          + (x.mean((1, 2, 3)) + b)[:, None, None, None], atol=1e-5)
    assert 0.5 <= a.min() < 0.55 and 1.45 < a.max() < 1.5 and -0.5 <= b.min() < -0.45 and 0.45 < b.max() < 0.5
    grey = torch.rand(50, 1, 8, 8).expand(50, 3, 8, 8)
    coloured = one_op("diffaugment", "color").transform(grey)
    assert torch.allclose(coloured, coloured[:, :1].expand_as(coloured), atol=1e-6)


def test_ada_at_p_zero_changes_nothing_and_its_blits_move_pixels_exactly():
    x = torch.rand(64, 3, 16, 16) * 2 - 1
    assert torch.allclose(build_augment({"name": "ada", "p": 0.0})(x), x, atol=1e-5)
    flips = one_op("ada", "xflip").transform(x)
    mirrored = [torch.allclose(o, xi.flip(-1), atol=1e-5) for o, xi in zip(flips, x, strict=True)]
    assert all(m or torch.allclose(o, xi, atol=1e-5) for m, o, xi in zip(mirrored, flips, x, strict=True))
    assert 15 < sum(mirrored) < 49  # half of them, as the paper flips
    turns = one_op("ada", "rotate90").transform(x)
    ks = [[k for k in range(4) if torch.allclose(o, torch.rot90(xi, k, (1, 2)), atol=1e-5)] for o, xi in zip(turns, x, strict=True)]
    assert all(len(k) == 1 for k in ks) and {k[0] for k in ks} == {0, 1, 2, 3}
    moved = one_op("ada", "xint").transform(x)
    s = round(XINT * 16)
    for o, xi in zip(moved, x, strict=True):  # inside the image (the border is mirrored in), a whole-pixel shift
        assert any(torch.allclose(o[:, max(dy, 0) : 16 + min(dy, 0), max(dx, 0) : 16 + min(dx, 0)],
                                  shifted(xi, dy, dx)[:, max(dy, 0) : 16 + min(dy, 0), max(dx, 0) : 16 + min(dx, 0)],
                                  atol=1e-5) for dy in range(-s, s + 1) for dx in range(-s, s + 1))


def test_ada_colour_ops_draw_the_papers_strengths_with_probability_p():
    x = torch.rand(4000, 1, 4, 4) + 0.5
    shift = (one_op("ada", "brightness").transform(x) - x).flatten(1)
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)  # one offset per image
    assert shift[:, 0].std() == pytest.approx(0.2, rel=0.06)
    ratio = (one_op("ada", "contrast").transform(x) / x).flatten(1)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-5)  # one factor per image
    assert ratio[:, 0].log2().std() == pytest.approx(0.5, rel=0.06)
    grey = x.expand(4000, 3, 4, 4)
    assert torch.allclose(one_op("ada", "saturation").transform(grey), grey, atol=1e-6)
    changed = (one_op("ada", "brightness", p=0.3).transform(x) != x).flatten(1).any(1).float().mean()
    assert float(changed) == pytest.approx(0.3, abs=0.03)


def test_ada_p_moves_by_its_rule_and_stops_at_the_ends():
    """Every ``interval`` steps p moves by sign(r_t - target) * images / speed, clamped to [0, 1]."""
    ada = build_augment({"name": "ada", "target": 0.6, "speed": 1000, "interval": 2, "p": 0.5})
    seen = []
    for signs in [100] * 6 + [-100] * 4 + [60] * 2:  # r_t = 1, then -1, then the target (of 100 images a step)
        ada.observe(torch.tensor(float(signs)), 100)
        seen.append(float(ada.p))
    assert seen == pytest.approx([0.5, 0.7, 0.7, 0.9, 0.9, 1.0, 1.0, 0.8, 0.8, 0.6, 0.6, 0.6])


class SignedD(nn.Module):
    """A D whose every output has one sign, whatever it learns."""

    def __init__(self, sign: float):
        super().__init__()
        self.sign, self.w = sign, nn.Linear(64, 1)

    def forward(self, x, y=None):
        return self.sign * (1 + F.softplus(self.w(x.flatten(1)))).view(-1)


@pytest.mark.parametrize(("sign", "expected"), [(1.0, [0.0, 0.2, 0.2, 0.4, 0.4, 0.6]), (-1.0, [0.5, 0.3, 0.3, 0.1, 0.1, 0.0])])
def test_the_step_moves_ada_p_toward_the_target_on_a_d_of_fixed_sign(sign, expected):
    """D always says real (r_t = 1 > 0.6): p rises by 32 / 160 every second step; always fake: it falls."""
    torch.manual_seed(0)
    G, D = LinearG(1, 8, 8, squash=True), SignedD(sign)
    data = ImageTensors("tiny", torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8), None)
    ada = build_augment({"name": "ada", "target": 0.6, "speed": 160, "interval": 2, "p": 0.0 if sign > 0 else 0.5})
    step = GANStep(G, D, torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters()),
                   build_objective("non_saturating"), build_penalty("r1"), n_critic=2, batch_size=8, augment=ada)
    seen = []
    for _ in range(6):
        stats, _ = step(data)
        assert float(stats["Augment/rt"]) == sign
        seen.append(float(stats["Augment/p"]))
    assert seen == pytest.approx(expected, abs=1e-6)


def test_a_resumed_run_carries_p_on_exactly(tmp_path: Path):
    """p and the interval's sums are in the checkpoint; a run resumed at step 10 ends with the p of the run that
    was not stopped, bit for bit, and the same generator."""
    common = ["model=dcgan", "data=digits", "augment=ada", "augment.speed=2000", "augment.interval=3",
              "augment.p=0.5", "trainer.ckpt_every=10", "eval.at_end=false"]
    whole = tiny_trainer(tmp_path / "whole", *common)
    whole.fit()
    saved = torch.load(tmp_path / "whole" / "checkpoints" / "step_0000010.pt", weights_only=True)
    assert saved["gan_step"]["augment"]["p"] != 0.5  # it moved before the checkpoint
    from ganlab.training.loop import Trainer

    resumed = Trainer(whole.cfg, tmp_path / "resumed", resume_state=saved)
    assert torch.equal(resumed.augment.p, saved["gan_step"]["augment"]["p"])
    resumed.fit()
    assert torch.equal(resumed.augment.p, whole.augment.p) and float(whole.augment.p) != float(saved["gan_step"]["augment"]["p"])
    for a, b in zip(resumed.G.parameters(), whole.G.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert not math.isclose(float(whole.augment.p), 0.5)


def test_a_policy_is_a_list_or_a_quoted_comma_separated_string():
    """``augment.policy=[color,cutout]`` and ``augment.policy='color,cutout'`` (Hydra reads an unquoted comma as a
    sweep) name the same ops; a part's own key is set under its name as well."""
    from ganlab.commands.compose import compose_config

    spellings = ["augment.policy=[color,cutout]", "augment.policy='color,cutout'", "augment.diffaugment.policy=[color,cutout]"]
    built = [build_augment(compose_config(["augment=diffaugment", s]).augment) for s in spellings]
    assert all(b.ops == ("color", "cutout") for b in built)
    assert build_augment(compose_config(["augment=ada"]).augment).ops == GEOMETRIC + COLOUR


class Marking(Augment):
    """An augmentation that moves every image far out of [-1, 1], so that D can tell what went through it."""

    name, identity = "marking", False

    def transform(self, x):
        return x + 10


class RecordingD(nn.Module):
    def __init__(self):
        super().__init__()
        self.w, self.seen = nn.Linear(64, 1), []

    def forward(self, x, y=None):
        self.seen.append(float(x.detach().min()))
        return self.w(x.flatten(1)).view(-1)


@pytest.mark.parametrize(("objective", "penalty"), [("non_saturating", "r1"), ("rpgan", "r1r2"), ("wasserstein", "gp")])
def test_d_sees_only_augmented_images_in_every_evaluation(objective, penalty):
    """The D phase's real and fake batches, the G phase's fakes, a relativistic objective's real batch and the
    penalty's points all reach D through the augmentation."""
    torch.manual_seed(0)
    G, D = LinearG(1, 8, 8, squash=True), RecordingD()
    data = ImageTensors("tiny", torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8), None)
    step = GANStep(G, D, torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters()), build_objective(objective),
                   build_penalty(penalty), n_critic=2, batch_size=8, augment=Marking())
    step(data)
    calls = 2 * 2 + 2 * (2 if penalty == "r1r2" else 1) + 1 + (objective == "rpgan")
    assert len(D.seen) == calls and min(D.seen) >= 9
