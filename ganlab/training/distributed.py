"""Data-parallel training over the processes torchrun starts (or the tasks of one submitit job).

One run, W processes ("ranks"), each on its own device (``cuda:<local rank>``, or the CPU):

- the process group: gloo on the CPU; on GPUs nccl for CUDA tensors, gloo for the few host-side messages;
- one run dir: rank 0's Hydra makes it; the other ranks' Hydra writes nothing (no ``.hydra/``, no log file)
  and they take rank 0's dir from a broadcast;
- the data: every rank draws the global batch from the same random stream and trains on its share
  (:mod:`ganlab.shares`), so ``trainer.batch_size`` is per rank and the global batch is W times it; W ranks
  with batch b train as one process with batch W·b (BatchNorm aside, unless ``trainer.sync_bn``);
- G and D are each wrapped in DistributedDataParallel without syncing buffers at each forward
  (``forward_sync_buffers=False``, before torch 2.14 ``broadcast_buffers=False``: each rank keeps its BatchNorm
  statistics); a backward averages the
  gradients of the network it reaches. Every D parameter gets a gradient on every D step, a lazy penalty's
  steps included (the penalty is a term of the D loss, not a separate backward), so no all-reduce waits;
- rank 0 alone writes (TensorBoard, samples, checkpoints, metrics) and prints; the logged statistics are the
  ranks' average; a checkpoint holds the networks without DDP's ``module.`` prefix and resumes with any W.
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from omegaconf import DictConfig
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ganlab.errors import GanlabError
from ganlab.objectives.penalties import Penalty
from ganlab.shares import Share
from ganlab.training.device import resolve_device

# how long a collective waits for the slowest rank, e.g. for rank 0 while it evaluates alone
TIMEOUT = timedelta(minutes=30)
# what the ranks other than 0 tell Hydra: write nothing (rank 0's Hydra makes the run dir and .hydra/)
FOLLOWER_ARGS = ["hydra.run.dir=.", "hydra.output_subdir=null", "hydra/job_logging=none"]
SWEEP_FLAGS = ("-m", "--multirun")
# DistributedDataParallel's switch for syncing buffers at each forward, by its name in this torch (2.14 renamed it)
_NO_BUFFER_SYNC = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                   else "broadcast_buffers")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: ``Ranks()`` for a single process."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def lead(self) -> bool:
        """Rank 0: the one that writes and prints."""
        return self.rank == 0

    @property
    def share(self) -> Share:
        return Share(self.rank, self.world)

    def device(self, cfg: DictConfig) -> torch.device:
        """This rank's device for the ``device`` config: its own GPU (``cuda:<local rank>``) or the CPU; a
        GanlabError naming the fix when the machine cannot give each rank one."""
        if self.world == 1:
            return resolve_device(cfg)
        if cfg.type == "cuda" and not torch.cuda.is_available():
            raise GanlabError(
                f"device=cuda under torchrun, but PyTorch {torch.__version__} sees no CUDA GPU on this machine for "
                f"its {self.local_world} processes. Use device=cpu (each process trains on the CPU and they talk "
                "over gloo), or run torchrun on a machine with GPUs.")
        device = resolve_device(cfg)
        if device.type == "cpu":
            return device
        if device.type != "cuda":
            raise GanlabError(f"device={device.type} under torchrun: data parallelism runs on CUDA GPUs (nccl) or the "
                              "CPU (gloo). Use device=cuda or device=cpu.")
        gpus = torch.cuda.device_count()
        if self.local_world > gpus:
            raise GanlabError(
                f"torchrun started {self.local_world} processes on this machine, but it has {gpus} CUDA GPU(s): each "
                f"process trains on a GPU of its own. Pass --nproc_per_node={gpus} (or --nproc_per_node=gpu, one "
                "per GPU), or device=cpu to train on the CPU.")
        device = torch.device("cuda", self.local_rank)
        torch.cuda.set_device(device)
        return device

    def describe(self, batch_size: int) -> str:
        """How the run is spread, for the line that starts it ("" for a single process)."""
        if self.world == 1:
            return ""
        return f" x {self.world} processes (trainer.batch_size is per process: global batch {self.world * batch_size})"

    def average(self, values: Tensor) -> Tensor:
        """The mean of ``values`` over the ranks (one all-reduce; every rank calls it)."""
        if self.world == 1:
            return values
        total = values.clone()
        dist.all_reduce(total)
        return total / self.world

    def wrap(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        """G and D, each in DistributedDataParallel (the modules themselves for a single process)."""
        if self.world == 1:
            return G, D
        # DDP copies a gradient into its bucket when a weight's size-1 dimension (a grayscale image's channel)
        # has other strides in channels-last layout than its gradient: the same memory, a harmless small copy
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        device = next(G.parameters()).device
        ids = [device.index] if device.type == "cuda" else None
        keep = {_NO_BUFFER_SYNC: False}
        return (DistributedDataParallel(G, device_ids=ids, **keep), DistributedDataParallel(D, device_ids=ids, **keep))

    def sync_batchnorm(self, G: nn.Module, D: nn.Module, device: torch.device,
                       penalty: Penalty) -> tuple[nn.Module, nn.Module]:
        """G and D with SyncBatchNorm: batch statistics over the global batch (``trainer.sync_bn``)."""
        if self.world == 1:
            return G, D  # one process's batch is the global batch
        if device.type != "cuda":
            raise GanlabError(
                "trainer.sync_bn=true: PyTorch's SyncBatchNorm runs on CUDA GPUs only; on the CPU each rank "
                "normalises over its own share of the batch. Drop trainer.sync_bn, or train on GPUs.")
        if penalty.gradient and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules()):
            raise GanlabError(
                f"trainer.sync_bn=true with penalty={penalty.name}: a gradient penalty differentiates D twice, which "
                "SyncBatchNorm cannot (its backward has no derivative, pytorch issue 61222). Give D no BatchNorm "
                "(model.d_norm=layer or none, as WGAN-GP does), or drop trainer.sync_bn.")
        convert = nn.SyncBatchNorm.convert_sync_batchnorm
        return convert(G), convert(D)

    def resume_note(self, saved_world: int, saved_batch: int, batch_size: int) -> str | None:
        """What a resume by another number of processes does to the global batch (None: nothing), for a run
        trained by ``saved_world`` processes with ``trainer.batch_size=saved_batch`` going on with ``batch_size``."""
        if saved_world == self.world:
            return None
        before, after = saved_world * saved_batch, self.world * batch_size
        keep = (f"; trainer.batch_size={before // self.world} keeps {before}" if before % self.world == 0 and after != before
                else "")
        return (f"ganlab: note: this run was trained by {saved_world} process(es) with a global batch of {before} "
                f"({saved_world} x {saved_batch}); it goes on with {self.world}: global batch {after} "
                f"({self.world} x {batch_size}). trainer.batch_size is per process{keep}.")


def launched() -> Ranks:
    """This process's place as torchrun started it (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``LOCAL_WORLD_SIZE``), or a submitit job of several tasks (whose variables it exports); else ``Ranks()``."""
    if "RANK" not in os.environ and os.environ.get("SUBMITIT_EXECUTOR"):
        import submitit
        from submitit.helpers import TorchDistributedEnvironment

        if submitit.JobEnvironment().num_tasks > 1:  # every task sees all its node's GPUs (gpus_per_node)
            TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks()
    env = os.environ
    return Ranks(int(env["RANK"]), world, int(env.get("LOCAL_RANK", "0")), int(env.get("LOCAL_WORLD_SIZE", world)))


