"""Each unit's size on each board: the parameters ``lowbit synth``, ``lowbit bench`` and the host
driver use when the user gives none.

The sizes leave room for the host link around the unit (:mod:`lowbit.hw.link`), which on the
UP5K takes about 900 logic cells and 7 block RAMs. The bit-serial sizes come from
``lowbit fit bitserial`` (the cost model in :mod:`lowbit.boards.costmodel`) with that room taken
off the budget; the others are the largest round sizes that place with the link and meet the
board clock. ``lowbit bench`` measures every entry.
"""

import dataclasses

from ..hw.units import get_unit
from .targets import get_board

__all__ = ["BOARD_SIZES", "NO_DSP", "board_params", "board_dsp"]

#: ``{board: {unit: {parameter: value}}}``; a unit or parameter not listed takes its default.
BOARD_SIZES = {
    "icebreaker": {
        # With the link: 3827 of 5280 logic cells, 22 of 30 block RAMs, 23.8 MHz.
        "bitserial": dict(dm=2, dn=2, dk=32, max_m=8, max_n=8, max_k=128),
        # 16 multiplies in LUTs (the UP5K has 8 DSPs): 8-bit data needs 7000+ cells; 4-bit
        # data and 3-bit weights take 5125 of 5280 with the link, 25.6 MHz.
        "conv2d": dict(data_width=4, weight_width=3, height=16, width=16, channels=1),
        # The tile engines the same way (Yosys: 2582 and 1546 LUT4 alone at 4 x 3 bits).
        "winograd2d": dict(data_width=4, weight_width=3),
        "direct3x3": dict(data_width=4, weight_width=3),
        "bmvu": dict(rows=16, cols=64, pe=4, simd=16),
    },
    "tangnano9k": {
        "bitserial": dict(dm=2, dn=2, dk=32, max_m=8, max_n=8, max_k=128),
        "conv2d": dict(height=32, width=32, channels=1),
        # 36 multiplies, 20 multiplier blocks: in LUTs at 4 bits (5457 LUT4 alone, Yosys).
        "direct3x3": dict(data_width=4, weight_width=4),
        "bmvu": dict(rows=16, cols=64, pe=4, simd=16),
    },
    "ulx3s-85f": {
        "bitserial": dict(dm=4, dn=4, dk=64, max_m=32, max_n=32, max_k=512),
        "conv2d": dict(height=64, width=64, channels=3),
        "bmvu": dict(rows=64, cols=256, pe=8, simd=32),
    },
}


#: ``(board, unit)`` pairs whose multiplies go into LUTs: the unit needs more multipliers
#: than the device has DSP blocks (the UP5K has 8 SB_MAC16; the Winograd engines need 16 and
#: the direct one 36).
NO_DSP = {("icebreaker", "conv2d"), ("icebreaker", "winograd2d"),
          ("icebreaker", "direct3x3"), ("tangnano9k", "direct3x3")}


def board_dsp(unit_name, board_name):
    """Whether ``unit_name`` on ``board_name`` maps its multiplies to DSP blocks."""
    return (get_board(board_name).name, get_unit(unit_name).name) not in NO_DSP


def board_params(unit_name, board_name, **overrides):
    """``unit_name``'s parameter object sized for ``board_name``, with ``overrides`` on top."""
    unit = get_unit(unit_name)
    board = get_board(board_name)
    values = dict(BOARD_SIZES.get(board.name, {}).get(unit.name, {}))
    values.update(overrides)
    return dataclasses.replace(unit.defaults(), **values)
