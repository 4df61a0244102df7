"""The ``lowbit`` command line: generate, test, synth, program, ping, compare, estimate, fit,
list, demo, bench, sweep, experiment.

Exit status: 0 on success, 1 when a run fails (mismatches, a tool error), 2 for bad input
(an unknown unit, board or option, an invalid parameter, an unreadable file).
Interrupted (Ctrl-C, SIGTERM, SIGHUP): one line, exit status 128 + the signal's number.
"""

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

from ..boards.flow import LUT_MAPPINGS, PLACERS, ROUTERS, TMG_RIPUP_NOTE
from ..boards.netlist import NetlistError
from ..golden.checks import UsageError, parse_params
from ..hw.build import process_tmp, write_json
from ..hw.units import UNITS, get_unit
from ..sim.runner import SIMULATORS
from . import bench, experiment, sweep

__all__ = ["main"]

PARAM_HELP = ("unit parameter as key=value; repeat for several (see 'lowbit list' for each "
              "unit's parameters, defaults and limits)")


class _Parser(argparse.ArgumentParser):
    """Every command-line error as one line (exit status 2), naming the option and what is
    allowed, and where the help is."""

    def error(self, message):
        raise _ArgumentError(f"{self.prog}: error: {message} (see '{self.prog} --help')")


class _ArgumentError(Exception):
    """A command line argparse refuses: its one-line message (exit status 2)."""


def _number(kind, lo, hi):
    """An argparse type: a finite ``kind`` (int or float) in ``[lo, hi]``."""
    def convert(text):
        try:
            value = kind(text, 0) if kind is int else kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{'an integer' if kind is int else 'a number'} is needed, not {text!r}") \
                from None
        if not (math.isfinite(value) and lo <= value <= hi):
            show = (lambda v: f"{v:,}") if kind is int else (lambda v: f"{v:g}")
            raise argparse.ArgumentTypeError(f"must be between {show(lo)} and {show(hi)}, "
                                             f"not {text}")
        return value
    convert.__name__ = kind.__name__
    return convert


def _add_params(p):
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help=PARAM_HELP)


def _add_sim(p):
    p.add_argument("--sim", choices=SIMULATORS, default="verilator",
                   help="HDL simulator (default: verilator; icarus needs 'apt-get install "
                        "iverilog')")


def _add_netlist(p, what):
    p.add_argument("--netlist", metavar="BOARD", default=None,
                   help=f"{what} the netlist Yosys synthesizes for BOARD (its vendor cells, "
                        "block RAM and multiplier registers as the bitstream has them, with "
                        "Yosys's cell simulation models) instead of the generated Verilog; "
                        "families with cell models: iCE40 (icebreaker), ECP5 (ulx3s-85f), "
                        "Gowin (tangnano9k); a netlist with a cell or mode the models lack "
                        "is refused")


def _netlist(board_name, check):
    """``check`` (a :mod:`lowbit.boards.netlist` function of the board name) on ``--netlist
    BOARD``, its refusal naming the option; None without the option."""
    if board_name is None:
        return None
    try:
        return check(board_name)
    except UsageError as exc:
        raise UsageError(f"--netlist {board_name}: {exc}") from None


