"""A generator taken away from ganlab: an ONNX model (onnxruntime and other runtimes), a ``torch.export``
program (``.pt2``, loaded with plain torch), or its weights as safetensors with the config that rebuilds them
as metadata (``ganlab.load_generator``).

Every file takes a batch of any size: ``z`` ``(batch, z_dim)`` float32 and, for a conditional generator,
``label`` ``(batch,)`` int64; out come ``samples`` (images ``(batch, C, H, W)`` in [-1, 1], or points
``(batch, 2)``). The ONNX model and the program also carry ganlab's description of the generator as JSON
(ONNX metadata ``ganlab``; the program's extra file ``ganlab.json``).
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.files import atomic_write
from ganlab.runs.generator import WEIGHTS, Generator, rebuild_generator

FORMATS = {
    ".onnx": "an ONNX model (run it with onnxruntime)",
    ".pt2": "a torch.export program (torch.export.load(path).module(), no ganlab needed)",
    ".safetensors": "safetensors weights with the config to rebuild them (ganlab.load_generator(path))",
}
ONNX_OPSET = 17
EXAMPLE_BATCH = 2  # the batch the export traces with; the files take any batch size
FORMAT_VERSION = 1  # of the "ganlab" metadata


def check_format(path: Path) -> None:
    if path.suffix not in FORMATS:
        raise GanlabError(f"out={path}: ganlab exports to {', '.join(FORMATS)} files "
                          f"({'; '.join(f'{s}: {d}' for s, d in FORMATS.items())}). Give out= one of these endings.")


def export_generator(G: Generator, path: Path) -> None:
    """Write ``G`` to ``path`` in the format its suffix names (see :data:`FORMATS`), atomically."""
    check_format(path)
    G = G.cpu().eval()
    {".onnx": write_onnx, ".pt2": write_pt2, ".safetensors": write_safetensors}[path.suffix](G, path)


def description(G: Generator) -> str:
    """The JSON that rebuilds ``G`` beside its weights: the run's config, the data's shape, step and weights."""
    return json.dumps({"format": FORMAT_VERSION, "weights": G.weights, "step": G.step, "data": G.data.to_dict(),
                       "z_dim": G.z_dim, "num_classes": G.num_classes, "config": G.config})


class _Unconditional(nn.Module):
    """``G`` with the exported signature ``(z) -> samples``."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: Tensor) -> Tensor:
        return self.G(z)


class _Conditional(_Unconditional):
    """``G`` with the exported signature ``(z, label) -> samples``."""

    def forward(self, z: Tensor, label: Tensor) -> Tensor:  # type: ignore[override]
        return self.G(z, label)


def _traced(G: Generator) -> tuple[nn.Module, tuple[Tensor, ...], list[str]]:
    """The module to export (eval mode), example inputs, and the inputs' names."""
    z = torch.randn(EXAMPLE_BATCH, G.z_dim)
    if G.num_classes:
        return _Conditional(G).eval(), (z, torch.arange(EXAMPLE_BATCH) % G.num_classes), ["z", "label"]
    return _Unconditional(G).eval(), (z,), ["z"]


def write_onnx(G: Generator, path: Path) -> None:
    """ONNX with a dynamic batch axis, through torch.onnx's TorchScript exporter: it needs nothing beyond torch
    (the dynamo exporter needs onnxscript) and exports these networks in well under a second."""
    import onnx

    module, args, names = _traced(G)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "legacy exporter": still torch 2.14's, and exact
        torch.onnx.export(module, args, buffer, dynamo=False, opset_version=ONNX_OPSET, input_names=names,
                          output_names=["samples"], dynamic_axes={k: {0: "batch"} for k in [*names, "samples"]})
    model = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(model, {"ganlab": description(G)})
    onnx.checker.check_model(model)
    atomic_write(path, lambda tmp: onnx.save(model, str(tmp)))


def write_pt2(G: Generator, path: Path) -> None:
    """A ``torch.export`` program with a dynamic batch dimension."""
    module, args, _ = _traced(G)
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(module, args, dynamic_shapes=tuple({0: batch} for _ in args))
    atomic_write(path, lambda tmp: torch.export.save(program, tmp, extra_files={"ganlab.json": description(G)}))


def write_safetensors(G: Generator, path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in G.net.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"ganlab": description(G)}))


def read_safetensors(path: Path, weights: str | None = None, device: torch.device | str = "cpu") -> Generator:
    """The generator a ``.safetensors`` file written by ``ganlab export`` holds (eval mode, on ``device``)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta, tensors = f.metadata() or {}, {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 -- no dict
    except (OSError, SafetensorError) as err:
        raise GanlabError(f"{path} is not a safetensors file that can be read ({err}). Export it again with "
                          "`ganlab export run=<dir> out=<file>.safetensors`.") from err
    if "ganlab" not in meta:
        raise GanlabError(f"{path} holds weights but not ganlab's description of the generator (its 'ganlab' "
                          "metadata). Load a file written by `ganlab export`, or the run dir itself.")
    try:
        info = json.loads(meta["ganlab"])
        if not isinstance(info, dict) or not {"weights", "config", "data", "step"} <= info.keys() \
                or not isinstance(info["config"], dict) or not isinstance(info["data"], dict) \
                or info["weights"] not in WEIGHTS or isinstance(info["step"], bool) or not isinstance(info["step"], int):
            raise ValueError("it lacks the config, data, step or weights ganlab export writes")
    except (ValueError, RecursionError) as err:
        raise GanlabError(f"{path} holds a 'ganlab' description that is not what `ganlab export` writes ({err}). "
                          "Export the run again with `ganlab export run=<dir> out=<file>.safetensors`.") from err
    if weights not in (None, *WEIGHTS):
        raise GanlabError(f"weights={weights} is not known: use weights=ema or weights=raw.")
    if weights not in (None, info["weights"]):
        raise GanlabError(f"{path} holds the {info['weights']} weights, not the {weights} ones. Leave weights out, "
                          f"or export the run again with weights={weights}.")
    return rebuild_generator(info["config"], info["data"], tensors, int(info["step"]), info["weights"], path).to(device)
