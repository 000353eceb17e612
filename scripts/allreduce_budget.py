"""What one data-parallel step all-reduces for each preset, and what that costs on 8 GPUs: a back-of-envelope.

For each preset on its usual data (gan, cgan: MNIST 28x28x1; dcgan, wgan, wgan_gp: 32x32x3 as CIFAR-10 and
64x64x3 as their papers' LSUN / CelebA), at the preset's batch per GPU: the parameters of G and D, the fp32
gradient bytes one generator step all-reduces (n_critic times D's, once G's), and the step's FLOPs, counted on
PyTorch's meta device (nothing is computed). From those and the assumed machine (flags below) it estimates the
speed-up of 8 GPUs over one, between two bounds: the all-reduce fully hidden behind the backward pass
(DDP overlaps them bucket by bucket) and not hidden at all.

    python scripts/allreduce_budget.py [--json budget.json] [--tflops 100] [--floor-ms 3.5] ...

A ring all-reduce of S bytes over W GPUs takes about alpha + 2 (W - 1) / W * S / B per bucket (B: the bus
bandwidth NCCL's tests report; DDP sends a first bucket of 1 MB, then buckets of 25 MB).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ganlab.commands.compose import compose_config  # noqa: E402
from ganlab.config.spec import DataSpec  # noqa: E402
from ganlab.models import build_models  # noqa: E402
from ganlab.objectives import build_penalty  # noqa: E402

PRESETS = [("gan", "mnist", (1, 28, 28)), ("cgan", "mnist", (1, 28, 28)),
           *((m, "cifar10", (3, s, s)) for m in ("dcgan", "wgan", "wgan_gp") for s in (32, 64))]
WORLD = 8
FIRST_BUCKET, BUCKET = 1e6, 25e6  # DistributedDataParallel's bucket sizes (bytes)


class FlopCount(TorchDispatchMode):
    """The FLOPs of every op PyTorch's flop counter knows (its FlopCounterMode's module tracking cannot follow
    the ``autograd.grad`` of a gradient penalty)."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func._overloadpacket in flop_registry:
            self.total += flop_registry[func._overloadpacket](*args, **kwargs, out_val=out)
        return out


def counted(fn) -> float:
    with FlopCount() as counter:
        fn()
    return float(counter.total)


def preset(model: str, data: str, shape: tuple[int, int, int]) -> dict:
    """Parameters, all-reduced bytes and FLOPs of one generator step of ``model`` on images of ``shape``."""
    cfg = compose_config([f"model={model}", f"data={data}"])
    classes = 10 if cfg.model.conditional else None
    with torch.device("meta"):
        G, D = build_models(cfg.model, DataSpec(data, "image", shape, classes))
    penalty = build_penalty(cfg.penalty)
    b, k = cfg.trainer.batch_size, cfg.trainer.n_critic
    y = torch.zeros(b, dtype=torch.long, device="meta") if classes else None

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            fake = G(torch.randn(b, G.z_dim, device="meta"), y)
        return torch.randn(b, *shape, device="meta"), fake

    def d_step() -> None:
        real, fake = batch()
        (D(real, y).sum() + D(fake, y).sum()).backward()

    def penalised() -> None:
        real, fake = batch()
        term = penalty(D, real, fake, y)
        if term is not None:
            term.backward()

    def g_step() -> None:
        D(G(torch.randn(b, G.z_dim, device="meta"), y), y).sum().backward()

    flops = k * counted(d_step) + k / cfg.penalty.every * counted(penalised) + counted(g_step)
    g, d = (sum(p.numel() for p in net.parameters()) for net in (G, D))
    # the step's phases of launches: each D step, the G step, and two more for each penalised D step (the double
    # backward of a gradient penalty)
    phases = 1 + k + (2 * k / cfg.penalty.every if penalty.gradient else 0)
    return {"model": model, "image": "x".join(map(str, shape)), "batch": b, "n_critic": k, "penalty": penalty.name,
            "G_params": g, "D_params": d, "bytes": 4 * (k * d + g), "gflop": flops / 1e9, "phases": phases}


