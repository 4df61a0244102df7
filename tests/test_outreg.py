"""Primitive registers on ECP5 (boards/outreg.py): the read-data flip-flop after a DP16KD moves
into the RAM, and the operand and product flip-flops around a MULT18X18D into the multiplier,
only when that changes nothing at the pins."""

import copy
import json
import subprocess
import sys

import pytest
from lowbit.boards.outreg import (
    absorb_in_file,
    absorb_multiplier_registers,
    absorb_output_registers,
)

CLK, EN, RST, OTHER_CLK = 2, 3, 4, 5


def _ram(width_a=36, **conn):
    """A DP16KD as Yosys writes it, reading on port B (pins DOA0/DOB0 on nets 10/11)."""
    connections = {"CLKA": [CLK], "CLKB": [CLK], "CEB": ["1"], "OCEA": ["0"], "OCEB": ["1"],
                   "RSTA": ["0"], "RSTB": ["0"], "DOA0": [10], "DOB0": [11]}
    connections.update(conn)
    return {"type": "DP16KD",
            "parameters": {"DATA_WIDTH_A": format(width_a, "032b"), "DATA_WIDTH_B":
                           format(width_a, "032b"), "REGMODE_A": "NOREG",
                           "REGMODE_B": "NOREG", "CLKAMUX": "CLKA", "CLKBMUX": "CLKB"},
            "port_directions": {p: ("output" if p.startswith("DO") else "input")
                                for p in connections},
            "connections": connections}


def _ff(d, q, clk=CLK, ce=None, lsr=None, **params):
    p = {"CEMUX": "1 " if ce is None else "CE", "CLKMUX": "CLK", "GSR": "DISABLED",
         "LSRMUX": "LSR", "REGSET": "RESET", "SRMODE": "LSR_OVER_CE"}
    p.update(params)
    conn = {"CLK": [clk], "DI": [d], "LSR": ["0"] if lsr is None else [lsr], "Q": [q]}
    if ce is not None:
        conn["CE"] = [ce]
    return {"type": "TRELLIS_FF", "parameters": p,
            "port_directions": {"CLK": "input", "DI": "input", "LSR": "input", "CE": "input",
                                "Q": "output"},
            "connections": conn}


def _sink(bit):
    return {"type": "LUT4", "parameters": {"INIT": "0" * 16},
            "port_directions": {"A": "input", "Z": "output"},
            "connections": {"A": [bit], "Z": [99]}}


def _module(**cells):
    return {"ports": {"o": {"direction": "output", "bits": [20, 21]}}, "cells": cells}


def test_both_data_pins_of_a_pdp_read_port_move_in():
    mod = _module(ram=_ram(), ff0=_ff(10, 20), ff1=_ff(11, 21))
    assert absorb_output_registers(mod) == {"rams": 1, "ffs": 2}
    ram = mod["cells"]["ram"]
    assert set(mod["cells"]) == {"ram"}
    assert ram["connections"]["DOA0"] == [20] and ram["connections"]["DOB0"] == [21]
    assert ram["parameters"]["REGMODE_A"] == ram["parameters"]["REGMODE_B"] == "OUTREG"
    # Both output enables: the low half's register may follow port A's.
    assert ram["connections"]["OCEA"] == ram["connections"]["OCEB"] == ["1"]


def test_a_common_clock_enable_becomes_the_output_enable():
    mod = _module(ram=_ram(), ff0=_ff(10, 20, ce=EN), ff1=_ff(11, 21, ce=EN))
    assert absorb_output_registers(mod) == {"rams": 1, "ffs": 2}
    assert mod["cells"]["ram"]["connections"]["OCEA"] == [EN]
    assert mod["cells"]["ram"]["connections"]["OCEB"] == [EN]


def test_a_true_dual_port_ram_changes_only_the_read_port():
    mod = _module(ram=_ram(width_a=18, DOA0=["x"]), ff1=_ff(11, 21))
    assert absorb_output_registers(mod) == {"rams": 1, "ffs": 1}
    params = mod["cells"]["ram"]["parameters"]
    assert (params["REGMODE_A"], params["REGMODE_B"]) == ("NOREG", "OUTREG")
    assert mod["cells"]["ram"]["connections"]["OCEA"] == ["0"]


