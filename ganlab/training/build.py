"""A run's parts, built from its config: data on the device, G and D, optimisers, objective, penalty,
augmentation, G's EMA, and the step that updates them (replayed as CUDA graphs where it can be: training/graphs.py)."""

from __future__ import annotations

import math

import torch
from omegaconf import DictConfig

from ganlab.augment import build_augment
from ganlab.config.spec import DataSpec
from ganlab.console import say
from ganlab.data import load_dataset, spec_of
from ganlab.errors import GanlabError
from ganlab.memory import check_fits
from ganlab.models import build_models, networks_for
from ganlab.objectives import build_objective, build_penalty
from ganlab.training.device import autocast_dtype, use_channels_last
from ganlab.training.distributed import current
from ganlab.training.ema import GeneratorEMA
from ganlab.training.graphs import GraphedStep, graphs_refused, wanted
from ganlab.training.optim import build_optimizers
from ganlab.training.step import GANStep, compile_networks


def check_memory(cfg: DictConfig, spec: DataSpec, device: torch.device) -> None:
    """Refuse networks and batches that cannot run or fit before allocating them: BatchNorm over a batch of one
    sample, and what must fit: the parameters with their gradients
    and Adam's two moments (counted on the meta device, which allocates nothing), and the real and fake batches
    (or the fixed-noise samples, whichever is larger)."""
    with torch.device("meta"):
        G, D = build_models(cfg.model, spec)
    params = sum(p.numel() for net in (G, D) for p in net.parameters())
    t = cfg.trainer
    if t.batch_size < 2 and any(isinstance(m, torch.nn.BatchNorm1d) for net in (G, D) for m in net.modules()):
        raise GanlabError(f"trainer.batch_size={t.batch_size}: model={cfg.model.name} normalises over the batch "
                          "(model.g_norm or model.d_norm is batch), which needs at least 2 samples. Raise "
                          "trainer.batch_size, or set model.g_norm / model.d_norm to layer or none.")
    batch = max(2 * t.batch_size, t.num_samples) * 4 * math.prod(spec.shape)
    check_fits(16 * params + batch, f"model={cfg.model.name} on data={spec.name} {'x'.join(map(str, spec.shape))} "
               f"({params / 1e6:,.1f} M parameters, with gradients and optimiser state) and a batch of "
               f"trainer.batch_size={t.batch_size}", "Lower model.hidden / model.channels / model.layers, "
               "trainer.batch_size, trainer.num_samples or data.image_size.", device)


class Parts:
    """Everything one run trains with, built from ``cfg`` (seeded by ``cfg.seed``, alike on every rank of a
    data-parallel run). The learning-rate schedules are built by the trainer once it knows the step it starts at.
    ``gan_step`` updates G and D by one generator step; ``graphed`` replays it as CUDA graphs (None: eager)."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        torch.manual_seed(cfg.seed)
        self.ranks = current()  # under torchrun: this process's rank (see training/distributed.py)
        self.device = self.ranks.device(cfg.device)  # resolve_device, or this rank's own GPU
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.data = load_dataset(cfg.data, check=lambda spec: check_memory(cfg, spec, self.device),
                                 seed=cfg.seed).to(self.device)
        self.spec = spec_of(self.data)
        self.penalty = build_penalty(cfg.penalty)
        self.penalty.share = self.ranks.share
        G, D = build_models(cfg.model, self.spec)
        if cfg.trainer.sync_bn:
            G, D = self.ranks.sync_batchnorm(G, D, self.device, self.penalty)
        family = networks_for(cfg.model, self.spec)
        self.channels_last = use_channels_last(cfg.device, self.device, family.channels_last, cfg.trainer.compile)
        memory_format = torch.channels_last if self.channels_last else torch.preserve_format
        self.G, self.D = G.to(self.device, memory_format=memory_format), D.to(self.device, memory_format=memory_format)
        refused = graphs_refused(cfg.trainer.cuda_graphs, self.device, self.ranks.world)
        if refused and (wanted(cfg.trainer.cuda_graphs) or (self.device.type == "cuda" and wanted(
                cfg.trainer.cuda_graphs) is None)):  # asked for, or the CUDA default: say why not
            say(f"ganlab: training eagerly, without CUDA graphs: {refused}.")
        self.opt_g, self.opt_d = build_optimizers(cfg.optim, self.G, self.D, capturable=refused is None)
        self.objective = build_objective(cfg.objective)
        self.augment = build_augment(cfg.augment).to(self.device)
        self.augment.share, self.augment.reduce = self.ranks.share, self.ranks.average
        self.ema = (GeneratorEMA(self.G, cfg.model.ema, cfg.trainer.batch_size, cfg.model.ema_rampup)
                    if cfg.model.ema else None)
        # the generator a run shows and evaluates: the moving average when there is one
        self.generator = self.ema.module if self.ema is not None else self.G
        forwards = self.ranks.wrap(self.G, self.D)  # DistributedDataParallel under torchrun
        self.gan_step = GANStep(self.G, self.D, self.opt_g, self.opt_d, self.objective, self.penalty,
                                n_critic=cfg.trainer.n_critic, batch_size=cfg.trainer.batch_size,
                                autocast_dtype=autocast_dtype(cfg.device, self.device, family.bf16_on_cpu),
                                channels_last=self.channels_last,
                                compiled=compile_networks(*forwards) if cfg.trainer.compile else forwards,
                                penalty_every=cfg.penalty.every, share=self.ranks.share, ema=self.ema,
                                augment=self.augment)
        self.graphed = GraphedStep(self.gan_step) if refused is None else None
