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

This module is the command: its options, the progress lines and the run. The steps are planned
in :mod:`lowbit.gen.bench_plan` and measured in :mod:`lowbit.gen.bench_measure`; the report is
written by :mod:`lowbit.gen.bench_report`, the plots by :mod:`lowbit.gen.bench_plots`.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ..golden.checks import UsageError
from .bench_measure import PACKAGES
from .bench_plan import Bench, Step
from .bench_plots import draw_plots
from .bench_report import clock_text, report_md

__all__ = ["SECTIONS", "RESULTS_VERSION", "add_parser", "run", "run_bench", "Progress"]

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
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help=f"the matrix's syntheses run on N local worker processes at once "
                        f"(default: one a core, {os.cpu_count()} here), as 'lowbit sweep' "
                        f"runs its points; not with --scheduler")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the matrix's syntheses on the Dask cluster whose scheduler is at "
                        "ADDRESS (such as tcp://10.0.0.5:8786), as 'lowbit sweep --scheduler'")
    return p


def run(args):
    """``lowbit bench`` from parsed arguments; returns the exit status."""
    from .executor import check_address, check_workers

    check_workers(args.workers, args.scheduler)
    if args.scheduler:
        check_address(args.scheduler)
    if (args.workers or args.scheduler) and args.only and "matrix" not in args.only:
        raise UsageError("--workers and --scheduler run the matrix section's syntheses, which "
                         "--only leaves out")
    command = ["bench", *[a for b in args.board or () for a in ("--board", b)],
               *[a for s in args.only or () for a in ("--only", s)],
               *(["--quick"] if args.quick else []), "-o", str(args.output),
               *(["--no-pnr"] if args.no_pnr else []),
               *(["--workers", str(args.workers)] if args.workers else []),
               *(["--scheduler", args.scheduler] if args.scheduler else [])]
    return run_bench(args.output, boards=args.board, sections=args.only, quick=args.quick,
                     pnr=not args.no_pnr, command=command, workers=args.workers,
                     scheduler=args.scheduler)


# ---------------------------------------------------------------- progress


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
        line = (f"[{self.index:>{width}}/{self.total} {clock_text(self.clock() - self.t0)} "
                f"elapsed, ~{clock_text(self.left())} left] {text}")
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


# ---------------------------------------------------------------- the run


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
              stream=None, workers=None, scheduler=None):
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
    workers, scheduler : optional
        Where the steps with a task (the matrix's syntheses) run, all submitted at the start:
        :class:`lowbit.gen.executor.Workers` (default: one local process a core).

    Raises
    ------
    UsageError
        An unknown board or section, or an output directory that cannot be written; nothing
        has run or been written.
    """
    from ..boards import get_board
    from ..boards.flow import versions
    from ..hw.build import atomic_dir, check_output_dir, scratch_dir
    from .executor import Workers

    boards = _check_boards(boards, quick)
    sections = _check_sections(sections)
    outdir = Path(outdir)
    check_output_dir(outdir, whole=False)  # shared with other outputs: files move in

    if command is None:
        command = ["bench", *(["--quick"] if quick else []), *(["--no-pnr"] if not pnr else [])]
    started, t0 = _now(), time.perf_counter()
    with scratch_dir(outdir) as scratch:
        bench = Bench(boards, sections, quick=quick, pnr=pnr, scratch=scratch)
        steps = bench.plan()
        steps.append(Step("report", 3.0, None))
        progress = Progress([s.estimate for s in steps], stream=stream)
        try:
            timings = []
            with contextlib.ExitStack() as stack:
                futures, where = {}, None
                if any(s.task for s in steps):
                    pool = stack.enter_context(Workers(workers, scheduler))
                    where = pool.where
                    futures = {id(s): pool.submit(*s.task) for s in steps if s.task}
                for index, step in enumerate(steps[:-1], start=1):
                    progress.begin(index)  # each step says what it runs (synth's log lines)
                    start = time.perf_counter()
                    if step.task:  # waits for its worker; the time is the wait
                        step.run(progress.say, futures[id(step)])
                    else:
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
                "versions": versions(PACKAGES),
                "git": _git(),
                "boards": {b: _board_info(get_board(b)) for b in boards},
                "sections": {name: bench.results[name] for name in sections},
                "steps": timings,
                "workers": where,
            }
            _summaries(results)
            with atomic_dir(outdir, whole=False) as tmp:
                plots = draw_plots(results, tmp / "plots")
                results["plots"] = {k: f"plots/{v}" for k, v in plots.items()}
                (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
                (tmp / "report.md").write_text(report_md(results, plots))
        except KeyboardInterrupt:
            print(f"lowbit bench: interrupted; nothing written to {outdir}", file=sys.stderr)
            return 130
    c = results["status_counts"]
    print(f"lowbit bench: {len(steps)} steps in {clock_text(results['seconds'])}: {c['ok']} placed "
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
