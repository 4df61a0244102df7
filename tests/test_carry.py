"""lowbit.boards.carry: a carry chain's ends are unconnected only where nothing read changes."""

from lowbit.boards.carry import free_chain_ends


def _ccu2c(init0, cin="0", cout=10, s0=11, a0=1, c0="0", d0="1"):
    return {"type": "CCU2C", "parameters": {"INIT0": format(init0, "016b")},
            "port_directions": {"CIN": "input", "A0": "input", "B0": "input", "C0": "input",
                                "D0": "input", "S0": "output", "COUT": "output"},
            "connections": {"CIN": [cin], "A0": [a0], "B0": [2], "C0": [c0], "D0": [d0],
                            "S0": [s0], "COUT": [cout]}}


def _sink(bit):
    return {"type": "LUT4", "parameters": {}, "port_directions": {"A": "input", "Z": "output"},
            "connections": {"A": [bit], "Z": [99]}}


def _module(**cells):
    return {"ports": {"o": {"direction": "output", "bits": [50]}}, "cells": cells}


GUARD = 0x0088  # D0 = 1: p = 0; g = A0 & B0 (popcount_chain's first position)
ADD = 0x96AA    # Yosys's adder bit: p = A0 ^ B0 with D0 = 1


def test_a_guard_head_and_an_unread_tail_are_freed():
    mod = _module(c=_ccu2c(GUARD))
    assert free_chain_ends(mod) == {"carry_ins": 1, "carry_outs": 1}
    assert mod["cells"]["c"]["connections"]["CIN"] == ["x"]
    assert mod["cells"]["c"]["connections"]["COUT"] == ["x"]


def test_what_is_read_or_propagates_stays():
    cases = {
        "an adder's first bit propagates": (_module(c=_ccu2c(ADD)), 0),
        "D0 not tied: the LUT can propagate": (_module(c=_ccu2c(GUARD, d0=3)), 0),
        "S0 is read": (_module(c=_ccu2c(GUARD), r=_sink(11)), 0),
        "a carry in from a net": (_module(c=_ccu2c(GUARD, cin=7)), 0),
    }
    for why, (mod, ins) in cases.items():
        assert free_chain_ends(mod)["carry_ins"] == ins, why
        assert mod["cells"]["c"]["connections"]["CIN"] != ["x"], why
    for why, mod in {"read by a cell": _module(c=_ccu2c(GUARD), r=_sink(10)),
                     "a module output": _module(c=_ccu2c(GUARD, cout=50))}.items():
        assert free_chain_ends(mod)["carry_outs"] == 0, why
        assert mod["cells"]["c"]["connections"]["COUT"] != ["x"], why
