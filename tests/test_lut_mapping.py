"""``lut_mapping`` (``lowbit synth --lut-mapping``): the Yosys scripts each choice writes, for
the unit's own synthesis and for the board build, without running the tools (the delay-mapped
netlist itself is simulated in tests/test_netlist_sim.py)."""

from pathlib import Path

import pytest
from lowbit.boards import flow, get_board
from lowbit.golden import MACParams
from lowbit.golden.checks import UsageError
from lowbit.hw.units import get_unit

DELAY_ABC = ("abc9 -W 300 -script +&scorr;&sweep;&dc2;&dch,-f,-r;&ps;&if,-W,300,-F,0,-A,0,-v;"
             "&ps,-l")


class _Stop(Exception):
    pass


def _scripts(monkeypatch, tmp_path, board_name, lut_mapping):
    """The ``unit.ys`` of the unit's own synthesis and the ``top.ys`` of the board build,
    stopped before the first tool runs."""
    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(flow, "_run", stop)
    unit, board = get_unit("mac"), get_board(board_name)
    scripts = []
    for name, call in (
            ("unit", lambda work: flow._unit_synth(unit, MACParams(), board, work, {},
                                                   lambda line: None,
                                                   lut_mapping=lut_mapping)),
            ("board", lambda work: flow._board_build(unit, MACParams(), board, 100.0, work,
                                                     {}, lambda line: None,
                                                     lut_mapping=lut_mapping))):
        work = tmp_path / name
        work.mkdir()
        with pytest.raises(_Stop):
            call(work)
        scripts.append((work / ("unit.ys" if name == "unit" else "top.ys")).read_text())
    return scripts


def test_area_is_yosys_own_flow(monkeypatch, tmp_path):
    board = get_board("ulx3s-85f")
    assert flow.lut_mapping_script(board, "area", "top") == ([], "")
    for script in _scripts(monkeypatch, tmp_path, "ulx3s-85f", "area"):
        assert "map_luts" not in script and "abc9" not in script


def test_delay_splits_synth_ecp5_around_its_lut_mapping(monkeypatch, tmp_path):
    unit_ys, top_ys = _scripts(monkeypatch, tmp_path, "ulx3s-85f", "delay")
    for script, top in ((unit_ys, get_unit("mac").top), (top_ys, "top")):
        lines = [line.strip() for line in script.splitlines()]
        first = next(k for k, line in enumerate(lines) if line.startswith("synth_ecp5"))
        assert "-run begin:map_luts" in lines[first] and f"-top {top}" in lines[first]
        rest = lines[first + 1:]
        assert rest[:5] == ["check -latchonly -assert",
                            "techmap -map +/lattice/latches_map.v", DELAY_ABC, "clean",
                            f"synth_ecp5 -top {top} -run map_cells:"]


@pytest.mark.parametrize("board_name,mapping,message", [
    ("icebreaker", "delay", "--lut-mapping delay is for ECP5 boards; icebreaker is ice40"),
    ("tangnano9k", "delay", "--lut-mapping delay is for ECP5 boards; tangnano9k is gowin"),
    ("ulx3s-85f", "fast", "unknown LUT mapping 'fast'; choose one of: area, delay"),
])
def test_bad_mappings_are_refused_before_any_script(board_name, mapping, message, tmp_path):
    board = get_board(board_name)
    with pytest.raises(UsageError, match=message):
        flow.lut_mapping_script(board, mapping, "top")
    with pytest.raises(UsageError, match=message):
        flow.synth("mac", None, board_name, tmp_path / "out", lut_mapping=mapping)
    assert not any(Path(tmp_path).iterdir())