def _parser():
    parser = _Parser(
        prog="lowbit",
        description="Reduced-precision arithmetic hardware: generate Verilog from Amaranth, "
                    "verify it bit for bit against a numpy golden model under cocotb, and "
                    "synthesize it with Yosys/nextpnr for iCE40, ECP5 and Gowin boards "
                    "(iCEBreaker, ULX3S-85F, Tang Nano 9K).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    units = list(UNITS)

    p = sub.add_parser("list", help="units with their parameters and defaults, and boards",
                       description="List the units (each parameter with its default and "
                                   "meaning) and the boards.")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")

    p = sub.add_parser("generate", help="write a unit's Verilog and JSON manifest",
                       description="Generate Verilog for UNIT and a JSON manifest (parameters, "
                                   "ports with payload fields, latency, internal widths). "
                                   "Files are written atomically: nothing is left on error.")
    p.add_argument("unit", choices=units, help="the unit to generate")
    _add_params(p)
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="output directory (default: ./lowbit-out/UNIT)")

    p = sub.add_parser("test", help="run the cocotb regression against the golden model",
                       description="Run lowbit's test suite (cocotb on the generated Verilog "
                                   "against the golden models, over parameter sweeps) with "
                                   "pytest. UNIT restricts it to the tests of UNIT's family, "
                                   "which may cover other units too: "
                                   + "; ".join(f"{m}: {', '.join(us)}"
                                               for m, us in _families().items()) + ".")
    p.add_argument("unit", nargs="?", choices=units,
                   help="only the tests of this unit's family (see above)")
    _add_sim(p)
    p.add_argument("-j", "--jobs", type=_number(int, 1, 256), default=os.cpu_count() or 1,
                   help="parallel pytest workers (default: number of CPUs)")
    p.add_argument("-k", metavar="EXPR", help="pytest -k expression to select tests")
    _add_netlist(p, "run the simulation tests (those that take their design through "
                    "lowbit.sim.runner.design) on")

    p = sub.add_parser("synth", help="synthesize a unit to a bitstream with a resource report",
                       description="Place and route UNIT for BOARD with Yosys and nextpnr "
                                   "(YoWASP builds), write the bitstream and a report (the "
                                   "unit's own LUT/FF/carry/DSP/BRAM, the harness, post-route "
                                   "Fmax) as JSON and as a table. By default the unit sits "
                                   "behind the host link on the board's USB-serial port, so "
                                   "'lowbit program' and lowbit.host.Device can use it; the "
                                   "parameters default to the unit's size for the board "
                                   "(lowbit.boards.sizes), -p overrides them.")
    p.add_argument("unit", choices=units, help="the unit to synthesize")
    p.add_argument("--board", default="icebreaker", metavar="BOARD",
                   help="target board (default: icebreaker); see 'lowbit list'")
    _add_params(p)
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="output directory (default: ./lowbit-out/UNIT-BOARD)")
    p.add_argument("--no-dsp", action="store_true",
                   help="map multiplies to LUTs instead of DSP blocks (for units with more "
                        "multiplies than the device has DSPs: the UP5K has 8; the Winograd "
                        "and conv units on the UP5K do so by default, see boards/sizes.py)")
    p.add_argument("--target-mhz", type=_number(float, 1, 1000), default=None,
                   help="clock constraint given to nextpnr, which it works toward (default: "
                        "the board's own target, see 'lowbit list')")
    p.add_argument("--harness", choices=("auto", "link", "scan"), default="auto",
                   help="link: the unit behind the host link (UART, framed commands), for "
                        "running it from the host; scan: a 4-pin scan harness (any unit, "
                        "for resources and Fmax only); auto (default): link for units with "
                        "input and output streams, else scan")
    p.add_argument("--baud", type=_number(int, 300, 100_000_000), default=None,
                   help="host link baud rate (default: the board's, see 'lowbit list'; "
                        "the board clock / baud must be >= 4 within 2%%)")
    p.add_argument("--clock-mhz", type=_number(float, 1, 1000), default=None,
                   help="with the link harness: the clock the unit and the link run at, made "
                        "by the board's PLL from its oscillator (iCE40 SB_PLL40, ECP5 "
                        "EHXPLLL; exactly, and the clock / baud must be >= 4 within 2%%). "
                        "Default: the unit's own clock for the board where it has one "
                        "('lowbit list'), else the board's link clock. The report gives "
                        "both the oscillator and this clock")
    p.add_argument("--seed", type=_number(int, 0, 2 ** 31 - 1), default=None,
                   help="nextpnr's placement seed (default: nextpnr's own); Fmax varies by a "
                        "few percent from seed to seed, so try several for a best figure")
    p.add_argument("--placer", choices=PLACERS, default=None,
                   help="nextpnr's placer (default: nextpnr's, heap); static is its "
                        "electrostatic placer (the bit-serial engine at 2 x 256 x 2 on the "
                        "ECP5-85F: lower Fmax in 5 of 7 seed pairs, 169.5 against 181.3 MHz "
                        "on average, bench/nextpnr-options); sa is slow")
    p.add_argument("--router", choices=ROUTERS, default=None,
                   help="nextpnr's router (default: nextpnr's, router1); router2 is faster "
                        "on large, congested designs")
    p.add_argument("--tmg-ripup", action="store_true",
                   help="nextpnr's timing-driven rip-up (router1 only): the router reroutes "
                        "the nets of paths that miss the target, for a higher Fmax at a "
                        f"longer routing time ({TMG_RIPUP_NOTE.replace('%', '%%')})")
    p.add_argument("--lut-mapping", choices=LUT_MAPPINGS, default="area",
                   help="how Yosys's ABC maps logic to LUTs: area (default, Yosys's own: "
                        "least delay on the deepest path, then area recovered on all "
                        "others) or delay (ECP5 only: depth alone on every path, more LUTs "
                        "and fewer levels; faster control logic, see bench/abc-mapping)")

    p = sub.add_parser("program", help="load a bitstream from 'lowbit synth' onto the board",
                       description="Program the board with the bitstream in BUILD (a "
                                   "directory 'lowbit synth' wrote) using openFPGALoader, or "
                                   "iceprog for iCE40 boards, whichever is installed "
                                   "(neither comes with lowbit: 'apt-get install "
                                   "openfpgaloader'). Exit status 1 when no tool is installed "
                                   "or no board answers.")
    p.add_argument("build", type=Path, metavar="BUILD", help="output directory of lowbit synth")
    p.add_argument("--tool", choices=("auto", "openFPGALoader", "iceprog"), default="auto",
                   help="programmer (default: the first one installed)")
    p.add_argument("--flash", action="store_true",
                   help="write the SPI flash (survives power cycles) instead of the FPGA's "
                        "configuration RAM")

    p = sub.add_parser("ping", help="check the host link to a programmed board, measure it",
                       description="Open the board on serial port PORT, check that it runs "
                                   "the unit in BUILD (its signature register), show the "
                                   "queues, and time PING frames of the largest payload: "
                                   "the link's payload throughput each way.")
    p.add_argument("build", type=Path, metavar="BUILD", help="output directory of lowbit synth")
    p.add_argument("--port", required=True,
                   help="serial port (iCEBreaker: /dev/ttyUSB1, the FT2232H's channel B; "
                        "ULX3S: /dev/ttyUSB0)")
    p.add_argument("--baud", type=_number(int, 300, 100_000_000), default=None,
                   help="baud rate (default: the one BUILD was made for)")
    p.add_argument("--count", type=_number(int, 1, 100_000), default=20,
                   help="PING frames to time (default 20)")
    p.add_argument("--timeout", type=_number(float, 0.001, 3600), default=1.0,
                   help="seconds to wait for each answer (default 1)")

    p = sub.add_parser("compare", help="run your data through the RTL and the golden model",
                       description="Feed FILE.npy through the RTL simulation and the golden "
                                   "model; report mismatches (and for mac the error against "
                                   "exact arithmetic). mac: shape (n, 2) pairs (a, b), summed "
                                   "--terms at a time, or (m, k, 2) for m dot products of "
                                   "length k; floats are quantized to the input formats, "
                                   "integers are raw codes. popcount: (words, n) bits. xnor: "
                                   "(vectors, 2, L) bit pairs. bmvu: (vectors, cols) bits with "
                                   "--weights and --thresholds. Bits are 0/1 (0 is -1); real "
                                   "numbers are binarized (x >= 0 is +1). winograd2d/direct3x3: "
                                   "(tiles, C, 4, 4) integer tiles with --filter; winograd1d: "
                                   "(tiles, C, 4). conv2d: an integer image (H, W), (C, H, W) "
                                   "or images (N, C, H, W) with --filter; channels, height and "
                                   "width default to the image's shape. bitserial: integer "
                                   "matrix A (M, K) with --rhs B (K, N), run at --wa/--wb bits "
                                   "(default max_wa/max_wb), signed unless --a-unsigned/"
                                   "--b-unsigned; max_m, max_k and max_n grow to the matrices "
                                   "when they exceed the defaults. dpu: (beats, 2, dk) bits "
                                   "(operands a, b; bit t of a word is element t) with optional "
                                   "--shift and --negate per beat, every --beats-per-sum beats "
                                   "one sum "
                                   "(default: one sum of all beats); dk defaults to the input's. "
                                   "p2s: (words, E) integers of --w bits (default max_width), "
                                   "compared plane by plane; elements defaults to E.")
    p.add_argument("unit", choices=units, help="the unit to compare")
    p.add_argument("--input", required=True, type=Path, metavar="FILE.npy", help="input data")
    _add_params(p)
    p.add_argument("--terms", type=_number(int, 1, 1 << 24), default=None,
                   help="mac: terms per sum for (n, 2) input (default 1)")
    p.add_argument("--quantize", default=None,
                   choices=("truncate", "nearest", "nearest_even"),
                   help="mac: rounding used to quantize float input (default: nearest)")
    p.add_argument("--weights", type=Path, metavar="FILE.npy",
                   help="bmvu: weight bits, shape (rows, cols)")
    p.add_argument("--thresholds", type=Path, metavar="FILE.npy",
                   help="bmvu: sorted integer thresholds, shape (rows, k)")
    p.add_argument("--invert", type=Path, metavar="FILE.npy",
                   help="bmvu: per-row invert flags (negative batch-norm scale), shape (rows,)")
    p.add_argument("--filter", dest="filt", type=Path, metavar="FILE.npy",
                   help="winograd1d/winograd2d/direct3x3: integer filter (C, 3[, 3]) for "
                        "every tile or (tiles, C, 3[, 3]); conv2d: (C, 3, 3), or (3, 3) for C=1")
    p.add_argument("--bias", type=Path, metavar="FILE.npy",
                   help="conv2d with -p bias=yes: the bias, one integer (added before the "
                        "requantizer's shift)")
    p.add_argument("--rhs", type=Path, metavar="FILE.npy",
                   help="bitserial: the right matrix B, integers of shape (K, N)")
    p.add_argument("--wa", type=_number(int, 0, 64), metavar="BITS",
                   help="bitserial: run-time precision of A, 1..max_wa (default max_wa)")
    p.add_argument("--wb", type=_number(int, 0, 64), metavar="BITS",
                   help="bitserial: run-time precision of B, 1..max_wb (default max_wb)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--a-signed", dest="a_signed", action="store_const", const=True,
                   help="bitserial: A is two's complement (the default)")
    g.add_argument("--a-unsigned", dest="a_signed", action="store_const", const=False,
                   help="bitserial: A is unsigned")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--b-signed", dest="b_signed", action="store_const", const=True,
                   help="bitserial: B is two's complement (the default)")
    g.add_argument("--b-unsigned", dest="b_signed", action="store_const", const=False,
                   help="bitserial: B is unsigned")
    p.add_argument("--shift", type=Path, metavar="FILE.npy",
                   help="dpu: per-beat shift i + j, integers 0..max_shift, shape (beats,) "
                        "(default 0)")
    p.add_argument("--negate", type=Path, metavar="FILE.npy",
                   help="dpu: per-beat subtract flags, 0/1, shape (beats,) (default 0)")
    p.add_argument("--beats-per-sum", type=_number(int, 1, 1 << 24), metavar="N",
                   help="dpu: every N beats form one sum, 'first' on its first beat and 'last' "
                        "on its last (default: all beats, one sum)")
    p.add_argument("--w", type=_number(int, 0, 64), metavar="BITS",
                   help="p2s: run-time precision, 1..max_width (default max_width)")
    _add_sim(p)
    _add_netlist(p, "run the data through")
    p.add_argument("--seed", type=_number(int, 0, (1 << 32) - 1), default=1,
                   help="seed for idle/back-pressure cycles")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="also write the full report, RTL values included, as JSON here")

    p = sub.add_parser("estimate", help="predict a unit's LUTs, FFs and block RAMs (cost model)",
                       description="Predict the resources of UNIT (bitserial) on the iCE40 and "
                                   "ECP5 families from its parameters, with the cost model "
                                   "fitted to Yosys runs (LUTs, FFs, carry cells) and the "
                                   "buffer shapes (block RAMs, LUT RAM); seconds instead of a "
                                   "synthesis run. With --board, the parameters start from "
                                   "the board's sizes, as 'lowbit synth' and 'lowbit fit' "
                                   "build it, -p on top. The "
                                   "model has no fit for Gowin: measure a Gowin board with "
                                   "'lowbit synth'.")
    p.add_argument("unit", metavar="UNIT", help="the unit: bitserial")
    _add_params(p)
    p.add_argument("--board", default=None, metavar="BOARD",
                   help="compare against this board's capacity (default: iCE40 and ECP5; "
                        "the model has no Gowin fit, so a Gowin board is refused)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="also write the estimate as JSON here")

    p = sub.add_parser("fit", help="pick the largest bit-serial array that fits a board",
                       description="Search Dm x Dk x Dn for the largest peak throughput "
                                   "(2 Dm Dk Dn binary ops a cycle) whose cost-model estimate "
                                   "fits the LUT budget, the flip-flops and the block RAMs of "
                                   "BOARD, then synthesize the best candidates in turn until "
                                   "one places and meets the board clock (in the scan "
                                   "harness, with nextpnr's router1 unless --router says "
                                   "otherwise). Other parameters "
                                   "(max_wa, max_wb, max_m, max_k, max_n, operands) are the "
                                   "board's, as 'lowbit synth' builds it, with -p on top "
                                   "(spacing, popcount and the rest too); the array never "
                                   "exceeds the matrix maxima. iCE40 and "
                                   "ECP5 boards only (the cost model has no Gowin fit).")
    p.add_argument("unit", metavar="UNIT", help="the unit: bitserial")
    p.add_argument("--board", default="icebreaker", metavar="BOARD",
                   help="target board (default: icebreaker); see 'lowbit list'")
    _add_params(p)
    p.add_argument("--lut-budget", type=_number(int, 0, 10_000_000), default=None,
                   help="logic the unit may use, as nextpnr counts it: logic cells on "
                        "iCE40 (LUT4 + unpaired flip-flops), TRELLIS_COMB on ECP5 (LUT4 + "
                        "the sites of carry cells and LUT RAM) (default: 80%% of the "
                        "device's LUTs on iCE40, 75%% on ECP5)")
    p.add_argument("--bram-budget", type=_number(int, 0, 100_000), default=None,
                   help="block RAMs the unit may use (default: all of them on iCE40, 80%% on "
                        "ECP5)")
    p.add_argument("--no-verify", action="store_true",
                   help="trust the cost model: skip synthesis (seconds instead of minutes)")
    p.add_argument("--router", choices=ROUTERS, default=None,
                   help="nextpnr's router for the synthesis (default: router1; router2 "
                        "finishes some large designs sooner, but did not converge on the "
                        "ULX3S-85F's fits)")
    p.add_argument("--tmg-ripup", action="store_true",
                   help="nextpnr's timing-driven rip-up in the fit's synthesis (router1 "
                        "only), as 'lowbit synth --tmg-ripup' ("
                        + TMG_RIPUP_NOTE.replace('%', '%%') + ")")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="write the choice as JSON here; the chosen design's bitstream and "
                        "report go to ./lowbit-out/bitserial-fit-BOARD")

    p = sub.add_parser("demo", help="the main job on the default board, end to end",
                       description="Generate the default MAC, simulate it against the golden "
                                   "model, show Gupta et al.'s stochastic-rounding effect on "
                                   "the RTL, and synthesize it for the board.")
    p.add_argument("--board", default="icebreaker", metavar="BOARD",
                   help="target board (default: icebreaker)")
    p.add_argument("-o", "--output", type=Path, default=Path("demo-out"),
                   help="output directory (default: ./demo-out)")
    _add_sim(p)

    bench.add_parser(sub)
    sweep.add_parser(sub)
    experiment.add_parser(sub)
    return parser


