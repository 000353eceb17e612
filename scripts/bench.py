"""Benchmark ganlab's training step against the textbook loop GAN code is usually copied from.

In one process, for the same networks (ganlab's builders, the same initial weights) and batch size, it runs
interleaved rounds of

(a) the reference loop: the PyTorch DCGAN tutorial's structure (``gan``, ``dcgan``): a torch DataLoader over a
    torchvision-style dataset with per-item transforms (Resize, ToTensor, Normalize), Sigmoid at the end of D
    and nn.BCELoss, D updated on real then fake with two backward passes, ``zero_grad()`` to zeros,
    ``.item()`` every step, fp32. For ``wgan_gp``, PyTorch-GAN's wgan_gp.py: noise and interpolation weights
    drawn with NumPy, the fake batch generated with a graph in every critic step and generated again for
    the generator step, its compute_gradient_penalty, ``.item()`` at each generator step, fp32.
(b) ganlab's step: a ``Trainer`` built from the composed config exactly as ``ganlab train`` builds it, driven
    as ``Trainer.fit`` drives it (the step, the schedulers, a device-side statistics accumulator), without
    the logging, sample and checkpoint I/O.

One step is one generator update (n_critic batches of ``batch`` images). Reported per case: img/s, ms/step
and the ratio (medians over rounds), FLOPs per step (counted with torch.utils.flop_counter.FlopCounterMode),
the peak memory each loop held beyond what was allocated when its segment began (max over rounds; CUDA:
torch.cuda.max_memory_allocated; CPU: the resident-set high-water mark VmHWM of /proc/self/status, reset
through /proc/self/clear_refs after malloc_trim), and on CUDA the MFU of ganlab's step.

    python scripts/bench.py --json bench.json                 # CPU, every case (4-6 minutes on 2 busy cores)
    python scripts/bench.py --device cuda --json bench.json
    python scripts/bench.py --cases gan --rounds 3 --steps 20
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from formats import write_idx  # noqa: E402 -- the tests' writer of MNIST-format files

from ganlab.commands.compose import compose_config  # noqa: E402
from ganlab.models import build_models  # noqa: E402
from ganlab.training.loop import Trainer  # noqa: E402

# dense bf16 / fp32 peak of the GPUs MFU is reported for, in TFLOP/s (vendor data sheets, SXM parts)
PEAK_TFLOPS = {"H200": (989.4, 66.9), "H100": (989.4, 66.9), "A100": (312.0, 19.5), "L4": (121.0, 30.3)}


@dataclass
class Case:
    name: str  # the row's label
    model: str  # ganlab's model preset
    batch: int
    overrides: list[str]  # the data, and what makes both loops train the same thing
    steps: int  # default timed steps per segment on CPU


CASES = [
    Case("gan", "gan", 256, ["data=grid25", "penalty=none"], 30),  # the toy preset's nets; no R1: the reference has none
    Case("dcgan", "dcgan", 64, ["data=mnist", "data.image_size=32"], 4),
    Case("dcgan", "dcgan", 256, ["data=mnist", "data.image_size=32"], 2),
    Case("wgan_gp", "wgan_gp", 64, ["data=mnist", "data.image_size=32"], 2),
]


# ----------------------------------------------------------------------------------------------- memory
class PeakMemory:
    """The most memory allocated during a ``with`` block beyond what was allocated when it began, in MiB."""

    def __init__(self, device: torch.device):
        self.device = device
        self.libc = ctypes.CDLL("libc.so.6") if device.type == "cpu" and sys.platform == "linux" else None
        self.mb = 0.0

    @staticmethod
    def _status_kb(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def __enter__(self) -> PeakMemory:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        elif self.libc is not None:
            self.libc.malloc_trim(0)  # give freed heap back, so the resident set is what is live
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident set
            self.start = self._status_kb("VmRSS") * 1024
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.mb = (torch.cuda.max_memory_allocated() - self.start) / 2**20
        elif self.libc is not None:
            self.mb = (self._status_kb("VmHWM") * 1024 - self.start) / 2**20


# ----------------------------------------------------------------------------------------------- data
def make_mnist_files(root: Path, n: int) -> None:
    """Random 28x28 uint8 images (and labels) in MNIST's IDX files, where torchvision and ganlab read them."""
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    for split, count in (("train", n), ("t10k", 100)):
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, count, dtype=np.uint8))