def current() -> Ranks:
    """This process's place in the run's process group (``Ranks()`` when there is none)."""
    return launched() if dist.is_available() and dist.is_initialized() else Ranks()


def hydra_args(args: list[str]) -> list[str]:
    """The command line of ``ganlab train`` for this rank: unchanged for rank 0 and a single process; for the
    other ranks one whose Hydra writes nothing. A sweep cannot be spread over torchrun's processes."""
    ranks = launched()
    if ranks.world == 1:
        return args
    if any(a in SWEEP_FLAGS for a in args):
        raise GanlabError(
            "-m/--multirun under torchrun: torchrun starts the processes of one run. Sweep multi-GPU runs through "
            "the submitit launcher instead: ganlab train -m hydra/launcher=submitit_slurm "
            "hydra.launcher.tasks_per_node=<GPUs per node> hydra.launcher.gpus_per_node=<GPUs per node> ...")
    if ranks.lead:
        return args
    mine = {a.split("=", 1)[0] for a in FOLLOWER_ARGS}
    return [a for a in args if a.split("=", 1)[0] not in mine] + FOLLOWER_ARGS


def join() -> Ranks:
    """Join the run's process group when torchrun (or a submitit job) started several processes: gloo for the
    CPU's tensors, nccl for CUDA's where there are GPUs. Ranks other than 0 print nothing from here on. A single
    process: ``Ranks()``, nothing else happens."""
    ranks = launched()
    if ranks.world == 1 or dist.is_initialized():
        return ranks
    dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo", timeout=TIMEOUT)
    atexit.register(_leave)
    if not ranks.lead:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- for the rest of the process
    return ranks


@contextlib.contextmanager
def peer_errors(run_dir: Path, steps: int) -> Iterator[None]:
    """Under torchrun: a collective that fails because another process of the run ended (killed, out of
    memory, its machine gone) is said in one paragraph, with how to go on, not as gloo's or nccl's traceback."""
    try:
        yield
    except RuntimeError as err:  # gloo's and nccl's errors (DistBackendError among them) are RuntimeErrors
        text = str(err)
        lost = isinstance(err, dist.DistError) or any(s in text for s in ("gloo", "NCCL", "Connection reset",
                                                                          "Connection closed", "Broken pipe"))
        if launched().world == 1 or not lost:
            raise
        first = next((line.strip() for line in text.splitlines() if line.strip()), type(err).__name__)
        first = re.sub(r"^\[[^\]]*\]\s*", "", first)  # gloo's source file and line
        raise GanlabError(
            f"another process of this run ended, and this one ({launched().rank}) lost it in a collective "
            f"({first[:200]}); torchrun names the process that failed, and why. The last checkpoint is kept: "
            f"continue with torchrun ... -m ganlab train resume={run_dir} trainer.steps={steps}."
        ) from err


def _leave() -> None:
    """At exit, every rank waits for the others before the group is torn down: a rank that left while rank 0 still
    evaluated made gloo abort it ("terminate called without an active exception", exit -6) now and then."""
    with contextlib.suppress(RuntimeError):  # a peer already gone: torchrun reports that rank's failure
        dist.barrier()
    dist.destroy_process_group()


def agree_run_dir(ranks: Ranks, run_dir: Path) -> Path:
    """Rank 0's run dir, on every rank (each calls this once the group is up)."""
    if ranks.world == 1:
        return run_dir
    box = [str(run_dir.resolve())]
    dist.broadcast_object_list(box, src=0)
    return Path(box[0])
