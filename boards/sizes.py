"""Each unit's size on each board: the parameters ``lowbit synth``, ``lowbit bench`` and the host
driver use when the user gives none.

The sizes leave room for the host link around the unit (:mod:`lowbit.hw.link`), which on the
UP5K takes about 900 logic cells and 7 block RAMs. The bit-serial sizes come from
``lowbit fit bitserial`` (the cost model in :mod:`lowbit.boards.costmodel`) with that room taken
off the budget; the others are the largest round sizes that place with the link and meet the
board clock. ``lowbit bench`` measures every entry. The sizes themselves are on each unit's
registry entry (:attr:`lowbit.hw.units.Unit.sizes`), where the unit is defined.
"""

import dataclasses

from ..hw.units import get_unit
from .targets import get_board

__all__ = ["board_params", "sized_params", "board_dsp", "link_clock_mhz"]


def board_dsp(unit_name, board_name):
    """Whether ``unit_name`` on ``board_name`` maps its multiplies to DSP blocks (its registry
    entry's :attr:`~lowbit.hw.units.Unit.no_dsp` lists the boards where it does not)."""
    return get_board(board_name).name not in get_unit(unit_name).no_dsp


def board_params(unit_name, board_name, **overrides):
    """``unit_name``'s parameter object sized for ``board_name`` (its registry entry's
    :attr:`~lowbit.hw.units.Unit.sizes`), with ``overrides`` on top."""
    unit = get_unit(unit_name)
    board = get_board(board_name)
    values = dict(unit.sizes.get(board.name, {}))
    values.update(overrides)
    return dataclasses.replace(unit.defaults(), **values)


def sized_params(unit_name, board_name, items):
    """The unit's parameters for the board (:func:`board_params`) with ``key=value`` items
    (``-p``) on top, as ``lowbit synth`` and ``lowbit sweep`` take them; a bad item or a
    combination the unit refuses is a :class:`~lowbit.golden.checks.UsageError`."""
    from ..golden.checks import UsageError, parse_params

    unit = get_unit(unit_name)
    given = parse_params(unit, items)  # validates the items
    keys = {item.partition("=")[0].strip() for item in items}
    sized = board_params(unit.name, board_name)
    try:
        return dataclasses.replace(sized, **{k: getattr(given, k) for k in keys})
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{unit.name} on {board_name}: {exc}") from None


def link_clock_mhz(unit_name, board_name):
    """The clock ``unit_name`` runs at behind the host link on ``board_name``: its registry
    entry's :attr:`~lowbit.hw.units.Unit.link_clocks` (a PLL clock), else the board's
    :attr:`~lowbit.boards.targets.Board.link_clock_mhz`."""
    board = get_board(board_name)
    return get_unit(unit_name).link_clocks.get(board.name, board.link_clock_mhz)
