"""Pure numpy reference models and the per-unit parameter objects. No HDL imports here."""

from .fixed import (
    MAX_WL,
    ROUNDING_MODES,
    FixedFormat,
    convert,
    quantize,
    round_shift,
    saturate,
    to_float,
)
from .lfsr import XAPP052_TAPS, LFSRModel, LFSRParams, lane_seeds
from .mac import MACParams, mac_golden

__all__ = [
    "MAX_WL", "ROUNDING_MODES", "FixedFormat", "convert", "quantize", "round_shift", "saturate",
    "to_float", "XAPP052_TAPS", "LFSRModel", "LFSRParams", "lane_seeds", "MACParams",
    "mac_golden",
]
