"""The orchestration layer: unit registry, generation, and the ``lowbit`` CLI."""

from .build import generated, write_outputs
from .units import UNITS, UsageError, get_unit, parse_params

__all__ = ["UNITS", "UsageError", "get_unit", "parse_params", "generated", "write_outputs"]
