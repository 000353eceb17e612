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
    the logging, sample and checkpoint I/O; in each of the modes asked for (``--modes``): ``eager``,
    ``graphs`` (the step replayed as CUDA graphs, ``trainer.cuda_graphs=true``), ``compile``
    (``trainer.compile=true``) and ``compile+graphs``, each its own trainer from the same seed.

One step is one generator update (n_critic batches of ``batch`` images). Reported per case and mode: img/s,
ms/step and the ratio to the textbook loop (medians over rounds), FLOPs per step (counted with torch.utils.flop_counter.FlopCounterMode),
the peak memory each loop held beyond what was allocated when its segment began (max over rounds; CUDA:
torch.cuda.max_memory_allocated; CPU: the resident-set high-water mark VmHWM of /proc/self/status, reset
through /proc/self/clear_refs after malloc_trim), and on CUDA the MFU of each mode.

    python scripts/bench.py --json bench.json                 # CPU, every case (4-6 minutes on 2 busy cores)
    python scripts/bench.py --device cuda --json bench.json   # eager and graphs; --compile adds the compiled modes
    python scripts/bench.py --cases gan --rounds 3 --steps 20
    python scripts/bench.py --cases dcgan --batches 64 --augments diffaugment,ada   # what augmentation costs
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import math
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
from ganlab.training.graphs import WARMUP  # noqa: E402
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
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU time a step (a busy machine's wait left out)
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


# ganlab's ways of running the same step: trainer.cuda_graphs and trainer.compile
MODES = {"eager": ("false", False), "graphs": ("true", False), "compile": ("false", True),
         "compile+graphs": ("true", True)}


def warmup_steps(cfg) -> int:
    """Steps after which every pattern of lazy-penalty D steps has been captured (training/graphs.py)."""
    every, n_critic = cfg.penalty.every, cfg.trainer.n_critic
    return (WARMUP + 1) * (every // math.gcd(every, n_critic)) + 1


def build_trainer(case: Case, args: argparse.Namespace, root: Path, mode: str) -> Trainer:
    """ganlab's trainer for a case in ``mode`` (``<mode>:<augment>``: with that augmentation)."""
    step_mode, _, augment = mode.partition(":")
    graphs, compiled = MODES[step_mode]
    overrides = [f"model={case.model}", *case.overrides, f"data.mnist.root={root}", f"trainer.batch_size={case.batch}",
                 f"device.type={args.device}", f"trainer.compile={str(compiled).lower()}",
                 f"trainer.cuda_graphs={graphs}", *([f"augment={augment}"] if augment else []), *args.override]
    torch.manual_seed(0)
    return Trainer(compose_config(overrides), root / f"run_{mode.replace(':', '_')}")


def run_case(case: Case, args: argparse.Namespace, root: Path, peaks: dict[str, float]) -> dict:
    """Time the reference loop and ganlab's step in each of ``args.modes`` on the same networks (each mode its
    own trainer, from the same seed); a mode that fails to build or to run is reported with its error."""
    device = torch.device(args.device)
    trainers = {mode: build_trainer(case, args, root, mode) for mode in all_modes(args)}
    first = trainers[args.modes[0]]
    cfg = first.cfg
    workers = args.ref_workers if args.ref_workers is not None else (2 if device.type == "cuda" else 0)
    ref = Reference(first, reference_dataset(first, root, cfg.data.image_size or 0), workers)
    loops = [Loop("reference", ref.step, None, False)]
    for mode, trainer in trainers.items():
        ours = Ganlab(trainer)
        loops.append(Loop(mode, ours.step, ours.read, device.type == "cuda"))

    steps, errors = args.steps, {}
    for loop in list(loops):  # warm up (compile, capture); count FLOPs eagerly; pick the segment length
        with loop.active():
            try:
                warm = timed(loop.step, 1, device, loop.finish)
                for _ in range(warmup_steps(cfg)):  # CUDA graphs: each pattern's eager steps, then its capture
                    loop.step()
                if "compile" in loop.name:
                    print(f"  {loop.name}: first step {warm:.1f} s (torch.compile)")
                if loop.name in ("reference", "eager"):
                    loop.flops = count_flops(loop.step)
                per_step = timed(loop.step, 1, device, loop.finish)
            except Exception as err:  # noqa: BLE001 -- a mode torch cannot run is a row of its own
                errors[loop.name] = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:300]}"
                print(f"  {loop.name}: failed: {errors[loop.name]}")
                loops.remove(loop)
                continue
        if steps is None and device.type == "cuda" and loop.name == "reference":
            steps = max(5, min(500, int(args.segment_s / max(per_step, 1e-6))))
    steps = steps or case.steps
    flops = next((lp.flops for lp in loops if lp.name == "eager" and lp.flops), 0)
    if not flops:  # a replayed graph dispatches nothing to count: count the same step run eagerly
        eager = Ganlab(build_trainer(case, args, root, "eager"))
        eager.step()
        flops = count_flops(eager.step)

    for r in range(args.rounds):
        for loop in loops if r % 2 == 0 else loops[::-1]:  # alternate which loop runs first
            with loop.active(), PeakMemory(device) as mem:
                cpu = time.process_time()
                loop.ms.append(1e3 * timed(loop.step, steps, device, loop.finish))
                loop.cpu_ms.append(1e3 * (time.process_time() - cpu) / steps)
            loop.peak_mb = max(loop.peak_mb, mem.mb)
    if args.profile:
        for loop in loops:
            with loop.active():
                print_profile(f"{case.name} batch {case.batch}, {loop.name}", loop.step, args.profile, device)

    ref_loop = loops[0]
    images = case.batch * cfg.trainer.n_critic  # per generator step
    dtype = first.gan_step.autocast_dtype
    precision = "bf16" if dtype == torch.bfloat16 else "fp32"
    peak = peak_tflops(device, dtype, args.peak_tflops)
    modes = {}
    for loop in loops[1:]:
        ms = statistics.median(loop.ms)
        achieved = flops / (ms / 1e3) / 1e9  # GFLOP/s
        modes[loop.name] = {
            "ms_per_step": round(ms, 3), "cpu_ms_per_step": round(statistics.median(loop.cpu_ms), 3),
            "img_per_s": round(images / ms * 1e3, 1),
            "ratio": round(statistics.median(r / o for r, o in zip(ref_loop.ms, loop.ms, strict=True)), 3),
            "ratios": [round(r / o, 3) for r, o in zip(ref_loop.ms, loop.ms, strict=True)],
            "mfu": None if peak is None else round(achieved / (peak * 1e3), 5),
            "gflop_per_s": round(achieved, 2), "peak_fraction": round(achieved / peaks[precision], 5),
            "peak_mem_mb": round(loop.peak_mb, 1)}
        plain = next((lp for lp in loops if lp.name == loop.name.partition(":")[0]), None)
        if ":" in loop.name and plain is not None:  # the augmentation's cost: paired with the plain step's rounds,
            # in CPU time on the CPU (wall time there is mostly other processes' load), in wall time on CUDA
            ours, theirs = (loop.cpu_ms, plain.cpu_ms) if device.type == "cpu" else (loop.ms, plain.ms)
            modes[loop.name]["cost"] = round(statistics.median(a / b for a, b in zip(ours, theirs, strict=True)) - 1, 4)
    modes.update({name: {"error": err} for name, err in errors.items() if name != "reference"})
    ref_ms = statistics.median(ref_loop.ms)
    return {
        "model": case.name, "device": device.type, "batch": case.batch, "precision": precision,
        "n_critic": cfg.trainer.n_critic, "steps": steps, "rounds": args.rounds, "flops_per_step": flops,
        "ref_flops_per_step": ref_loop.flops, "ref_ms_per_step": round(ref_ms, 3),
        "ref_img_per_s": round(images / ref_ms * 1e3, 1), "ref_peak_mem_mb": round(ref_loop.peak_mb, 1),
        "peak_gflop_per_s": round(peaks[precision], 1), "modes": modes,
    }


