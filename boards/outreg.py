"""Block RAM output registers on ECP5: fold the flip-flop after a DP16KD read into the RAM.

The units register what they read from a memory (the read port, then a read-data register),
but Yosys 0.70 maps every ECP5 block RAM with ``REGMODE_A/B = "NOREG"``
(``techlibs/lattice/brams_map_16kd.v``) and leaves the read-data register in the fabric. A
DP16KD without its output register takes 5.5 ns from clock to data (Trellis timing database,
speed 6), so on the ECP5-85F a block RAM read into a fabric flip-flop cannot run much above
130 MHz however short the wire (the bit-serial engine at 4 x 256 x 4 measured 97.6 MHz with
this path critical: 6.1 ns of the RAM and the set-up, 4.2 ns of routing). With the RAM's own
output register (``OUTREG``) the data leaves the RAM 0.9 ns after the clock, and nextpnr times
it so (``ecp5/pack.cc`` picks the timing table by ``REGMODE``).

:func:`absorb_output_registers` rewrites the synthesized JSON netlist between Yosys and
nextpnr: where every used data output of a DP16KD read port drives exactly one flip-flop and
nothing else, and those flip-flops are plain (``TRELLIS_FF`` on the port's clock, no set or
reset, reset value 0, enabled always or by one common net), the flip-flops are removed, the
port's data pins drive their outputs, the port gets ``REGMODE = "OUTREG"`` and its output
clock enable (``OCEA``/``OCEB``) takes the flip-flops' enable. The behaviour at the pins is
unchanged: the RAM's read latch (clock enable ``CE``), then a register on the same clock with
the same enable, starting from 0. Anything else is left as Yosys made it.

Multipliers get the same treatment (:func:`absorb_multiplier_registers`). Yosys maps ``*`` on
ECP5 to a combinational MULT18X18D (``techlibs/lattice/dsp_map_18x18.v``: no register
parameters set, no clock connected) and leaves the units' operand and product registers in the
fabric, so the multiplier's 2.9-3.9 ns array delay sits between two fabric flip-flops with the
routing to and from the DSP column on top: the MAC at ``pipeline=4`` measured 143.7 MHz on the
ECP5-85F with ``a_q -> MULT18X18D -> term_q`` critical (6.96 ns, 4.45 of it logic). The pass
moves the operand flip-flops into the block's input registers (``REG_INPUTA_CLK``,
``REG_INPUTB_CLK``) and the product flip-flops into its output register (``REG_OUTPUT_CLK``),
all on ``CLK0`` with the flip-flops' enable on ``CE0`` (nextpnr times a clocked MULT18X18D from
``CLK0`` only, ``ecp5/arch.cc``, and writes no ``REG_OUTPUT_CE`` to the bitstream, so the output
register moves in only when all the module's registered multipliers share one enable),
``RST0`` tied to 0.
"""

import json
from collections import defaultdict
from pathlib import Path

__all__ = ["absorb_output_registers", "absorb_multiplier_registers", "absorb_in_file"]

_DATA_BITS = 18  # DOA0..DOA17, DOB0..DOB17


def _int_param(value):
    """Yosys writes integer parameters as binary strings."""
    try:
        return int(str(value), 2)
    except ValueError:
        return None


def _str_param(cell, name, default=""):
    return str(cell["parameters"].get(name, default)).strip()


def _read_ports(ram):
    """``{port letter: [data pin names]}`` of a DP16KD's read ports. In the 36-bit pseudo dual
    port mode (``DATA_WIDTH_A`` 36) both data buses belong to the read port B, whose
    ``REGMODE`` then covers both (nextpnr sets ``REGMODE_A = REGMODE_B`` for it)."""
    pins = {letter: [f"DO{letter}{i}" for i in range(_DATA_BITS)] for letter in "AB"}
    if _int_param(ram["parameters"].get("DATA_WIDTH_A", "0")) == 36:
        return {"B": pins["A"] + pins["B"]}
    return pins


