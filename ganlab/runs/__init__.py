"""The files of a run, for every command that reads one: checkpoints, and its generator ready to sample."""

from ganlab.runs.checkpoint import load_checkpoint, save_checkpoint
from ganlab.runs.generator import Weights, generate, load_generator, weights_used

__all__ = ["Weights", "generate", "load_checkpoint", "load_generator", "save_checkpoint", "weights_used"]