def _families():
    """Test markers and the units each selects (``lowbit test UNIT`` runs its family)."""
    families = {}
    for name, unit in UNITS.items():
        families.setdefault(unit.marker, []).append(name)
    return families


def _check_board(name):
    from ..boards import get_board
    return get_board(name).name


def cmd_list(args):
    from ..boards import BOARDS

    units = {}
    for name, unit in UNITS.items():
        units[name] = {
            "summary": unit.summary,
            "parameters": {f.name: {"default": getattr(unit.defaults(), f.name),
                                    "help": f.metadata.get("help", "")}
                           for f in unit.fields()},
            "link_clocks_mhz": dict(unit.link_clocks),
        }
    boards = {name: {"device": b.device, "family": b.family, "clock_mhz": b.board_clock_mhz,
                     "target_mhz": b.pnr_target_mhz, "link_baud": b.link_baud,
                     "link_clock_mhz": b.link_clock_mhz, "summary": b.summary}
              for name, b in BOARDS.items()}
    if args.json:
        print(json.dumps({"units": units, "boards": boards}, indent=2))
        return 0
    print("Units (lowbit generate UNIT -p key=value ...):")
    for name, u in units.items():
        print(f"\n  {name}: {u['summary']}")
        for pname, info in u["parameters"].items():
            print(f"    {pname:<15} {info['default']!s:<10} {info['help']}")
        if u["link_clocks_mhz"]:
            clocks = ", ".join(f"{b} {f:g} MHz" for b, f in u["link_clocks_mhz"].items())
            print(f"    behind the host link, from the board's PLL: {clocks}")
    print("\nBoards (--board):")
    for name, b in boards.items():
        pll = (f" from a {b['link_clock_mhz']:g} MHz PLL"
               if b["link_clock_mhz"] != b["clock_mhz"] else "")
        print(f"  {name:<12} {b['device']:<12} {b['family']:<6} board clock {b['clock_mhz']:g} "
              f"MHz, P&R target {b['target_mhz']:g} MHz, host link {b['link_baud']:,} baud"
              f"{pll}")
        print(f"  {'':<12} {b['summary']}")
    return 0