def allreduce_s(nbytes: float, bandwidth: float, alpha: float) -> float:
    """Seconds to all-reduce one backward's gradients of ``nbytes`` in DDP's buckets."""
    buckets = 1 + math.ceil(max(nbytes - FIRST_BUCKET, 0) / BUCKET)
    return buckets * alpha + 2 * (WORLD - 1) / WORLD * nbytes / bandwidth


def links(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """Each link's bus bandwidth (bytes/s) and all-reduce latency (s)."""
    return {"NVLink": (args.nvlink_gbs * 1e9, args.nvlink_us * 1e-6),
            "100 GbE": (args.ethernet_gbs * 1e9, args.ethernet_us * 1e-6),
            "10 GbE": (args.ethernet_gbs * 1e8, args.ethernet_us * 1e-6)}


def estimate(row: dict, args: argparse.Namespace) -> None:
    """Adds the one-GPU step time, each link's all-reduce time per step, and the 8-GPU speed-up: at worst with
    nothing hidden, at best with the all-reduce hidden behind the backward passes (2/3 of a step's compute)."""
    compute = row["gflop"] * 1e9 / (args.tflops * 1e12) + row["phases"] * args.floor_ms / 1e3
    row["compute_ms"] = compute * 1e3
    for name, (bandwidth, alpha) in links(args).items():
        comm = (row["n_critic"] * allreduce_s(4 * row["D_params"], bandwidth, alpha)
                + allreduce_s(4 * row["G_params"], bandwidth, alpha))
        hidden = min(comm, 2 / 3 * compute)
        row[f"{name} ms"] = comm * 1e3
        row[f"{name} speed-up"] = (WORLD * compute / (compute + comm), WORLD * compute / (compute + comm - hidden))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tflops", type=float, default=100.0, help="sustained TFLOP/s of one GPU on these nets (bf16)")
    p.add_argument("--floor-ms", type=float, default=3.5,
                   help="launch overhead of one phase of an eager step on one GPU (ms): a D step, the G step, and two "
                        "for a penalised D step's double backward. A torchrun run is eager (CUDA graphs do not "
                        "capture DDP's all-reduce); measured on an H200 (torch 2.11), eager: gan 6.1 ms a step and "
                        "dcgan 7.2 ms (2 phases each), wgan_gp with n_critic 2 and its penalty 24.7 ms (7)")
    p.add_argument("--nvlink-gbs", type=float, default=200.0, help="NCCL bus bandwidth of 8 GPUs on NVLink (GB/s)")
    p.add_argument("--nvlink-us", type=float, default=15.0, help="latency of one all-reduce on NVLink (us)")
    p.add_argument("--ethernet-gbs", type=float, default=10.0,
                   help="bus bandwidth of 8 nodes on 100 GbE (GB/s); 10 GbE: a tenth of it")
    p.add_argument("--ethernet-us", type=float, default=60.0, help="latency of one all-reduce over TCP (us)")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args()
    rows = [preset(*spec) for spec in PRESETS]
    names = list(links(args))
    print("| preset | image | batch/GPU | n_critic | G params | D params | all-reduced per step | GFLOP per step | "
          "1-GPU step (est.) | " + " | ".join(f"all-reduce {n}" for n in names) + " | "
          + " | ".join(f"8 GPUs {n}" for n in names) + " |")
    print("|" + " --- |" * (9 + 2 * len(names)))
    for row in rows:
        estimate(row, args)
        print(f"| {row['model']} | {row['image']} | {row['batch']} | {row['n_critic']} | {row['G_params'] / 1e6:.2f} M | "
              f"{row['D_params'] / 1e6:.2f} M | {row['bytes'] / 1e6:.1f} MB | {row['gflop']:.0f} | "
              f"{row['compute_ms']:.1f} ms | " + " | ".join(f"{row[f'{n} ms']:.1f} ms" for n in names) + " | "
              + " | ".join("{:.1f}-{:.1f}x".format(*row[f"{n} speed-up"]) for n in names) + " |")
    if args.json:
        args.json.write_text(json.dumps({"assumptions": vars(args) | {"json": None}, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
