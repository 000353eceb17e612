"""The config layer: the schema, its one validation pass, and the arguments of the smaller commands."""

from ganlab.config.args import parse_args
from ganlab.config.checks import to_container, validate
from ganlab.config.parts import open_schema
from ganlab.config.schema import TrainConfig, key
from ganlab.config.spec import DataSpec

__all__ = ["DataSpec", "TrainConfig", "key", "open_schema", "parse_args", "to_container", "validate"]