class PointsDataset(torch.utils.data.Dataset):
    """A map-style dataset of pre-drawn 2-D points, one tensor per item, as a torchvision dataset would be."""

    def __init__(self, points: np.ndarray):
        self.points = points

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.points[i]), 0


def reference_dataset(trainer: Trainer, root: Path, size: int) -> torch.utils.data.Dataset:
    if trainer.data.kind == "points":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            points = trainer.data.sample(100_000)[0].cpu().numpy()
        return PointsDataset(points)
    import torchvision
    import torchvision.transforms as T

    transform = T.Compose([T.Resize(size), T.ToTensor(), T.Normalize((0.5,), (0.5,))])
    return torchvision.datasets.MNIST(str(root), train=True, transform=transform, download=False)


class Batches:
    """An endless iterator over a DataLoader, restarting it at the end of each epoch as a training loop does."""

    def __init__(self, loader: torch.utils.data.DataLoader):
        self.loader, self.it = loader, iter(loader)

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)


# ----------------------------------------------------------------------------------------------- reference loops
class Reference:
    """The textbook loop on copies of ganlab's networks (same architecture, same initial weights)."""

    def __init__(self, trainer: Trainer, data: torch.utils.data.Dataset, workers: int):
        cfg, self.device = trainer.cfg, trainer.device
        G, D = build_models(cfg.model, trainer.spec)
        G.load_state_dict(trainer.G.state_dict())
        D.load_state_dict(trainer.D.state_dict())
        self.wgan_gp = cfg.penalty.name == "gp"
        self.netG = G.to(self.device)
        self.netD = (D if self.wgan_gp else nn.Sequential(D, nn.Sigmoid())).to(self.device)
        self.nz, self.n_critic, self.lambda_gp = cfg.model.z_dim, cfg.trainer.n_critic, cfg.penalty.get("weight")
        betas = (cfg.optim.beta1, cfg.optim.beta2)
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=cfg.optim.lr, betas=betas)
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=cfg.optim.lr, betas=betas)
        self.criterion = nn.BCELoss()
        loader = torch.utils.data.DataLoader(data, batch_size=cfg.trainer.batch_size, shuffle=True,
                                             num_workers=workers, drop_last=True)
        self.batches = Batches(loader)
        self.G_losses: list[float] = []
        self.D_losses: list[float] = []

    def step(self) -> None:
        (self._wgan_gp_step if self.wgan_gp else self._tutorial_step)()

    def _tutorial_step(self) -> None:
        """The body of the PyTorch DCGAN tutorial's training loop."""
        netD, netG, criterion, device = self.netD, self.netG, self.criterion, self.device
        data = next(self.batches)
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad(set_to_none=False)
        real_cpu = data[0].to(device)
        b_size = real_cpu.size(0)
        label = torch.full((b_size,), 1.0, dtype=torch.float, device=device)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()  # noqa: F841 (the tutorial prints it)
        noise = torch.randn(b_size, self.nz, device=device)
        fake = netG(noise)
        label.fill_(0.0)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()  # noqa: F841
        errD = errD_real + errD_fake
        self.optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad(set_to_none=False)
        label.fill_(1.0)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()  # noqa: F841
        self.optimizerG.step()
        self.G_losses.append(errG.item())
        self.D_losses.append(errD.item())

    def _compute_gradient_penalty(self, real_samples: torch.Tensor, fake_samples: torch.Tensor) -> torch.Tensor:
        """PyTorch-GAN's compute_gradient_penalty."""
        alpha = torch.tensor(np.random.random((real_samples.size(0), 1, 1, 1)), dtype=torch.float, device=self.device)
        interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
        d_interpolates = self.netD(interpolates)
        fake = torch.ones(real_samples.shape[0], device=self.device)
        gradients = torch.autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=fake,
                                        create_graph=True, retain_graph=True, only_inputs=True)[0]
        gradients = gradients.view(gradients.size(0), -1)
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean()

    def _wgan_gp_step(self) -> None:
        """n_critic iterations of PyTorch-GAN's wgan_gp.py loop body; the generator trains in the first."""
        generator, discriminator, device = self.netG, self.netD, self.device
        for i in range(self.n_critic):
            imgs, _ = next(self.batches)
            real_imgs = imgs.to(device)
            self.optimizerD.zero_grad(set_to_none=False)
            z = torch.tensor(np.random.normal(0, 1, (imgs.shape[0], self.nz)), dtype=torch.float, device=device)
            fake_imgs = generator(z)
            real_validity = discriminator(real_imgs)
            fake_validity = discriminator(fake_imgs)
            gradient_penalty = self._compute_gradient_penalty(real_imgs.data, fake_imgs.data)
            d_loss = -torch.mean(real_validity) + torch.mean(fake_validity) + self.lambda_gp * gradient_penalty
            d_loss.backward()
            self.optimizerD.step()
            self.optimizerG.zero_grad(set_to_none=False)
            if i % self.n_critic == 0:
                fake_imgs = generator(z)
                fake_validity = discriminator(fake_imgs)
                g_loss = -torch.mean(fake_validity)
                g_loss.backward()
                self.optimizerG.step()
                self.D_losses.append(d_loss.item())
                self.G_losses.append(g_loss.item())