@pytest.mark.parametrize("why,cells", [
    ("a reset", dict(ff0=_ff(10, 20, lsr=RST), ff1=_ff(11, 21))),
    ("an inverted reset", dict(ff0=_ff(10, 20, LSRMUX="INV"), ff1=_ff(11, 21))),
    ("set, not reset", dict(ff0=_ff(10, 20, REGSET="SET"), ff1=_ff(11, 21))),
    ("another clock", dict(ff0=_ff(10, 20, clk=OTHER_CLK), ff1=_ff(11, 21))),
    ("an inverted clock", dict(ff0=_ff(10, 20, CLKMUX="INV"), ff1=_ff(11, 21))),
    ("two enables", dict(ff0=_ff(10, 20, ce=EN), ff1=_ff(11, 21))),
    ("an inverted enable", dict(ff0=_ff(10, 20, ce=EN, CEMUX="INV"), ff1=_ff(11, 21, ce=EN))),
    ("a second reader", dict(ff0=_ff(10, 20), ff1=_ff(11, 21), lut=_sink(10))),
    ("logic, not a flip-flop", dict(ff0=_ff(10, 20), lut=_sink(11))),
    ("the flip-flop's other input", dict(ff0=_ff(10, 20), ff1={
        **_ff(12, 21), "connections": {"CLK": [CLK], "DI": [12], "CE": [11], "Q": [21],
                                       "LSR": ["0"]}})),
])
def test_anything_else_is_left_alone(why, cells):
    mod = _module(ram=_ram(), **cells)
    before = copy.deepcopy(mod)
    assert absorb_output_registers(mod) == {"rams": 0, "ffs": 0}, why
    assert mod == before, why


def test_a_pin_on_a_top_level_output_is_left_alone():
    mod = _module(ram=_ram(DOA0=[20]), ff1=_ff(11, 21))
    before = copy.deepcopy(mod)
    assert absorb_output_registers(mod) == {"rams": 0, "ffs": 0}
    assert mod == before


def _with_params(ram, **params):
    return {**ram, "parameters": {**ram["parameters"], **params}}


@pytest.mark.parametrize("why,ram", [
    ("a read-port reset", _ram(RSTB=[RST])),
    ("a write-port reset in the 36-bit mode", _ram(RSTA=[RST])),
    ("two clocks in the 36-bit mode", _ram(CLKA=[OTHER_CLK])),
    ("an inverted read clock", _with_params(_ram(), CLKBMUX="INV")),
    ("an inverted write clock in the 36-bit mode", _with_params(_ram(), CLKAMUX="INV")),
    ("a registered port already", _with_params(_ram(), REGMODE_B="OUTREG")),
])
def test_ram_settings_that_do_not_allow_it_are_left_alone(why, ram):
    mod = _module(ram=ram, ff0=_ff(10, 20), ff1=_ff(11, 21))
    before = copy.deepcopy(mod)
    assert absorb_output_registers(mod) == {"rams": 0, "ffs": 0}, why
    assert mod == before, why


def test_a_flip_flop_that_never_loads_is_left_alone():
    mod = _module(ram=_ram(), ff0=_ff(10, 20, CEMUX="0"), ff1=_ff(11, 21))
    before = copy.deepcopy(mod)
    assert absorb_output_registers(mod) == {"rams": 0, "ffs": 0}
    assert mod == before


_DESIGN = """
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import memory
from amaranth.back import rtlil
from lowbit.hw.ram import NO_RW_CHECK, registered_read
class T(Elaboratable):
    def __init__(self):
        self.waddr, self.raddr = Signal(9), Signal(9)
        self.wdata, self.q = Signal(72), Signal(72)
        self.we, self.ce = Signal(), Signal()
    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=72, depth=512, init=[],
                                               attrs=NO_RW_CHECK)
        wp = mem.write_port()
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we)]
        m.d.sync += self.q.eq(registered_read(m, mem, self.raddr, self.ce, name="rd"))
        return m
t = T()
print(rtlil.convert(t, ports=[t.waddr, t.raddr, t.wdata, t.q, t.we, t.ce], name="t"))
"""


