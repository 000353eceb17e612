"""ganlab: a config-driven command line lab for training and studying GANs."""

__version__ = "0.1.0"