def cmd_generate(args):
    from ..hw.build import write_outputs

    unit = get_unit(args.unit)
    params = parse_params(unit, args.param)
    out = args.output or Path("lowbit-out") / unit.name
    man = write_outputs(unit, params, out)
    print(f"wrote {out / man['verilog']} and {out / (unit.top + '.json')}")
    for name in man.get("models", []):
        print(f"wrote {out / name}: simulation models of the vendor cells it instantiates "
              f"(Yosys's; synthesis takes the vendor's own)")
    print(f"  latency {man.get('latency', '-')} cycles; widths {man.get('widths', {})}")
    for port in man["ports"]:
        fields = port.get("fields")
        desc = (" {" + ", ".join(f"{k}[{v['offset']}+:{v['width']}]" for k, v in fields.items())
                + "}") if fields else ""
        print(f"  {port['dir']:<3} {port['name']:<12} {port['width']:>3}{desc}")
    return 0


def cmd_test(args):
    # Found, not imported: the CLI sits below the tests (tests/test_layers.py).
    import importlib.util

    tests_dir = Path(importlib.util.find_spec("lowbit.tests").submodule_search_locations[0])
    cmd = [sys.executable, "-m", "pytest", str(tests_dir), "--sim", args.sim,
           "-p", "no:cacheprovider"]
    if args.jobs and args.jobs > 1:
        cmd += ["-n", str(args.jobs), "--dist", "loadgroup"]
    marker = get_unit(args.unit).marker if args.unit else None
    if args.netlist:
        from ..boards.netlist import netlist_board

        # Checked here, before pytest starts.
        cmd += ["--netlist", _netlist(args.netlist, netlist_board).name]
        marker = f"sim and {marker}" if marker else "sim"
    if marker:
        cmd += ["-m", marker]
    if args.k:
        cmd += ["-k", args.k]
    print("running:", " ".join(cmd), flush=True)
    return subprocess.call(cmd)


