"""The ``lowbit`` command line: generate, test, synth, compare, list, demo.

Exit status: 0 on success, 1 when a run fails (mismatches, a tool error), 2 for bad input
(an unknown unit, board or option, an invalid parameter, an unreadable file).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..sim.runner import SIMULATORS
from .units import UNITS, UsageError, get_unit, parse_params

__all__ = ["main"]

PARAM_HELP = ("unit parameter as key=value; repeat for several (see 'lowbit list' for each "
              "unit's parameters, defaults and limits)")


def _add_params(p):
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help=PARAM_HELP)


def _add_sim(p):
    p.add_argument("--sim", choices=SIMULATORS, default="verilator",
                   help="HDL simulator (default: verilator; icarus needs 'apt-get install "
                        "iverilog')")


def _parser():
    parser = argparse.ArgumentParser(
        prog="lowbit",
        description="Reduced-precision arithmetic hardware: generate Verilog from Amaranth, "
                    "verify it bit for bit against a numpy golden model under cocotb, and "
                    "synthesize it with Yosys/nextpnr for iCE40 and ECP5 boards.")
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
                                   "pytest; UNIT restricts it to one unit's tests.")
    p.add_argument("unit", nargs="?", choices=units, help="only this unit's tests")
    _add_sim(p)
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="parallel pytest workers (default: number of CPUs)")
    p.add_argument("-k", metavar="EXPR", help="pytest -k expression to select tests")

    p = sub.add_parser("synth", help="synthesize a unit to a bitstream with a resource report",
                       description="Place and route UNIT inside a 4-pin scan harness for BOARD "
                                   "with Yosys and nextpnr (YoWASP builds), write the bitstream "
                                   "and a report (the unit's own LUT/FF/carry/DSP/BRAM, the "
                                   "harness, post-route Fmax) as JSON and as a table.")
    p.add_argument("unit", choices=units, help="the unit to synthesize")
    p.add_argument("--board", default="icebreaker", metavar="BOARD",
                   help="target board (default: icebreaker); see 'lowbit list'")
    _add_params(p)
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="output directory (default: ./lowbit-out/UNIT-BOARD)")
    p.add_argument("--no-dsp", action="store_true",
                   help="map multiplies to LUTs instead of DSP blocks (for units with more "
                        "multiplies than the device has DSPs: the UP5K has 8)")
    p.add_argument("--target-mhz", type=float, default=None,
                   help="clock constraint given to nextpnr, which it works toward (default: "
                        "the board's own target, see 'lowbit list')")

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
                                   "width default to the image's shape.")
    p.add_argument("unit", choices=units, help="the unit to compare")
    p.add_argument("--input", required=True, type=Path, metavar="FILE.npy", help="input data")
    _add_params(p)
    p.add_argument("--terms", type=int, default=None,
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
    p.add_argument("--filter", type=Path, metavar="FILE.npy",
                   help="winograd1d/winograd2d/direct3x3: integer filter (C, 3[, 3]) for "
                        "every tile or (tiles, C, 3[, 3]); conv2d: (C, 3, 3), or (3, 3) for C=1")
    _add_sim(p)
    p.add_argument("--seed", type=int, default=1, help="seed for idle/back-pressure cycles")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="also write the full report, RTL values included, as JSON here")

    p = sub.add_parser("demo", help="the main job on the default board, end to end",
                       description="Generate the default MAC, simulate it against the golden "
                                   "model, show Gupta et al.'s stochastic-rounding effect on "
                                   "the RTL, and synthesize it for the board.")
    p.add_argument("--board", default="icebreaker", metavar="BOARD",
                   help="target board (default: icebreaker)")
    p.add_argument("-o", "--output", type=Path, default=Path("demo-out"),
                   help="output directory (default: ./demo-out)")
    _add_sim(p)
    return parser


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
        }
    boards = {name: {"device": b.device, "family": b.family, "clock_mhz": b.board_clock_mhz,
                     "target_mhz": b.pnr_target_mhz} for name, b in BOARDS.items()}
    if args.json:
        print(json.dumps({"units": units, "boards": boards}, indent=2))
        return 0
    print("Units (lowbit generate UNIT -p key=value ...):")
    for name, u in units.items():
        print(f"\n  {name}: {u['summary']}")
        for pname, info in u["parameters"].items():
            print(f"    {pname:<15} {info['default']!s:<10} {info['help']}")
    print("\nBoards (--board):")
    for name, b in boards.items():
        print(f"  {name:<12} {b['device']:<12} {b['family']:<6} board clock {b['clock_mhz']:g} "
              f"MHz, P&R target {b['target_mhz']:g} MHz")
    return 0


def cmd_generate(args):
    from .build import write_outputs

    unit = get_unit(args.unit)
    params = parse_params(unit, args.param)
    out = args.output or Path("lowbit-out") / unit.name
    man = write_outputs(unit, params, out)
    print(f"wrote {out / man['verilog']} and {out / (unit.top + '.json')}")
    print(f"  latency {man.get('latency', '-')} cycles; widths {man.get('widths', {})}")
    for port in man["ports"]:
        fields = port.get("fields")
        desc = (" {" + ", ".join(f"{k}[{v['offset']}+:{v['width']}]" for k, v in fields.items())
                + "}") if fields else ""
        print(f"  {port['dir']:<3} {port['name']:<12} {port['width']:>3}{desc}")
    return 0


def cmd_test(args):
    import lowbit.tests

    tests_dir = Path(lowbit.tests.__file__).parent
    cmd = [sys.executable, "-m", "pytest", str(tests_dir), "--sim", args.sim,
           "-p", "no:cacheprovider"]
    if args.jobs and args.jobs > 1:
        cmd += ["-n", str(args.jobs), "--dist", "loadgroup"]
    if args.unit:
        cmd += ["-m", get_unit(args.unit).marker]
    if args.k:
        cmd += ["-k", args.k]
    print("running:", " ".join(cmd), flush=True)
    return subprocess.call(cmd)


def cmd_synth(args):
    from ..boards import format_report, synth

    unit = get_unit(args.unit)
    board = _check_board(args.board)
    params = parse_params(unit, args.param)
    if args.target_mhz is not None and not 1 <= args.target_mhz <= 1000:
        raise UsageError(f"--target-mhz must be between 1 and 1000, not {args.target_mhz:g}")
    out = args.output or Path("lowbit-out") / f"{unit.name}-{board}"
    report = synth(unit.name, params, board, out, target_mhz=args.target_mhz,
                   dsp=not args.no_dsp)
    print(format_report(report))
    print(f"\nwrote {out}")
    return 0


#: compare options that only some units take
_UNIT_OPTIONS = {"terms": {"mac"}, "quantize": {"mac"}, "weights": {"bmvu"},
                 "thresholds": {"bmvu"}, "invert": {"bmvu"},
                 "filter": {"winograd1d", "winograd2d", "direct3x3", "conv2d"}}


def cmd_compare(args):
    from .compare import COMPARE, conv2d_shape_params, load_array

    unit = get_unit(args.unit)
    if unit.name not in COMPARE:
        raise UsageError(f"compare is available for: {', '.join(COMPARE)}, not {unit.name!r}")
    for opt, units in _UNIT_OPTIONS.items():
        value = getattr(args, opt)
        if value is not None and unit.name not in units:
            raise UsageError(f"--{opt} applies to {', '.join(sorted(units))}, not {unit.name}")
    arr = load_array(args.input)
    items = conv2d_shape_params(arr, args.param) if unit.name == "conv2d" else args.param
    params = parse_params(unit, items)
    extra = {name: load_array(getattr(args, name), option=f"--{name}")
             for name in ("weights", "thresholds", "invert") if getattr(args, name)}
    if args.filter:
        extra["filt"] = load_array(args.filter, option="--filter")
    report = COMPARE[unit.name](params, arr, terms=args.terms, sim=args.sim, seed=args.seed,
                                quantize_mode=args.quantize or "nearest", unit=unit.name,
                                **extra)
    print(f"{unit.name}: {report['results']} results through the RTL ({report['simulator']}) "
          f"and the golden model")
    print(f"  RTL vs golden mismatches: {report['mismatches_rtl_vs_golden']}")
    if "shape" in report:
        print(f"  result shape: {' x '.join(map(str, report['shape']))}")
    if "values_per_cycle" in report:
        print(f"  {report['values_per_cycle']} input values a cycle ({report['cycles']} cycles, "
              f"with the seeded idle and back-pressure cycles)")
    for m in report["first_mismatches"]:
        print("    ", m)
    if unit.name == "mac":
        e = report["error_vs_exact_eps"]
        print(f"  {params.fmt_a} x {params.fmt_b} -> {params.fmt_o}, {params.rounding} rounding, "
              f"{report['terms_per_result']} term(s) per result")
        print(f"  error vs exact arithmetic (output eps): mean {e['mean']:+.4f}, "
              f"std {e['std']:.4f}, max |err| {e['max_abs']:.4f}")
        print(f"  saturated results: {report['output_overflow']}; inputs saturated when "
              f"quantizing: {report['input_overflow_when_quantizing']}")
    if args.output:
        _write_json(args.output, report)
        print(f"wrote {args.output}")
    return 0 if report["mismatches_rtl_vs_golden"] == 0 else 1


def _write_json(path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, default=str)
    os.replace(tmp, path)


def cmd_demo(args):
    from .demo import run_demo

    _check_board(args.board)
    return run_demo(args.output, board=args.board, sim=args.sim)


COMMANDS = {"list": cmd_list, "generate": cmd_generate, "test": cmd_test, "synth": cmd_synth,
            "compare": cmd_compare, "demo": cmd_demo}


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"lowbit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as exc:
        print(f"lowbit {args.command}: failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

