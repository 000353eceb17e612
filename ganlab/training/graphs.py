"""A training step replayed as CUDA graphs: one launch from Python per generator step.

The networks of a GAN lab are small, so on a GPU an eager step is bound by launching its several hundred
kernels from Python, not by the GPU (shared/gpu/README.md: the same 11.5 ms a DCGAN step at batch 64 and 256).
A CUDA graph records those kernels once and replays them with one call. :class:`GraphedStep` captures
:meth:`GANStep.iteration <ganlab.training.step.GANStep.iteration>` — the critic steps and the generator step,
the batches drawn on the device (data indices, noise, a penalty's random weights, from the default CUDA
generator, whose graph-safe stream gives a replay the numbers an eager step would draw), the optimisers'
updates (``capturable``, their rates device tensors that the schedules fill), the moving average of G (its
decay a device tensor) and the statistics — once for each pattern of lazy-penalty steps (a lazy penalty's D steps
are another graph), and replays it.

A pattern is run eagerly for its first :data:`WARMUP` steps (on a side stream, as torch's documentation asks:
cuDNN picks its algorithms, libraries initialise), then captured: warm-up steps and captured steps are steps
of the same run, and graph and eager are the same algorithm. Where capture cannot hold (a part that reads a
value back to the host, a data-parallel run whose all-reduce is not captured, ...), the run goes on eagerly and
says why in one line.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from ganlab.console import say
from ganlab.data import Dataset
from ganlab.errors import GanlabError
from ganlab.training.step import GANStep, Stats

WARMUP = 2  # eager steps of each pattern before it is captured


def wanted(value: object) -> bool | None:
    """``trainer.cuda_graphs`` as True, False or None (auto); YAML's and the command line's booleans arrive as
    True/False or their names."""
    text = str(value).lower()
    return None if text == "auto" else text == "true"


def graphs_refused(setting: object, device: torch.device, world: int) -> str | None:
    """Why this run's step cannot be a CUDA graph (None: it can, and will), for ``trainer.cuda_graphs``."""
    choice = wanted(setting)
    if choice is False:
        return "trainer.cuda_graphs=false"
    if device.type != "cuda":
        return f"CUDA graphs run on CUDA GPUs, and this run trains on {device.type}"
    if world > 1:
        return (f"this run's {world} processes all-reduce their gradients through DistributedDataParallel, whose "
                "communication ganlab does not capture")
    return None


@dataclass
class _Captured:
    graph: torch.cuda.CUDAGraph
    stats: Stats  # the static tensors a replay writes
    grads: Stats


class GraphedStep:
    """A :class:`GANStep` whose iterations are captured as CUDA graphs and replayed (same interface: called
    once per generator step, returns the statistics and, if asked, the gradient norms)."""

    def __init__(self, step: GANStep):
        self.step = step
        self.graphs: dict[tuple[bool, ...], _Captured] = {}
        self.eager_steps: dict[tuple[bool, ...], int] = {}
        self.failed: str | None = None  # why capture did not hold: the rest of the run is eager
        self.stream = torch.cuda.Stream(step.device)
        step.autocast_cache = False
        if step.ema is not None:
            step.ema.decay_on_device()

    def __call__(self, data: Dataset, measure_grads: bool = False) -> tuple[Stats, Stats]:
        step = self.step
        if self.failed is not None:
            return step(data, measure_grads)
        pattern = step.penalty_due()
        if step.ema is not None:
            step.ema.advance()
        captured = self.graphs.get(pattern)
        if captured is None:
            if self.eager_steps.get(pattern, 0) < WARMUP:
                self.eager_steps[pattern] = self.eager_steps.get(pattern, 0) + 1
                stats, grads = self._on_side_stream(data, measure_grads)
                return {**stats, **step.penalty_stats}, grads
            captured = self._capture(data, pattern)
            if captured is None:  # capture failed: this step goes on eagerly, as all the next ones
                try:
                    stats, grads = step.iteration(data, measure_grads)
                except RuntimeError as err:
                    raise GanlabError(
                        f"after a failed CUDA graph capture ({self.failed}) the eager step failed too ({err}). The "
                        "last checkpoint is kept: go on with `ganlab train resume=<run dir> trainer.cuda_graphs=false`."
                    ) from err
                return {**stats, **step.penalty_stats}, grads
        else:
            step.d_steps += step.n_critic  # what iteration() counts on the host when it runs
        captured.graph.replay()
        return {**captured.stats, **step.penalty_stats}, captured.grads if measure_grads else {}

    def _on_side_stream(self, data: Dataset, measure_grads: bool) -> tuple[Stats, Stats]:
        current = torch.cuda.current_stream(self.step.device)
        self.stream.wait_stream(current)
        with torch.cuda.stream(self.stream):
            out = self.step.iteration(data, measure_grads)
        current.wait_stream(self.stream)
        return out

    def _capture(self, data: Dataset, pattern: tuple[bool, ...]) -> _Captured | None:
        """Capture this step's iteration (the graph then replays it, this step included); None where capture
        fails, after saying why: the step's host state and the random stream are as before the attempt."""
        step = self.step
        d_steps, penalty_stats = step.d_steps, dict(step.penalty_stats)
        generator = torch.cuda.default_generators[step.device.index if step.device.index is not None
                                                  else torch.cuda.current_device()]
        rng = generator.clone_state()  # a failed capture leaves the generator's own state capturing
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                stats, grads = step.iteration(data, True)
        except RuntimeError as err:
            step.d_steps, step.penalty_stats = d_steps, penalty_stats
            step.freeze_d(False)  # where the capture stopped in the generator's phase
            with contextlib.suppress(RuntimeError):
                torch.cuda.synchronize(step.device)
            generator.graphsafe_set_state(rng)
            reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            self.failed = reason
            say(f"ganlab: training eagerly from step {step.d_steps // step.n_critic + 1}: a CUDA graph of the step "
                f"could not be captured ({reason}). trainer.cuda_graphs=false skips the attempt.")
            return None
        captured = _Captured(graph, stats, grads)
        self.graphs[pattern] = captured
        return captured
