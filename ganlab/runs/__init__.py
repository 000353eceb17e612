"""The files of a run, for every command that reads one: checkpoints, its generator ready to sample, its
latent space, and the generator exported."""

from ganlab.runs.checkpoint import load_checkpoint, save_checkpoint
from ganlab.runs.generator import Generator, generate, read_run

__all__ = ["Generator", "generate", "load_checkpoint", "read_run", "save_checkpoint"]
