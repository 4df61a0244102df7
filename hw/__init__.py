"""Amaranth components. Each builds from one parameter object of :mod:`lowbit.golden`."""

from .fixed import round_shift, saturate
from .lfsr import LFSR, leap_network
from .mac import PIPELINE_STAGES, FixedPointMAC

__all__ = ["LFSR", "leap_network", "FixedPointMAC", "PIPELINE_STAGES", "round_shift", "saturate"]