def cmd_synth(args):
    from ..boards import format_report, synth
    from ..boards.harness import default_harness
    from ..boards.sizes import board_dsp, sized_params

    unit = get_unit(args.unit)
    board = _check_board(args.board)
    params = sized_params(unit.name, board, args.param)
    harness = args.harness
    if harness == "auto":
        harness = default_harness(unit.name, params)
    if args.target_mhz is not None and not 1 <= args.target_mhz <= 1000:
        raise UsageError(f"--target-mhz must be between 1 and 1000, not {args.target_mhz:g}")
    if unit.name == "bitserial":  # refuse what the cost model says cannot fit, in seconds
        from ..boards import get_board
        from .fit import check_fits_board
        check_fits_board(params, get_board(board))
    out = args.output or Path("lowbit-out") / f"{unit.name}-{board}"
    report = synth(unit.name, params, board, out, target_mhz=args.target_mhz,
                   dsp=not args.no_dsp and board_dsp(unit.name, board), harness=harness,
                   baud=args.baud, clock_mhz=args.clock_mhz, seed=args.seed,
                   placer=args.placer, router=args.router, tmg_ripup=args.tmg_ripup,
                   lut_mapping=args.lut_mapping, log=_progress)
    print(format_report(report))
    print(f"\nwrote {out}")
    if harness == "link":
        print(f"next: lowbit program {out}; then lowbit ping {out} --port PORT, or in Python "
              f"lowbit.host.Device.open(PORT, {str(out)!r})")
    return 0