def _nets(module):
    """``(sinks, drivers)``: bit -> [(cell name, port)] that read it (``(None, "top")`` for a
    top-level output), and bit -> (cell name, port) that drives it."""
    sinks, drivers = defaultdict(list), {}
    for name, cell in module["cells"].items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            out = dirs.get(port, "input") == "output"
            for bit in bits:
                if isinstance(bit, int):
                    if out:
                        drivers[bit] = (name, port)
                    else:
                        sinks[bit].append((name, port))
    for port in module.get("ports", {}).values():
        if port.get("direction") != "input":
            for bit in port["bits"]:
                if isinstance(bit, int):
                    sinks[bit].append((None, "top"))
    return sinks, drivers


def _plain_ff(ff, clock):
    """The enable of TRELLIS_FF ``ff`` (a net bit, or ``"1"``) if it is a plain flip-flop on
    ``clock`` (no set or reset, starting from 0, not inverted), else None."""
    if ff is None or ff["type"] != "TRELLIS_FF":
        return None
    c = ff["connections"]
    if (clock is not None and c.get("CLK") != clock) or _str_param(ff, "CLKMUX", "CLK") != "CLK":
        return None
    if _str_param(ff, "REGSET", "RESET") != "RESET":
        return None  # the primitive's register starts from 0
    lsrmux = _str_param(ff, "LSRMUX", "LSR")
    if lsrmux == "INV" or (lsrmux == "LSR" and c.get("LSR", ["0"]) != ["0"]):
        return None  # a set or reset the primitive's register does not have
    cemux = _str_param(ff, "CEMUX", "1")
    if cemux == "1":
        return "1"
    if cemux == "CE":
        return c.get("CE", ["1"])[0]
    return None


def absorb_output_registers(module):
    """Fold read-data flip-flops into the DP16KD output registers of ``module`` (a flattened
    Yosys JSON module, changed in place). Returns ``{"rams": ports switched to OUTREG,
    "ffs": flip-flops removed}``."""
    cells = module["cells"]
    sinks, _ = _nets(module)

    done = {"rams": 0, "ffs": 0}
    for name in [n for n, c in cells.items() if c["type"] == "DP16KD"]:
        ram = cells[name]
        conn = ram["connections"]
        pdp = _int_param(ram["parameters"].get("DATA_WIDTH_A", "0")) == 36
        for letter, pins in _read_ports(ram).items():
            # In the 36-bit mode the low half's output register may follow port A's controls
            # (nextpnr's PDPW16KD conversion wires the reset to both ports), so both ports
            # must agree: one clock, no reset, and the enable goes to OCEA and OCEB.
            sides = "AB" if pdp else letter
            regmodes = [f"REGMODE_{x}" for x in sides]
            if any(_str_param(ram, r, "NOREG") != "NOREG" for r in regmodes):
                continue
            if any(conn.get(f"RST{x}", ["0"]) != ["0"] for x in sides):
                continue  # a reset would clear the output register too
            if any(_str_param(ram, f"CLK{x}MUX", f"CLK{x}") != f"CLK{x}" for x in sides):
                continue
            clock = conn.get(f"CLK{letter}")
            if any(conn.get(f"CLK{x}") != clock for x in sides):
                continue
            used = [(pin, conn[pin][0]) for pin in pins
                    if pin in conn and isinstance(conn[pin][0], int) and sinks[conn[pin][0]]]
            if not used:
                continue
            plan = _plan(cells, sinks, used, clock)
            if plan is None:
                continue
            enable, ffs = plan
            for (pin, _), ff in zip(used, ffs):
                conn[pin] = list(cells[ff]["connections"]["Q"])
                del cells[ff]
            for x in sides:
                ram["parameters"][f"REGMODE_{x}"] = "OUTREG"
                conn[f"OCE{x}"] = [enable]
            done["rams"] += 1
            done["ffs"] += len(ffs)
    return done