def all_modes(args: argparse.Namespace) -> list[str]:
    """The modes timed: each of ``--modes``, then each again with each of ``--augments`` (``eager:ada``)."""
    return [*args.modes, *(f"{m}:{a}" for a in args.augments for m in args.modes)]


def print_table(rows: list[dict], modes: list[str]) -> None:
    head = (f"{'model':<8} {'device':<6} {'batch':>5} {'prec':>5} {'GFLOP/step':>10} {'ref ms':>8} "
            + " ".join(f"{m + ' ms':>17}" for m in modes) + f" {'best':>14} {'MFU':>7} {'of peak':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        done = {m: v for m, v in r["modes"].items() if "ms_per_step" in v}
        cells = []
        for m in modes:
            v = r["modes"].get(m, {})
            cells.append(f"{v['ms_per_step']:>9.2f} ({v['ratio']:>4.1f}x)" if "ms_per_step" in v else f"{'failed':>17}")
        best = min(done, key=lambda m: done[m]["ms_per_step"]) if done else None
        mfu = done[best]["mfu"] if best else None
        frac = done[best]["peak_fraction"] if best else 0.0
        print(f"{r['model']:<8} {r['device']:<6} {r['batch']:>5} {r['precision']:>5} {r['flops_per_step'] / 1e9:>10.1f} "
              f"{r['ref_ms_per_step']:>8.2f} " + " ".join(cells) + f" {best or '-':>14} "
              f"{'-' if mfu is None else f'{100 * mfu:.2f}%':>7} {100 * frac:>7.2f}%")
    for r in rows:
        for m, v in r["modes"].items():
            if "error" in v:
                print(f"{r['model']} batch {r['batch']}, {m}: {v['error']}")
    print("ms: median ms a generator step (n_critic batches) over rounds, (x): the textbook loop's ms / this mode's "
          "(median of the rounds' ratios); best: the fastest mode, whose MFU (of the data-sheet peak, CUDA) and share "
          "of this machine's measured matmul peak are shown; FLOPs counted on the eager step.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--cases", default=",".join(dict.fromkeys(c.name for c in CASES)),
                        help=f"comma-separated cases to run ({', '.join(dict.fromkeys(c.name for c in CASES))}); "
                             "default all")
    parser.add_argument("--batches", default=None, help="comma-separated batch sizes to keep (default: every case's)")
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
    parser.add_argument("--modes", default=None,
                        help=f"ganlab's modes to time, comma-separated, of {', '.join(MODES)} (default: eager on "
                             "CPU; eager,graphs on CUDA)")
    parser.add_argument("--compile", action="store_true", help="add the compiled modes (torch.compile)")
    parser.add_argument("--augments", default="",
                        help="also time each mode with these augmentations (augment=<name>, comma-separated), in the "
                             "same rounds: the cost is the median of the rounds' ratios to the plain step")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, for MFU")
    parser.add_argument("--override", action="append", default=[], help="an extra ganlab config override")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after the rounds, print each loop's top operators over N steps (torch.profiler)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows to this JSON file")
    args = parser.parse_args(argv)
    args.modes = (args.modes or ("eager,graphs" if args.device == "cuda" else "eager")).split(",")
    args.augments = [a for a in args.augments.split(",") if a]
    if args.compile:
        args.modes += [m for m in ("compile", "compile+graphs") if m not in args.modes and (
            args.device == "cuda" or "graphs" not in m)]
    if set(args.modes) - set(MODES) or (args.device == "cpu" and any("graphs" in m for m in args.modes)):
        parser.error(f"--modes: choose from {', '.join(MODES)} (the graphs modes on CUDA only)")
    threads = args.threads or (1 if args.device == "cpu" else None)
    if threads:
        torch.set_num_threads(threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: PyTorch sees no CUDA GPU here")
    wanted = args.cases.split(",")
    unknown = set(wanted) - {c.name for c in CASES}
    if unknown:
        parser.error(f"unknown case(s) {', '.join(sorted(unknown))}; choose from "
                     f"{', '.join(dict.fromkeys(c.name for c in CASES))}")

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
        batches = {int(b) for b in args.batches.split(",")} if args.batches else None
        for case in (c for c in CASES if c.name in wanted and (batches is None or c.batch in batches)):
            t0 = time.perf_counter()
            print(f"{case.name} batch {case.batch} ...", flush=True)
            row = run_case(case, args, root, peaks)
            timings = ", ".join(f"{m} {v['ms_per_step']:.2f} ms ({v['ratio']:.2f}x)" for m, v in row["modes"].items()
                                if "ms_per_step" in v)
            print(f"  ref {row['ref_ms_per_step']:.2f} ms/step; {timings}; {time.perf_counter() - t0:.0f} s", flush=True)
            rows.append(row)
    print()
    print_table(rows, all_modes(args))
    for r in rows:
        for m, v in r["modes"].items():
            if "cost" in v:
                what = "CPU time" if r["device"] == "cpu" else "time"
                print(f"{r['model']} batch {r['batch']}, augment={m.partition(':')[2]}: {100 * v['cost']:+.1f} % {what} "
                      f"a step against the {m.partition(':')[0]} step without it (median of the rounds' ratios)")
    print(f"wall time {time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"peak_gflop_per_s": peaks, "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