def _progress(line):
    print(f"  ... {line}", file=sys.stderr, flush=True)


def _load_build(build):
    path = Path(build) / "report.json"
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{build} is not a 'lowbit synth' output directory (it has no "
                         f"report.json)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    from ..boards import BOARDS

    fields = ("bitstream", "board", "family")
    if not (isinstance(report, dict) and all(isinstance(report.get(k), str) for k in fields)
            and report["board"] in BOARDS and Path(report["bitstream"]).name
            == report["bitstream"]):
        raise UsageError(f"{path} is not a report of 'lowbit synth' (it needs {', '.join(fields)} "
                         f"naming a known board and a file in {build}); synthesize again")
    return report


#: openFPGALoader's board names for lowbit's boards.
_LOADER_BOARDS = {"icebreaker": "icebreaker", "ulx3s-85f": "ulx3s", "tangnano9k": "tangnano9k"}


def cmd_program(args):
    import shutil

    report = _load_build(args.build)
    bitstream = Path(args.build) / report["bitstream"]
    if not bitstream.exists():
        raise UsageError(f"{bitstream} is missing: run 'lowbit synth' again")
    board = report["board"]
    tools = ["openFPGALoader", "iceprog"] if args.tool == "auto" else [args.tool]
    if report["family"] != "ice40":
        tools = [t for t in tools if t != "iceprog"]
        if not tools:
            raise UsageError(f"iceprog programs iCE40 boards only, not {board}")
    found = [(t, shutil.which(t)) for t in tools if shutil.which(t)]
    if not found:
        print(f"lowbit program: failed: no programmer found ({' or '.join(tools)} is not "
              f"installed). Install one ('apt-get install openfpgaloader'), or load "
              f"{bitstream} with your own tool.", file=sys.stderr)
        return 1
    tool, path = found[0]
    if tool == "iceprog":
        cmd = [path, str(bitstream)] if args.flash else [path, "-S", str(bitstream)]
    else:
        cmd = [path, "-b", _LOADER_BOARDS.get(board, board)]
        cmd += ["-f", str(bitstream)] if args.flash else [str(bitstream)]
    print("running:", " ".join(cmd), flush=True)
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-5:])
        print(f"lowbit program: failed: {tool} exited {run.returncode}; is the {board} "
              f"plugged in (and may you use its USB device)? Its last words:\n{tail}",
              file=sys.stderr)
        return 1
    print(f"programmed {board} with {bitstream}{' (flash)' if args.flash else ''}")
    return 0