def test_yosys_ecp5_netlist(tmp_path):
    """Through Yosys: a 72-bit, 512-deep memory (two DP16KD) read with
    hw.ram.registered_read under an enable: the read-data register moves into the RAMs, its
    enable becomes their output enable, and no collision logic is left between."""
    from lowbit.boards.toolchain import check_tools, run_tool, tool_env_var, toolchain_env

    (tmp_path / "t.il").write_text(subprocess.run(
        [sys.executable, "-c", _DESIGN], check=True, capture_output=True, text=True).stdout)
    env = toolchain_env(check_tools("ecp5"))
    run_tool([env[tool_env_var("yosys")], "-q", "-p",
              "read_rtlil t.il; synth_ecp5 -top t -json t.json"],
             cwd=tmp_path, env=env, console=tmp_path / "yosys.console", check=True)
    before = json.loads((tmp_path / "t.json").read_text())["modules"]["t"]["cells"]
    # The read-data register and q: nothing else (the port register is in the RAMs, and no
    # bypass logic).
    assert {c["type"] for c in before.values()} == {"DP16KD", "TRELLIS_FF"}
    assert sum(c["type"] == "TRELLIS_FF" for c in before.values()) == 72 + 72
    assert absorb_in_file(tmp_path / "t.json") == {"rams": 2, "ffs": 72, "mults": 0,
                                                "mult_ffs": 0, "carry_ins": 0,
                                                "carry_outs": 0}
    cells = json.loads((tmp_path / "t.json").read_text())["modules"]["t"]["cells"]
    assert sum(c["type"] == "TRELLIS_FF" for c in cells.values()) == 72
    rams = [c for c in cells.values() if c["type"] == "DP16KD"]
    assert len(rams) == 2
    for ram in rams:
        assert ram["parameters"]["REGMODE_A"] == ram["parameters"]["REGMODE_B"] == "OUTREG"
        # Both registers advance under the enable: the read port's (CEB) and the output's.
        assert ram["connections"]["OCEB"] == ram["connections"]["CEB"] != ["1"]
        assert ram["connections"]["OCEA"] == ram["connections"]["CEB"]


# Multipliers: a 2 x 2-bit MULT18X18D as Yosys writes it, A1:A0 on nets 30-31 (A17..A2 the sign
# of A1, as for a signed operand), B1:B0 on 32-33, P1:P0 on 40-41 (P2.. unused).
A_D, A_Q, B_D, B_Q, P_Q = (50, 51), (30, 31), (52, 53), (32, 33), (60, 61)


def _mult(**conn):
    connections = {f"A{i}": [A_Q[min(i, 1)]] for i in range(18)}
    connections.update({f"B{i}": [B_Q[i]] if i < 2 else ["0"] for i in range(18)})
    connections.update({f"C{i}": ["0"] for i in range(18)})
    connections.update({f"P{i}": [40 + i] if i < 2 else [70 + i] for i in range(36)})
    connections.update(SIGNEDA=["1"], SIGNEDB=["0"], SOURCEA=["0"], SOURCEB=["0"])
    connections.update(conn)
    return {"type": "MULT18X18D", "parameters": {},
            "port_directions": {p: ("output" if p.startswith("P") else "input")
                                for p in connections},
            "connections": connections}


def _mult_ffs(ce=None, **overrides):
    """Operand flip-flops in front of the multiplier and product flip-flops after it."""
    ffs = {f"fa{i}": _ff(A_D[i], A_Q[i], ce=ce) for i in range(2)}
    ffs.update({f"fb{i}": _ff(B_D[i], B_Q[i], ce=ce) for i in range(2)})
    ffs.update({f"fp{i}": _ff(40 + i, P_Q[i], ce=ce) for i in range(2)})
    ffs.update(overrides)
    return {k: v for k, v in ffs.items() if v is not None}


def _mod_out(**cells):
    return {"ports": {"o": {"direction": "output", "bits": list(P_Q)}}, "cells": cells}


def test_operand_and_product_flip_flops_move_into_the_multiplier():
    mod = _mod_out(mult=_mult(), **_mult_ffs(ce=EN))
    assert absorb_multiplier_registers(mod) == {"mults": 1, "ffs": 6}
    mult = mod["cells"]["mult"]
    assert set(mod["cells"]) == {"mult"}
    conn, params = mult["connections"], mult["parameters"]
    # The pins take the flip-flops' inputs (the sign extension too), the product their outputs.
    assert [conn[f"A{i}"] for i in (0, 1, 17)] == [[A_D[0]], [A_D[1]], [A_D[1]]]
    assert [conn[f"B{i}"] for i in (0, 1, 2)] == [[B_D[0]], [B_D[1]], ["0"]]
    assert [conn[f"P{i}"] for i in (0, 1)] == [[P_Q[0]], [P_Q[1]]]
    for reg in ("INPUTA", "INPUTB", "OUTPUT"):
        assert (params[f"REG_{reg}_CLK"], params[f"REG_{reg}_CE"],
                params[f"REG_{reg}_RST"]) == ("CLK0", "CE0", "RST0")
    assert (conn["CLK0"], conn["CE0"], conn["RST0"]) == ([CLK], [EN], ["0"])
    assert mult["port_directions"]["CE0"] == "input"


def test_an_operand_flip_flop_with_other_readers_stays_for_them():
    mod = _mod_out(mult=_mult(), lut=_sink(A_Q[0]), **_mult_ffs())
    assert absorb_multiplier_registers(mod) == {"mults": 1, "ffs": 5}
    assert "fa0" in mod["cells"] and mod["cells"]["mult"]["connections"]["A0"] == [A_D[0]]


