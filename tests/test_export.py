"""Taking a generator away: its exports (ONNX, torch.export, safetensors) give its images, ganlab.load_generator
rebuilds it, and its latent space is walked (ganlab interpolate) and added up (ganlab arithmetic)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ganlab_cli, read_image_tags, run_ganlab, tiny_trainer

import ganlab
from ganlab.errors import GanlabError
from ganlab.figures import NUMBER_PX
from ganlab.runs.export import export_generator
from ganlab.runs.latent import concept_vector, latents, lerp, neighbours, slerp, walks

pytestmark = pytest.mark.usefixtures("single_thread")
TOLERANCE = 1e-4  # max abs difference of an export's samples from the PyTorch generator's (fp32)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One tiny run of each model kind: MLP (gan on 2-D points), convolutional (dcgan), conditional (cgan)."""
    tmp = tmp_path_factory.mktemp("kinds")
    tiny_trainer(tmp / "mlp", "model=gan", "data=grid25", "eval.at_end=false").fit()
    for model in ("dcgan", "cgan"):
        tiny_trainer(tmp / "images" / model, f"model={model}", "data=digits", "eval.at_end=false", "model.ema=0").fit()
    return {"mlp": tmp / "mlp", "conv": tmp / "images" / "dcgan", "conditional": tmp / "images" / "cgan"}


def inputs(G: torch.nn.Module, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    z = latents(n, G.z_dim, seed=n)
    return z, (torch.arange(n) % G.num_classes if G.num_classes else None)


# ------------------------------------------------------------------------------------------ the latent space
def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    a, b = torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0]])
    t = torch.tensor([0.0, 0.5, 1.0])
    s, line = slerp(a, b, t)[0], lerp(a, b, t)[0]
    assert torch.allclose(s[0], a[0]) and torch.allclose(s[2], b[0])
    assert torch.allclose(s[1], torch.tensor([1.0, 1.0, 0.0]) / math.sqrt(2))  # on the unit circle, halfway
    assert torch.allclose(line[1], torch.tensor([0.5, 0.5, 0.0]))  # norm 1/sqrt(2)
    assert torch.allclose(slerp(a, 3 * a, t)[0], lerp(a, 3 * a, t)[0])  # parallel: the straight line
    assert walks(latents(4, 16, 0), latents(4, 16, 1), 7).shape == (4, 7, 16)


def test_arithmetic_is_the_mean_of_a_minus_b_plus_c_amid_bounded_neighbours():
    z = torch.arange(12.0).view(6, 2)  # rows (0,1), (2,3), ...
    y = concept_vector(z, [0, 1], [2], [4, 5])
    assert y.tolist() == [(0 + 2) / 2 - 4 + (8 + 10) / 2, (1 + 3) / 2 - 5 + (9 + 11) / 2]
    around = neighbours(y, seed=0)
    assert around.shape == (9, 2) and torch.equal(around[4], y)
    assert 0 < (around - y).abs().max() <= 0.25
    assert torch.equal(around, neighbours(y, seed=0))


# ------------------------------------------------------------------------------------------ export
@pytest.mark.parametrize("kind", ["mlp", "conv", "conditional"])
def test_exports_give_the_generators_samples(runs, kind, tmp_path):
    import onnxruntime

    G = ganlab.load_generator(runs[kind])
    for suffix in (".onnx", ".pt2", ".safetensors"):
        export_generator(G, tmp_path / f"g{suffix}")
    session = onnxruntime.InferenceSession(str(tmp_path / "g.onnx"))
    program = torch.export.load(tmp_path / "g.pt2").module()
    rebuilt = ganlab.load_generator(tmp_path / "g.safetensors")
    for n in (1, 5):  # not the batch the export traced with (2): the batch axis is dynamic
        z, y = inputs(G, n)
        with torch.no_grad():
            expected = G(z, y)
            feed = {"z": z.numpy()} | ({"label": y.numpy()} if y is not None else {})
            onnx_out = torch.from_numpy(session.run(None, feed)[0])
            pt2_out = program(z, y) if y is not None else program(z)
            assert (onnx_out - expected).abs().max() <= TOLERANCE
            assert (pt2_out - expected).abs().max() <= TOLERANCE
            assert torch.equal(rebuilt(z, y), expected)
    assert expected.shape == ((5, 2) if kind == "mlp" else (5, 1, 8, 8))
    assert (rebuilt.weights, rebuilt.step, rebuilt.num_classes) == ("raw", 20, G.num_classes)