# ----------------------------------------------------------------------------------------------- ganlab loop
class Ganlab:
    """``Trainer.fit``'s per-step work, through the method the loop itself calls (``Trainer.train_step``)."""

    LOG_EVERY = 50  # gradient norms are measured at log steps, as the default trainer.log_every

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.count = 0

    def step(self) -> None:
        self.count += 1
        self.trainer.train_step(measure_grads=self.count % self.LOG_EVERY == 0)

    def read(self) -> None:
        self.trainer.window.means()  # what a log step reads back
        self.trainer.window.clear(self.trainer.step)


# ----------------------------------------------------------------------------------------------- measuring
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(step: Callable[[], None], n: int, device: torch.device, finish: Callable[[], None] | None = None) -> float:
    """Seconds per step over ``n`` steps."""
    sync(device)
    start = time.perf_counter()
    for _ in range(n):
        step()
    if finish is not None:
        finish()
    sync(device)
    return (time.perf_counter() - start) / n


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks break ``autograd.grad`` on a leaf
    (the gradient penalty's): the per-module breakdown is not needed, only the total."""

    parents = {"Global"}

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def count_flops(step: Callable[[], None]) -> int:
    """FLOPs of one call of ``step``, forward and backward (matmuls and convolutions), counted as dispatched."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        step()
    return int(counter.get_total_flops())


@dataclass
class Loop:
    name: str
    step: Callable[[], None]
    finish: Callable[[], None] | None
    cudnn_benchmark: bool
    ms: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    flops: int = 0

    @contextlib.contextmanager
    def active(self):
        before = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = self.cudnn_benchmark  # the tutorial leaves it off; ganlab turns it on
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = before


def print_profile(title: str, step: Callable[[], None], n: int, device: torch.device, rows: int = 12) -> None:
    """Where ``n`` steps spend their time, by operator (torch.profiler), with each one's share of the total."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(n):
            step()
        sync(device)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"--- profile: {title}, {n} steps")
    print(prof.key_averages().table(sort_by=sort, row_limit=rows, max_name_column_width=48))