def test_product_flip_flops_with_another_enable_stay_outside():
    mod = _mod_out(mult=_mult(), **_mult_ffs(ce=EN, fp0=_ff(40, P_Q[0]),
                                              fp1=_ff(41, P_Q[1])))
    assert absorb_multiplier_registers(mod) == {"mults": 1, "ffs": 4}
    params = mod["cells"]["mult"]["parameters"]
    assert params["REG_INPUTA_CLK"] == "CLK0" and "REG_OUTPUT_CLK" not in params


def test_without_operand_flip_flops_the_product_still_moves_in():
    mod = _mod_out(mult=_mult(), **_mult_ffs(fa0=None, fa1=None))
    assert absorb_multiplier_registers(mod) == {"mults": 1, "ffs": 2}
    params = mod["cells"]["mult"]["parameters"]
    assert params["REG_OUTPUT_CLK"] == "CLK0" and "REG_INPUTA_CLK" not in params


@pytest.mark.parametrize("why,mult,ffs", [
    ("a reset", _mult(), _mult_ffs(fa0=_ff(A_D[0], A_Q[0], lsr=RST),
                                   fp0=_ff(40, P_Q[0], lsr=RST))),
    ("two clocks", _mult(), _mult_ffs(fb0=_ff(B_D[0], B_Q[0], clk=OTHER_CLK),
                                      fp1=_ff(41, P_Q[1], clk=OTHER_CLK))),
    ("a constant 1 operand bit", _mult(B5=["1"]), _mult_ffs(fp0=_ff(40, P_Q[0], ce=EN))),
    ("a product bit read by logic too", _mult(), _mult_ffs(
        fa0=_ff(A_D[0], A_Q[0], ce=EN), fp0=_ff(40, P_Q[0]), lut=_sink(40))),
    ("registers already on", {**_mult(), "parameters": {"REG_OUTPUT_CLK": "CLK0"}},
     _mult_ffs()),
    ("a shift-chain operand", _mult(SOURCEA=["1"]), _mult_ffs()),
])
def test_multipliers_that_do_not_allow_it_are_left_alone(why, mult, ffs):
    mod = _mod_out(mult=mult, **ffs)
    before = copy.deepcopy(mod)
    assert absorb_multiplier_registers(mod) == {"mults": 0, "ffs": 0}, why
    assert mod == before, why


def test_two_multipliers_with_different_enables_keep_their_products_outside():
    """nextpnr shares CE nets per DSP block and writes no REG_OUTPUT_CE: an output register
    could follow the other multiplier's enable, so only the inputs move in."""
    other = {f"A{i}": [80 + min(i, 1)] for i in range(18)}
    other.update({f"B{i}": [82 + i] if i < 2 else ["0"] for i in range(18)})
    other.update({f"P{i}": [90 + i] if i < 2 else [170 + i] for i in range(36)})
    ffs2 = {f"ga{i}": _ff(84 + i, 80 + i) for i in range(2)}
    ffs2.update({f"gb{i}": _ff(86 + i, 82 + i) for i in range(2)})
    ffs2.update({f"gp{i}": _ff(90 + i, 95 + i) for i in range(2)})
    mod = _mod_out(mult=_mult(), mult2=_mult(**other), **_mult_ffs(ce=EN), **ffs2)
    mod["ports"]["o2"] = {"direction": "output", "bits": [95, 96]}
    assert absorb_multiplier_registers(mod) == {"mults": 2, "ffs": 8}
    for name in ("mult", "mult2"):
        params = mod["cells"][name]["parameters"]
        assert params["REG_INPUTA_CLK"] == "CLK0" and "REG_OUTPUT_CLK" not in params
    assert {"fp0", "fp1", "gp0", "gp1"} <= set(mod["cells"])


def test_a_product_register_that_is_also_an_operand_stays_outside():
    """x <= x * y: the flip-flop after P0 is also the register in front of A0."""
    mod = _mod_out(mult=_mult(A0=[P_Q[0]]), **_mult_ffs(fa0=None))
    assert absorb_multiplier_registers(mod) == {"mults": 1, "ffs": 3}
    conn, params = mod["cells"]["mult"]["connections"], mod["cells"]["mult"]["parameters"]
    assert "REG_OUTPUT_CLK" not in params and params["REG_INPUTA_CLK"] == "CLK0"
    # The operand register now takes P0 itself; fp0 stays for its other reader, the output.
    assert conn["A0"] == [40] and conn["P0"] == [40] and "fp0" in mod["cells"]