def test_export_command_writes_files_that_plain_torch_and_onnxruntime_run(runs, tmp_path, capsys):
    import onnxruntime

    run = runs["conditional"]
    proc = run_ganlab("export", f"run={run}", f"out={tmp_path / 'g.onnx'}")
    assert "the raw generator of" in proc.stdout and "at step 20" in proc.stdout and "EMA" not in proc.stdout
    for suffix in (".pt2", ".safetensors"):  # the same command in this process
        ganlab_cli(capsys, "export", f"run={run}", f"out={tmp_path / 'g'}{suffix}")
    G = ganlab.load_generator(run)
    z, y = inputs(G, 6)
    np.save(tmp_path / "z.npy", z.numpy())
    np.save(tmp_path / "y.npy", y.numpy())
    plain_torch = (  # ganlab cannot be imported here
        "import sys; sys.modules['ganlab'] = None; import numpy as np, torch; d = sys.argv[1]; "
        "p = torch.export.load(f'{d}/g.pt2').module(); "
        "x = p(torch.from_numpy(np.load(f'{d}/z.npy')), torch.from_numpy(np.load(f'{d}/y.npy'))); "
        "np.save(f'{d}/x.npy', x.detach().numpy())")
    subprocess.run([sys.executable, "-c", plain_torch, str(tmp_path)], check=True, capture_output=True, timeout=120)
    session = onnxruntime.InferenceSession(str(tmp_path / "g.onnx"))
    with torch.no_grad():
        expected = G(z, y)
    assert (torch.from_numpy(np.load(tmp_path / "x.npy")) - expected).abs().max() <= TOLERANCE
    onnx_out = session.run(None, {"z": z.numpy(), "label": y.numpy()})[0]
    assert (torch.from_numpy(onnx_out) - expected).abs().max() <= TOLERANCE
    assert [i.name for i in session.get_inputs()] == ["z", "label"]
    assert "ganlab" in session.get_modelmeta().custom_metadata_map
    assert torch.equal(ganlab.load_generator(tmp_path / "g.safetensors").sample(10, seed=3), G.sample(10, seed=3))


# ------------------------------------------------------------------------------------------ the Python API
def test_load_generator_samples_as_the_sample_command_does(runs, tmp_path, capsys):
    run = runs["conditional"]
    # 2,100 samples: `ganlab sample` draws them in chunks of 1,024, load_generator in one go
    ganlab_cli(capsys, "sample", f"run={run}", "n=2100", "seed=4", "device=cpu", f"out={tmp_path / 's.npz'}")
    G = ganlab.load_generator(str(run), device="cpu")
    assert isinstance(G, torch.nn.Module) and not G.training
    arrays = np.load(tmp_path / "s.npz")
    assert np.array_equal(G.sample(2100, seed=4).numpy(), arrays["samples"])  # the same latents, labels and net
    assert np.array_equal(G.labels_for(2100, None).numpy(), arrays["labels"])
    sevens = G.sample(3, labels=7, seed=0)
    assert torch.equal(sevens, G.sample(3, labels=[7, 7, 7], seed=0)) and sevens.shape == (3, 1, 8, 8)
    assert not torch.equal(sevens, G.sample(3, labels=1, seed=0))
    with pytest.raises(GanlabError, match="out of range"):
        G.sample(2, labels=10)
    with pytest.raises(GanlabError, match="not conditional"):
        ganlab.load_generator(runs["mlp"]).sample(2, labels=1)
    assert ganlab.load_generator(runs["mlp"]).sample(3).shape == (3, 2)
    best = ganlab.load_generator(run / "checkpoints" / "step_0000010.pt")
    assert best.step == 10 and not torch.equal(best.sample(4, seed=0), G.sample(4, seed=0))
    for bad in (tmp_path / "g.pt2", tmp_path / "g.onnx", tmp_path / "missing"):
        with pytest.raises(GanlabError, match="run dir"):
            ganlab.load_generator(bad)


