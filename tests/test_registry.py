"""The unit registry walked entry by entry: a unit that lacks a piece it needs fails here.

Each unit is defined once (lowbit.hw.units); these checks are what keeps a new entry complete:
its parameters, its component's ports against its adapter, its compare front-end, its board
sizes and its tests.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from lowbit.boards import BOARDS
from lowbit.boards.sizes import board_params
from lowbit.golden.bitserial import result_words
from lowbit.golden.job import Job, chain
from lowbit.golden.payload import PLAIN
from lowbit.hw.build import generated
from lowbit.hw.units import UNITS

NAMES = list(UNITS)


def _ports(man):
    return {p["name"]: p for p in man["ports"]}


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_complete(name, pytestconfig):
    unit = UNITS[name]
    markers = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert unit.name == name and unit.summary and unit.top == f"lowbit_{name}"
    assert dataclasses.is_dataclass(unit.params_cls)
    assert unit.params_cls.__dataclass_params__.frozen, "parameters must be a frozen dataclass"
    unit.defaults()  # every parameter has a default that validates
    assert unit.marker in markers
    assert len(unit.synth_seconds) == 2


@pytest.mark.parametrize("name", NAMES)
def test_streams_have_an_adapter_and_compare(name):
    """A unit with streams ``i`` and ``o`` has an adapter and a compare front-end; one
    without has neither."""
    unit = UNITS[name]
    _, man = generated(unit, unit.defaults())
    ports = _ports(man)
    streams = "i__payload" in ports and "o__payload" in ports
    assert (unit.adapter is not None) == streams, "adapter"
    assert (unit.compare is not None) == streams, "compare"
    if unit.compare:
        assert callable(unit.compare.prepare)
        assert set(unit.compare.options) <= _compare_flags(), \
            "an option lowbit compare has no flag for (gen/cli.py)"


def _compare_flags():
    """The destinations of ``lowbit compare``'s options, read from the parser itself."""
    import argparse

    from lowbit.gen.cli import _parser
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest for a in sub.choices["compare"]._actions}


@pytest.mark.parametrize("name", NAMES)
def test_sizes_name_boards_and_valid_parameters(name):
    unit = UNITS[name]
    assert set(unit.sizes) <= set(BOARDS) and set(unit.no_dsp) <= set(BOARDS)
    for board in unit.sizes:
        board_params(name, board)  # validates


@pytest.mark.parametrize("name", NAMES)
def test_unit_has_tests(name):
    """Some test module carries the unit's marker and names the unit."""
    marker = UNITS[name].marker
    here = Path(__file__).parent
    found = [p.name for p in here.glob("test_*.py")
             if f"pytest.mark.{marker}" in p.read_text() and name in p.read_text()]
    assert found, f"no test module marked {marker!r} mentions {name!r}"


def _mac_job():
    return UNITS["mac"].job(UNITS["mac"].defaults(), [1, 2], [3, 4], [1, 0], [0, 1])


def test_job_beats_match_the_manifest_fields():
    """The adapter's beat columns are the manifest's payload fields (or the one plain
    column), checked on a unit with fields and one without."""
    unit = UNITS["mac"]
    _, man = generated(unit, unit.defaults())
    assert set(_mac_job().beats) == set(_ports(man)["i__payload"]["fields"])
    pc = UNITS["popcount"]
    job = pc.job(pc.defaults(), [0, 1, 3])
    assert set(job.beats) == {PLAIN} and job.unit == "popcount" and job.expect == 3


def test_chain_joins_jobs_and_moves_held_ports_to_beats():
    unit = UNITS["bitserial"]
    p = unit.defaults()
    a = unit.job(p, np.ones((2, 3), int), np.ones((3, 2), int), 2, 3, True, False)
    b = unit.job(p, np.ones((1, 5), int), np.ones((5, 1), int), 1, 1, False, True)
    both = chain([a, b])
    assert both.expect == a.expect + b.expect and len(both) == len(a) + len(b)
    assert both.beat_ports["wa"] == [2] * len(a) + [1] * len(b)
    assert not both.hold
    # One 2x2 tile each (the default array is 2x2): C of a is [[0, 1], [2, -3]], of b [[4]].
    tiles = result_words(p, np.array([[0, 1], [2, -3]])) + result_words(p, np.array([[4]]))
    got = both.decode({"tile": tiles, "last": [1, 1]})
    assert got[0].tolist() == [[0, 1], [2, -3]] and got[1].tolist() == [[4]]
    assert both.decode({"tile": tiles, "last": [0, 1]}) is None  # a misplaced last
    with pytest.raises(ValueError):
        chain([a, _mac_job()])


def test_loads_become_one_write_a_cycle():
    job = Job({PLAIN: [1]}, 1, list, loads=[{"w_addr": 0, "w_data": 5, "w_en": 1},
                                            {"t_addr": 1, "t_data": 7, "t_en": 1}])
    assert job.load_columns() == {"w_addr": [0, 0], "w_data": [5, 0], "w_en": [1, 0],
                                  "t_addr": [0, 1], "t_data": [0, 7], "t_en": [0, 1]}