def peak_tflops(device: torch.device, dtype: torch.dtype | None, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, (bf16, fp32) in PEAK_TFLOPS.items():
        if key in name:
            return bf16 if dtype == torch.bfloat16 else fp32
    return None


def matmul_peak(device: torch.device, dtype: torch.dtype, budget_s: float = 1.0) -> float:
    """This machine's own matrix-multiply rate in GFLOP/s for ``dtype`` (square products, the best of a few sizes
    timed for about ``budget_s`` each; small sizes first, so an emulated dtype does not take minutes)."""
    best = 0.0
    for n in (256, 512, 1024, 2048):
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        one = timed(lambda a=a, b=b: torch.mm(a, b), 1, device)  # warm-up, and the cost of one product
        reps = max(1, int(budget_s / max(one, 1e-6)))
        best = max(best, 2 * n**3 / timed(lambda a=a, b=b: torch.mm(a, b), reps, device) / 1e9)
        if one * 8 > budget_s:  # the next size would take too long
            break
    return best


def run_case(case: Case, args: argparse.Namespace, root: Path, peaks: dict[str, float]) -> dict:
    device = torch.device(args.device)
    overrides = [f"model={case.model}", *case.overrides, f"data.mnist.root={root}", f"trainer.batch_size={case.batch}",
                 f"device.type={args.device}", f"trainer.compile={str(args.compile).lower()}", *args.override]
    cfg = compose_config(overrides)
    trainer = Trainer(cfg, root / "run")
    workers = args.ref_workers if args.ref_workers is not None else (2 if device.type == "cuda" else 0)
    ref = Reference(trainer, reference_dataset(trainer, root, cfg.data.image_size or 0), workers)
    ours = Ganlab(trainer)
    loops = [Loop("reference", ref.step, None, False), Loop("ganlab", ours.step, ours.read, device.type == "cuda")]

    steps = args.steps
    for loop in loops:  # warm up (and compile); count FLOPs; pick the segment length
        with loop.active():
            warm = timed(loop.step, 1, device, loop.finish)
            if loop.name == "ganlab" and args.compile:
                print(f"  ganlab first step (torch.compile): {warm:.1f} s")
            loop.flops = count_flops(loop.step)
            per_step = timed(loop.step, 1, device, loop.finish)
        if steps is None and device.type == "cuda":
            steps = max(5, min(500, int(args.segment_s / max(per_step, 1e-6))))
    steps = steps or case.steps

    for r in range(args.rounds):
        for loop in loops if r % 2 == 0 else loops[::-1]:  # alternate which loop runs first
            with loop.active(), PeakMemory(device) as mem:
                loop.ms.append(1e3 * timed(loop.step, steps, device, loop.finish))
            loop.peak_mb = max(loop.peak_mb, mem.mb)
    if args.profile:
        for loop in loops:
            with loop.active():
                print_profile(f"{case.name} batch {case.batch}, {loop.name}", loop.step, args.profile, device)

    ref_loop, our_loop = loops
    images = case.batch * cfg.trainer.n_critic  # per generator step
    ref_ms, our_ms = statistics.median(ref_loop.ms), statistics.median(our_loop.ms)
    ratio = statistics.median(r / o for r, o in zip(ref_loop.ms, our_loop.ms, strict=True))
    peak = peak_tflops(device, trainer.step_fn.autocast_dtype, args.peak_tflops)
    mfu = our_loop.flops / (our_ms / 1e3) / (peak * 1e12) if peak else None
    precision = "bf16" if trainer.step_fn.autocast_dtype == torch.bfloat16 else "fp32"
    achieved = our_loop.flops / (our_ms / 1e3) / 1e9  # GFLOP/s
    return {
        "model": case.name, "device": device.type, "batch": case.batch,
        "ref_img_per_s": round(images / ref_ms * 1e3, 1), "ganlab_img_per_s": round(images / our_ms * 1e3, 1),
        "ratio": round(ratio, 3), "peak_mem_mb": round(our_loop.peak_mb, 1),
        "mfu": None if mfu is None else round(mfu, 4), "precision": precision,
        "gflop_per_s": round(achieved, 2), "peak_gflop_per_s": round(peaks[precision], 1),
        "peak_fraction": round(achieved / peaks[precision], 4),
        "ref_ms_per_step": round(ref_ms, 2), "ganlab_ms_per_step": round(our_ms, 2),
        "ref_peak_mem_mb": round(ref_loop.peak_mb, 1),
        "ref_flops_per_step": ref_loop.flops, "ganlab_flops_per_step": our_loop.flops,
        "n_critic": cfg.trainer.n_critic, "steps": steps, "rounds": args.rounds,
        "ratios": [round(r / o, 3) for r, o in zip(ref_loop.ms, our_loop.ms, strict=True)],
    }


def print_table(rows: list[dict]) -> None:
    head = (f"{'model':<8} {'device':<6} {'batch':>5} {'ref img/s':>10} {'ganlab img/s':>12} {'ratio':>6} "
            f"{'ref ms/step':>11} {'ganlab ms':>10} {'GFLOP/step':>15} {'peak MB':>13} {'prec':>5} {'GFLOP/s':>8} "
            f"{'of peak':>8} {'MFU':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        flops = f"{r['ref_flops_per_step'] / 1e9:.1f}/{r['ganlab_flops_per_step'] / 1e9:.1f}"
        mem = f"{r['ref_peak_mem_mb']:.0f}/{r['peak_mem_mb']:.0f}"
        mfu = "-" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
        print(f"{r['model']:<8} {r['device']:<6} {r['batch']:>5} {r['ref_img_per_s']:>10.1f} "
              f"{r['ganlab_img_per_s']:>12.1f} {r['ratio']:>5.2f}x {r['ref_ms_per_step']:>11.1f} "
              f"{r['ganlab_ms_per_step']:>10.1f} {flops:>15} {mem:>13} {r['precision']:>5} {r['gflop_per_s']:>8.1f} "
              f"{100 * r['peak_fraction']:>7.1f}% {mfu:>6}")
    print("ratio: median over rounds of ref ms/step / ganlab ms/step; one step = one generator update "
          "(n_critic batches); GFLOP/step and peak MB: reference/ganlab; GFLOP/s: ganlab's, as a fraction of this "
          "machine's measured matmul peak in the row's precision; MFU: of the data-sheet peak (CUDA).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--cases", default="gan,dcgan,wgan_gp",
                        help="comma-separated models to run (gan, dcgan, wgan_gp); default all")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per case (default 5)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per loop and round (default: per case on CPU, about --segment-s on CUDA)")
    parser.add_argument("--segment-s", type=float, default=2.0, help="CUDA: seconds per timed segment")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads, the same for both loops (default: 1 on CPU, where a second "
                             "OpenMP thread on a shared 2-core machine makes every step several times slower "
                             "and noisy; torch's default on CUDA)")
    parser.add_argument("--ref-workers", type=int, default=None,
                        help="reference DataLoader workers (default: 0 on CPU, where workers compete with the "
                             "training for the cores; 2 on CUDA, as in the tutorial)")
    parser.add_argument("--mnist-n", type=int, default=60000, help="images in the MNIST-format training file")
    parser.add_argument("--compile", action="store_true", help="ganlab with trainer.compile=true")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, for MFU")
    parser.add_argument("--override", action="append", default=[], help="an extra ganlab config override")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after the rounds, print each loop's top operators over N steps (torch.profiler)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows to this JSON file")
    args = parser.parse_args(argv)
    threads = args.threads or (1 if args.device == "cpu" else None)
    if threads:
        torch.set_num_threads(threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: PyTorch sees no CUDA GPU here")
    wanted = args.cases.split(",")
    unknown = set(wanted) - {c.name for c in CASES}
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; choose from gan, dcgan, wgan_gp")

    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{os.cpu_count()} CPU cores"
    print(f"ganlab bench: torch {torch.__version__}, {where}, {torch.get_num_threads()} threads "
          f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}), {args.rounds} rounds")
    device = torch.device(args.device)
    peaks = {"fp32": matmul_peak(device, torch.float32), "bf16": matmul_peak(device, torch.bfloat16)}
    print(f"measured matmul peak: fp32 {peaks['fp32']:.1f} GFLOP/s, bf16 {peaks['bf16']:.1f} GFLOP/s")
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ganlab-bench-") as tmp:
        root = Path(tmp)
        make_mnist_files(root, args.mnist_n)
        for case in (c for c in CASES if c.name in wanted):
            t0 = time.perf_counter()
            print(f"{case.name} batch {case.batch} ...", flush=True)
            row = run_case(case, args, root, peaks)
            print(f"  ref {row['ref_ms_per_step']:.1f} ms/step, ganlab {row['ganlab_ms_per_step']:.1f} ms/step, "
                  f"ratio {row['ratio']:.2f}x (rounds: {row['ratios']}), {time.perf_counter() - t0:.0f} s", flush=True)
            rows.append(row)
    print()
    print_table(rows)
    print(f"wall time {time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"peak_gflop_per_s": peaks, "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