def test_ema_weights_by_default_raw_on_request(runs, tmp_path, capsys):
    """A checkpoint holding the EMA generator (G_ema): it is the default everywhere; weights=raw gives G."""
    run = tmp_path / "ema_run"
    (run / "checkpoints").mkdir(parents=True)
    state = torch.load(runs["conv"] / "checkpoints" / "last.pt", weights_only=True)
    gen = torch.Generator().manual_seed(0)
    state["G_ema"] = {k: v + 0.05 * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
                      for k, v in state["G"].items()}
    torch.save(state, run / "checkpoints" / "last.pt")
    z = latents(4, 16)
    ema, raw = ganlab.load_generator(run), ganlab.load_generator(run, weights="raw")
    assert (ema.weights, raw.weights) == ("ema", "raw")
    assert all(torch.equal(v, state["G_ema"][k]) for k, v in ema.net.state_dict().items())
    assert torch.equal(ganlab.load_generator(run, weights="ema")(z), ema(z))
    assert torch.equal(raw(z), ganlab.load_generator(runs["conv"])(z)) and not torch.equal(raw(z), ema(z))
    capsys.readouterr()
    ganlab_cli(capsys, "export", f"run={run}", f"out={tmp_path / 'ema.safetensors'}")
    exported = ganlab.load_generator(tmp_path / "ema.safetensors")
    assert exported.weights == "ema" and torch.equal(exported(z), ema(z))
    with pytest.raises(GanlabError, match="holds the ema weights"):
        ganlab.load_generator(tmp_path / "ema.safetensors", weights="raw")
    # a run without G_ema: the default falls back to G (G.weights says so); asking for ema is an error
    assert ganlab.load_generator(runs["conv"]).weights == "raw"
    with pytest.raises(GanlabError, match="weights=raw"):
        ganlab.load_generator(runs["conv"], weights="ema")


def test_import_ganlab_stays_light():
    code = "import sys, ganlab; assert 'torch' not in sys.modules and 'load_generator' in ganlab.__all__"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)


# ------------------------------------------------------------------------------------------ walks and arithmetic
def test_interpolate_writes_grids_paths_and_animations(runs, tmp_path, capsys):
    from PIL import Image

    for run in runs.values():
        assert "Samples/interpolation" in read_image_tags(run)
    ganlab_cli(capsys, "interpolate", f"run={runs['conv']}", "n=3", "steps=5", f"out={tmp_path / 'walk.gif'}")
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 5 + 3  # forward, then back without repeating the ends
        assert gif.size == (2 * (128 + 2) + 2,) * 2  # 3 walks on a 2 x 2 grid, each 8x8 image enlarged to 128 px
    ganlab_cli(capsys, "interpolate", f"run={runs['conv']}", "n=3", "steps=5", "mode=lerp",
                      f"out={tmp_path / 'walk.png'}")
    cell = 48 + 2  # 8x8 digits enlarged to 48 px, 2 px apart
    assert Image.open(tmp_path / "walk.png").size == (5 * cell + 2, 3 * cell + 2)
    ganlab_cli(capsys, "interpolate", f"run={runs['conditional']}", "n=2", "mode=classes",
                      f"out={tmp_path / 'classes.png'}")
    assert Image.open(tmp_path / "classes.png").size == (10 * cell + 2, 2 * cell + 2)  # a column per class
    ganlab_cli(capsys, "interpolate", f"run={runs['mlp']}", f"out={tmp_path / 'paths.png'}")
    assert Image.open(tmp_path / "paths.png").size == (400, 400)