def cmd_ping(args):
    import time

    from ..host import Device, DeviceError, LinkUnavailable
    from ..host.device import load_link_file

    if args.count < 1:
        raise UsageError(f"--count must be at least 1, not {args.count}")
    try:
        load_link_file(args.build)  # a missing or broken link.json is bad input
    except DeviceError as exc:
        raise UsageError(str(exc)) from None
    try:
        dev = Device.open(args.port, args.build, baud=args.baud, timeout=args.timeout)
    except LinkUnavailable as exc:
        raise UsageError(str(exc)) from None
    with dev:
        m = dev.map
        in_free, out_words = dev.status()
        print(f"{args.port}: unit {m.unit}, signature 0x{m.signature:08x} (matches "
              f"{args.build}); input queue {in_free} of {m.in_queue} bytes free, "
              f"{out_words} results waiting")
        payload = bytes((7 * k + 1) & 0xFF for k in range(m.max_payload))
        start = time.perf_counter()
        for _ in range(args.count):
            if dev.ping(payload) != payload:
                print("lowbit ping: failed: a PING came back changed", file=sys.stderr)
                return 1
        seconds = time.perf_counter() - start
        rate = args.count * len(payload) / seconds
        print(f"{args.count} PINGs of {len(payload)} bytes in {seconds:.3f} s: {rate / 1e3:.1f} "
              f"kB/s each way, stop-and-wait at {dev.transport.baud} baud")
    return 0


def cmd_compare(args):
    from ..golden.checks import load_array
    from .compare import OPTION_FLAGS, OPTIONS, check_options, compare, compare_units, shape_params

    unit = get_unit(args.unit)
    if unit.compare is None:
        raise UsageError(f"compare is available for: {', '.join(compare_units())}, "
                         f"not {unit.name!r}")
    from ..boards.netlist import netlist_source

    source = _netlist(args.netlist, netlist_source)
    given = {opt: getattr(args, opt) for opt in OPTIONS}
    check_options(unit, given)
    arr = load_array(args.input)
    # The files among the options (the parser makes them Paths), loaded; the rest as given.
    files = {opt: load_array(value, option=OPTION_FLAGS.get(opt, f"--{opt}"))
             for opt, value in given.items() if isinstance(value, Path)}
    options = {opt: value for opt, value in given.items() if not isinstance(value, Path)}
    params = parse_params(unit, shape_params(unit, arr, args.param, **files))
    if source is None:
        report = compare(unit, params, arr, sim=args.sim, seed=args.seed, **options, **files)
        through = "the RTL"
    else:
        from ..sim.runner import designs

        with designs(source):
            report = compare(unit, params, arr, sim=args.sim, seed=args.seed, **options,
                             **files)
        through = f"the {args.netlist} netlist"
        report["netlist"] = args.netlist
    print(f"{unit.name}: {report['results']} results through {through} "
          f"({report['simulator']}) and the golden model")
    print(f"  RTL vs golden mismatches: {report['mismatches_rtl_vs_golden']}")
    if "shape" in report:
        print(f"  result shape: {' x '.join(map(str, report['shape']))}")
    if "values_per_cycle" in report:
        print(f"  {report['values_per_cycle']} input values a cycle ({report['cycles']} cycles, "
              f"with the seeded idle and back-pressure cycles)")
    for line in report.get("notes", []):
        print(f"  {line}")
    for m in report["first_mismatches"]:
        print("    ", m)
    if args.output:
        write_json(args.output, report)
        print(f"wrote {args.output}")
    return 0 if report["mismatches_rtl_vs_golden"] == 0 else 1


def _fit_unit(command, name):
    if name != "bitserial":
        raise UsageError(f"{command} is available for: bitserial, not {name!r}")
    return get_unit(name)