def _plan(cells, sinks, used, clock):
    """``(output enable bit, flip-flop names)`` if every used data pin drives one plain
    flip-flop on ``clock`` with a common enable, else None."""
    enable, ffs = None, []
    for _, bit in used:
        if len(sinks[bit]) != 1:
            return None
        ff_name, port = sinks[bit][0]
        ff = cells.get(ff_name) if ff_name is not None else None
        this = _plain_ff(ff, clock) if port == "DI" else None
        if this is None or (enable is not None and this != enable):
            return None
        enable = this
        ffs.append(ff_name)
    return enable, ffs


_MULT_REGS = ("REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_INPUTC_CLK", "REG_PIPELINE_CLK",
              "REG_OUTPUT_CLK")
_MULT_WIDTH = 18


def absorb_multiplier_registers(module):
    """Fold operand and product flip-flops into the MULT18X18D registers of ``module`` (a
    flattened Yosys JSON module, changed in place). Returns ``{"mults": multipliers changed,
    "ffs": flip-flops removed}``.

    Inputs: when every A and every B pin is a constant 0 or the output of a plain flip-flop
    (any fan-out), all on one clock with one enable, the pins take the flip-flops' inputs and
    the block registers them; a flip-flop left without readers is removed. Both operands or
    neither (nextpnr times a block with one registered input as if neither were). Output:
    when every used P pin drives exactly one plain flip-flop, on the same clock and with the
    same enable as the inputs (if those moved), and none of them is also an operand register,
    the flip-flops are removed and the block registers its product; only while every
    multiplier that registers anything in the module has one and the same enable (the output
    register's enable is not configurable in the bitstream nextpnr writes)."""
    cells = module["cells"]
    sinks, drivers = _nets(module)
    done = {"mults": 0, "ffs": 0}
    plans = {}
    for name in [n for n, c in cells.items() if c["type"] == "MULT18X18D"]:
        mult = cells[name]
        conn = mult["connections"]
        if any(_str_param(mult, r, "NONE") != "NONE" for r in _MULT_REGS):
            continue
        if any(conn.get(p, ["0"]) != ["0"] for p in ("SOURCEA", "SOURCEB", "CLK0", "CLK1",
                                                      "CLK2", "CLK3")):
            continue
        ins = _mult_inputs(cells, drivers, conn)
        clock, enable = (ins[0], ins[1]) if ins else (None, None)
        outs = _mult_outputs(cells, sinks, conn, clock, enable)
        if ins is not None and outs is not None and set(ins[2].values()) & set(
                outs[2].values()):
            outs = None  # a product register that is also an operand register (x <= x * y)
        if ins is not None or outs is not None:
            plans[name] = (ins, outs)
    # nextpnr shares four CE nets among the multipliers of a DSP block and renames each
    # block's REG_*_CE to match, but writes no REG_OUTPUT_CE to the bitstream
    # (ecp5/arch_place.cc, bitstream.cc): an output register is safe only while every
    # multiplier that registers anything has the same enable.
    enables = {(o or i)[1] for i, o in plans.values()}
    if len(enables) > 1:
        plans = {n: (i, None) for n, (i, o) in plans.items() if i is not None}
    for name, (ins, outs) in plans.items():
        mult = cells[name]
        conn, params = mult["connections"], mult["parameters"]
        clock, enable = (ins[0], ins[1]) if ins else (outs[0], outs[1])
        out_ffs = outs[2] if outs else None
        moved = set()
        if ins is not None:
            for pin, ff_name in ins[2].items():
                ff = cells[ff_name]
                q = ff["connections"]["Q"][0]
                sinks[q].remove((name, pin))
                d = ff["connections"]["DI"][0]
                conn[pin] = [d]
                if isinstance(d, int):
                    sinks[d].append((name, pin))
                moved.add(ff_name)
            for ff_name in sorted(moved):
                if not sinks[cells[ff_name]["connections"]["Q"][0]]:
                    del cells[ff_name]
                    done["ffs"] += 1
            params["REG_INPUTA_CLK"] = params["REG_INPUTB_CLK"] = "CLK0"
            params["REG_INPUTA_CE"] = params["REG_INPUTB_CE"] = "CE0"
            params["REG_INPUTA_RST"] = params["REG_INPUTB_RST"] = "RST0"
        if outs is not None:
            for pin, ff_name in out_ffs.items():
                conn[pin] = list(cells[ff_name]["connections"]["Q"])
                drivers[conn[pin][0]] = (name, pin)
                del cells[ff_name]
                done["ffs"] += 1
            params["REG_OUTPUT_CLK"], params["REG_OUTPUT_CE"] = "CLK0", "CE0"
            params["REG_OUTPUT_RST"] = "RST0"
        conn["CLK0"], conn["CE0"], conn["RST0"] = clock, [enable], ["0"]
        mult.setdefault("port_directions", {}).update(CLK0="input", CE0="input", RST0="input")
        done["mults"] += 1
    return done