def test_numbered_grid_and_arithmetic_on_its_latents(runs, tmp_path, capsys):
    from PIL import Image

    run = runs["conv"]
    ganlab_cli(capsys, "sample", f"run={run}", "n=64", "numbered=true", f"out={tmp_path / 'numbered.png'}")
    ganlab_cli(capsys, "sample", f"run={run}", "n=64", f"out={tmp_path / 'plain.png'}")
    numbered, plain = (np.asarray(Image.open(tmp_path / f"{name}.png")) for name in ("numbered", "plain"))
    side, pad = 48, NUMBER_PX  # 8x8 digits enlarged 6 times; the strip above each image that holds its number

    def cell(picture, i: int, padding: int):
        top, left = (i // 8) * (side + padding) + padding, (i % 8) * (side + padding) + padding
        return picture[top:top + side, left:left + side]

    assert numbered.shape == (8 * (side + pad) + pad,) * 2 + (3,)
    assert all(np.array_equal(cell(numbered, i, pad), cell(plain, i, 2)) for i in range(64))  # the numbers hide nothing
    last = numbered[-(side + 2 * pad):-(side + pad), -(side + pad):-pad]  # the strip above the last image
    assert (numbered[:pad, pad:pad + 20] < 64).any() and (last < 64).any()  # its numbers: 0 .. 63
    proc = ganlab_cli(capsys, "arithmetic", f"run={run}", "seed=0", "a=3,17,22", "b=5,9,40", "c=11,12,30",
                      f"out={tmp_path / 'sum.png'}")
    assert "mean(a) - mean(b) + mean(c)" in proc.stdout
    cell = 50
    # columns a, b, c (3 samples and their mean below), then the 3x3 result, with the signs between
    assert Image.open(tmp_path / "sum.png").size == (3 * (cell + 2) + 3 * 28 + 3 * cell + 2, 4 * cell + 2)


def _leaves_nothing(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def test_bad_inputs_are_one_paragraph_and_write_nothing(runs, tmp_path, capsys):
    out = tmp_path / "out"
    empty_run = tmp_path / "never_trained"
    empty_run.mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    cases = [
        (["export", f"run={runs['conv']}", f"out={out / 'g.tflite'}"], [".onnx", ".pt2", ".safetensors"]),
        (["export", f"run={runs['conv']}", f"out={blocker / 'g.onnx'}"], [str(blocker / "g.onnx"), "folder"]),
        (["export", f"run={empty_run}", f"out={out / 'g.onnx'}"], ["no checkpoint", "ganlab train"]),
        (["export", f"run={runs['conv']}", "weights=ema", f"out={out / 'g.onnx'}"], ["no EMA generator", "weights=raw"]),
        (["export", f"run={runs['conv']}", "weights=best", f"out={out / 'g.onnx'}"], ["weights=ema", "weights=raw"]),
        (["interpolate", f"run={runs['mlp']}", "label=3", f"out={out / 'w.png'}"], ["not conditional", "label="]),
        (["interpolate", f"run={runs['mlp']}", "mode=classes", f"out={out / 'w.gif'}"], ["mode=classes", "mode=slerp"]),
        (["interpolate", f"run={runs['conv']}", f"out={out / 'w.jpg'}"], [".png", ".gif"]),
        (["arithmetic", f"run={runs['conv']}", "a=3,64", "b=1", "c=2", f"out={out / 'a.png'}"],
         ["64", "outside the numbered grid of n=64", "numbered=true"]),
        (["arithmetic", f"run={runs['mlp']}", "a=3", "b=1", "c=2", f"out={out / 'a.png'}"], ["2-D points"]),
        (["sample", f"run={runs['conv']}", "numbered=true", f"out={out / 's.npz'}"], [".png"]),
    ]
    for args, needles in cases:
        proc = ganlab_cli(capsys, *args, check=False)
        code, text = proc.returncode, proc.stdout + proc.stderr
        assert code == 2, (args, text)
        assert f"ganlab {args[0]}: error:" in text and all(needle in text for needle in needles), (args, text)
        assert _leaves_nothing(out), (args, list(out.iterdir()))
    assert set(tmp_path.iterdir()) == {empty_run, blocker}
    proc = run_ganlab("export", f"run={empty_run}", f"out={out / 'g.pt2'}", check=False)  # the process, too
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "no checkpoint" in proc.stderr


def test_a_write_that_fails_midway_leaves_the_previous_file(tmp_path):
    from ganlab.files import atomic_write

    target = tmp_path / "g.onnx"
    target.write_text("previous")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(GanlabError, match="no space left on"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "previous" and list(tmp_path.iterdir()) == [target]
