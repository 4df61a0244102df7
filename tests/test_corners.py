"""Parameter ranges that are true (issue 15): every unit generates at the corners of its
ranges (tests/sweeps.py CORNERS; the ones that take a minute or more are measured in
bench/param-corners instead), and one past each limit is refused by name."""

import dataclasses

import pytest
from lowbit.golden.checks import UsageError, parse_params
from lowbit.hw.build import write_outputs
from lowbit.hw.units import UNITS, get_unit

from .sweeps import CORNERS

_CHEAP = [pytest.param(u, c, id=f"{u}-{k}") for k, (u, c, cheap) in enumerate(CORNERS) if cheap]


def test_every_unit_has_corners():
    assert {u for u, _, cheap in CORNERS if cheap} == set(UNITS)


@pytest.mark.parametrize("unit,overrides", _CHEAP)
def test_generates_at_a_corner(unit, overrides, tmp_path):
    params = get_unit(unit).params_cls(**overrides)
    man = write_outputs(get_unit(unit), params, tmp_path / "out")
    assert man["params"] == dataclasses.asdict(params)
    assert f"module {get_unit(unit).top}(" in (tmp_path / "out" / man["verilog"]).read_text()


@pytest.mark.parametrize("unit,item,message", [
    ("popcount", "n=4097", "n must be between 1 and 4096"),
    ("xnor", "max_length=16777217", "max_length must be between"),
    ("bmvu", "thresholds=16", "thresholds must be between 0 and 15"),
    ("winograd2d", "channels=1025", "channels must be between 1 and 1024"),
    ("conv2d", "width=4097", "width must be between 1 and 4096"),
    ("conv2d", "filters=257", "filters must be between 1 and 256"),
    ("dpu", "dk=1025", "dk must be between 1 and 1024"),
    ("p2s", "max_width=33", "max_width must be between 1 and 32"),
    ("bitserial", "dm=65", "dm must be between 1 and 64"),
    ("link", "registers=129", "registers must be between 1 and 128"),
    ("lfsr", "width=65", "width must be between 2 and 64"),
    ("mac", "guard=33", "guard must be between 0 and 32"),
    ("systolic", "rows=33", "rows must be between 1 and 32"),
    ("systolic", "out_depth=65", "out_depth must be between 2 and 64"),
])
def test_one_past_a_limit_is_refused(unit, item, message):
    with pytest.raises(UsageError, match=message):
        parse_params(get_unit(unit), [item])
