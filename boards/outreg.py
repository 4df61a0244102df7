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
"""

import json
from collections import defaultdict
from pathlib import Path

__all__ = ["absorb_output_registers", "absorb_in_file"]

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


def absorb_output_registers(module):
    """Fold read-data flip-flops into the DP16KD output registers of ``module`` (a flattened
    Yosys JSON module, changed in place). Returns ``{"rams": ports switched to OUTREG,
    "ffs": flip-flops removed}``."""
    cells = module["cells"]
    sinks = defaultdict(list)  # bit -> [(cell name, port)] that read it
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if dirs.get(port, "input") != "output":
                for bit in bits:
                    if isinstance(bit, int):
                        sinks[bit].append((name, port))
    for port in module.get("ports", {}).values():
        if port.get("direction") != "input":
            for bit in port["bits"]:
                if isinstance(bit, int):
                    sinks[bit].append((None, "top"))

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
        if ff is None or ff["type"] != "TRELLIS_FF" or port != "DI":
            return None
        c = ff["connections"]
        if c.get("CLK") != clock or _str_param(ff, "CLKMUX", "CLK") != "CLK":
            return None
        if _str_param(ff, "REGSET", "RESET") != "RESET":
            return None  # the RAM's output register starts from 0
        lsrmux = _str_param(ff, "LSRMUX", "LSR")
        if lsrmux == "INV" or (lsrmux == "LSR" and c.get("LSR", ["0"]) != ["0"]):
            return None  # a set or reset the RAM's register does not have
        cemux = _str_param(ff, "CEMUX", "1")
        if cemux == "1":
            this = "1"
        elif cemux == "CE":
            this = c.get("CE", ["1"])[0]
        else:
            return None
        if enable is not None and this != enable:
            return None
        enable = this
        ffs.append(ff_name)
    return enable, ffs


def absorb_in_file(path):
    """:func:`absorb_output_registers` on every module of the Yosys JSON netlist at ``path``,
    rewritten in place. Returns the summed counts."""
    path = Path(path)
    netlist = json.loads(path.read_text())
    total = {"rams": 0, "ffs": 0}
    for module in netlist.get("modules", {}).values():
        if "cells" not in module or module.get("attributes", {}).get("blackbox"):
            continue
        for key, n in absorb_output_registers(module).items():
            total[key] += n
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(netlist))
    tmp.replace(path)
    return total
