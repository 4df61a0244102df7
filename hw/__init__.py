"""Amaranth components. Each builds from one parameter object of :mod:`lowbit.golden`."""

from .arith import delay, pipelined_add, segments
from .fixed import round_offset, saturate
from .lfsr import LFSR, leap_network
from .mac import PIPELINE_STAGES, FixedPointMAC

__all__ = ["LFSR", "leap_network", "FixedPointMAC", "PIPELINE_STAGES", "round_offset",
           "saturate", "delay", "pipelined_add", "segments"]