def _mult_inputs(cells, drivers, conn):
    """``(clock, enable, {pin: flip-flop})`` if every A and B pin is 0 or a plain flip-flop's
    output, on one clock with one enable; else None."""
    clock, enable, regs = None, None, {}
    for letter in "AB":
        for i in range(_MULT_WIDTH):
            pin = f"{letter}{i}"
            bit = conn.get(pin, ["0"])[0]
            if bit in ("0", "x"):
                continue
            src = drivers.get(bit) if isinstance(bit, int) else None
            if src is None or src[1] != "Q":
                return None
            ff = cells[src[0]]
            this = _plain_ff(ff, clock)
            if this is None or (enable is not None and this != enable):
                return None
            clock, enable = ff["connections"]["CLK"], this
            regs[pin] = src[0]
    return (clock, enable, regs) if regs else None


def _mult_outputs(cells, sinks, conn, clock, enable):
    """``(clock, enable, {pin: flip-flop})`` if every used P pin drives one plain flip-flop
    and nothing else, on one clock with one enable (``clock``/``enable`` when given); else
    None."""
    regs = {}
    for i in range(2 * _MULT_WIDTH):
        pin = f"P{i}"
        bit = conn.get(pin, [None])[0]
        if not isinstance(bit, int) or not sinks[bit]:
            continue
        if len(sinks[bit]) != 1 or sinks[bit][0][1] != "DI":
            return None
        ff_name = sinks[bit][0][0]
        ff = cells.get(ff_name) if ff_name is not None else None
        this = _plain_ff(ff, clock)
        if this is None or (enable is not None and this != enable):
            return None
        clock, enable = ff["connections"]["CLK"], this
        regs[pin] = ff_name
    return (clock, enable, regs) if regs else None


def absorb_in_file(path):
    """:func:`absorb_output_registers`, :func:`absorb_multiplier_registers` and
    :func:`lowbit.boards.carry.free_chain_ends` on every module of the Yosys JSON netlist at
    ``path``, rewritten in place. Returns the summed counts: ``{"rams", "ffs"}`` of the block
    RAMs, ``{"mults", "mult_ffs"}`` of the multipliers, ``{"carry_ins", "carry_outs"}`` of
    the carry chains' freed ends."""
    from .carry import free_chain_ends  # here: carry reads this module's netlist helpers

    path = Path(path)
    netlist = json.loads(path.read_text())
    total = {"rams": 0, "ffs": 0, "mults": 0, "mult_ffs": 0, "carry_ins": 0, "carry_outs": 0}
    for module in netlist.get("modules", {}).values():
        if "cells" not in module or module.get("attributes", {}).get("blackbox"):
            continue
        for key, n in absorb_output_registers(module).items():
            total[key] += n
        for key, n in absorb_multiplier_registers(module).items():
            total["mult_" + key if key == "ffs" else key] += n
        for key, n in free_chain_ends(module).items():
            total[key] += n
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(netlist))
    tmp.replace(path)
    return total
