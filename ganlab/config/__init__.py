"""The config layer: the schema, its one validation pass, and the arguments of the smaller commands."""

from ganlab.config.args import parse_args
from ganlab.config.checks import to_container, validate
from ganlab.config.schema import TrainConfig, key, train_schema
from ganlab.config.spec import DataSpec

__all__ = ["DataSpec", "TrainConfig", "key", "parse_args", "to_container", "train_schema", "validate"]