def cmd_estimate(args):
    from ..boards import get_board
    from ..boards.costmodel import FAMILY_BOARD
    from ..boards.sizes import sized_params
    from .fit import check_fits_board, estimate_bitserial

    unit = _fit_unit("estimate", args.unit)
    boards = [get_board(args.board)] if args.board else []
    # With a board, its sizes (as 'lowbit synth' and 'lowbit fit' build it), -p on top.
    params = (sized_params(unit.name, boards[0].name, args.param) if boards
              else parse_params(unit, args.param))
    families = [b.family for b in boards] or ["ice40", "ecp5"]
    estimates = {family: estimate_bitserial(params, family) for family in families}
    report = {"unit": unit.name, "params": dataclasses.asdict(params), "estimates": {}}
    print(f"estimate bitserial: Dm={params.dm} x Dk={params.dk} x Dn={params.dn}, "
          f"accumulator {params.accumulator_width} bits, "
          f"{params.peak_binary_ops_per_cycle} binary ops/cycle at peak")
    for family, est in estimates.items():
        report["estimates"][family] = est
        board = get_board(FAMILY_BOARD[family])
        lutram = f", {est['lutram']} LUT RAM units" if est["lutram"] else ""
        line = (f"  {family}: {est['lut']} LUT4, {est['ff']} FF, {est['carry']} carry cells"
                f"{lutram}, {est['bram']} block RAMs; {est['cells']} {board.logic_cell} "
                f"(cost model: LUTs, FFs and carry cells within 15% on held-out Yosys runs; "
                f"block RAMs and LUT RAM as Yosys maps the buffers)")
        print(line)
    for b in boards:
        check_fits_board(params, b)
        print(f"  {b.name} ({b.device}): fits, as far as the cost model tells "
              f"(confirm with 'lowbit synth')")
    if args.output:
        write_json(args.output, report)
    return 0


def cmd_fit(args):
    from ..boards import get_board
    from ..boards.sizes import sized_params
    from .fit import explain, fit_bitserial

    unit = _fit_unit("fit", args.unit)
    board = get_board(args.board)
    # The board's maxima and operand form (as 'lowbit synth' builds for it), -p on top; the
    # array shape is what fit chooses.
    base = sized_params(unit.name, board.name, args.param)
    report = fit_bitserial(board, base, lut_budget=args.lut_budget,
                           bram_budget=args.bram_budget, verify=not args.no_verify,
                           router=args.router, tmg_ripup=args.tmg_ripup)
    print("\n".join(explain(report)))
    if "synth" in report["chosen"]:
        print(f"  bitstream and report: {report['outdir']}")
    if args.output:
        write_json(args.output, report)
        print(f"wrote {args.output}")
    return 0


def cmd_demo(args):
    from .demo import run_demo

    _check_board(args.board)
    return run_demo(args.output, board=args.board, sim=args.sim)


COMMANDS = {"list": cmd_list, "generate": cmd_generate, "test": cmd_test, "synth": cmd_synth,
            "program": cmd_program, "ping": cmd_ping,
            "compare": cmd_compare, "estimate": cmd_estimate, "fit": cmd_fit,
            "demo": cmd_demo, "bench": bench.run,
            "sweep": sweep.run, "experiment": experiment.run}


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that every ``with`` block cleans up
    (temporary directories, tool processes) as on Ctrl-C."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    raise _Terminated(signum)


def _discard_stdout():
    """After a closed stdout pipe: the rest of the output (Python's buffer, flushed again at
    exit) goes to /dev/null rather than into a second error at exit. Only the process's own
    stdout; a replaced ``sys.stdout`` (a caller's capture) is left as it is."""
    if sys.stdout is None or sys.stdout is not sys.__stdout__:
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(null)


def main(argv=None):
    import signal

    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as exc:
        print(exc, file=sys.stderr)
        return 2
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            handlers[sig] = signal.signal(sig, _on_signal)
        # Ctrl-C as Python has it (KeyboardInterrupt), not as lowbit.gen's early handler.
        handlers[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with process_tmp():
            status = COMMANDS[args.command](args)
            if sys.stdout is not None:  # (None when started with stdout closed)
                sys.stdout.flush()  # a closed pipe shows here, not as a warning at exit
            return status
    except UsageError as exc:
        print(f"lowbit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except NetlistError as exc:  # --netlist: what the family's cell models do not cover
        print(f"lowbit {args.command}: error: --netlist {getattr(args, 'netlist', None)}: "
              f"{exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Whoever read the output stopped (`lowbit fit ... | head`): stop quietly, as other
        # command-line tools do, with the status a SIGPIPE gives.
        _discard_stdout()
        return 128 + signal.SIGPIPE
    except (RuntimeError, OSError) as exc:
        print(f"lowbit {args.command}: failed: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"lowbit {args.command}: failed: out of memory", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        import warnings

        # Objects the interrupted work made and never used would warn at exit (Amaranth's
        # UnusedElaboratable): the one line below is all there is to say.
        warnings.simplefilter("ignore")
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"lowbit {args.command}: interrupted ({signal.Signals(signum).name}); "
              f"nothing half-written is left", file=sys.stderr)
        return 128 + signum
    finally:
        # What an error path left in stdout's buffer, while its message is on stderr.
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except BrokenPipeError:
            _discard_stdout()
        for sig, old in handlers.items():
            signal.signal(sig, old)


if __name__ == "__main__":
    sys.exit(main())

