"""``lowbit sweep``: a design-space sweep of one unit, its points synthesized in parallel on
local worker processes or a Dask cluster (:mod:`lowbit.gen.executor`), with the Pareto front
of cost against performance.

The points are the grid of the ``-p key=v1,v2,...`` lists (every combination), or the listed
``--point key=v,key=v`` sets, on each ``--board``, each at the board's size for the unit
(:mod:`lowbit.boards.sizes`) with the point's values on top, as ``lowbit synth`` takes them.
``dsp`` is a parameter of every point as well: whether multiplies go to DSP blocks (default:
as ``lowbit synth`` does on the board).

Each point is measured by :class:`lowbit.gen.bench_measure.Measurer`, the same code as the
bench's matrix: placed and routed behind the scan harness (``--no-pnr``: Yosys counts). Its
result is kept in ``DIR/points/KEY.json`` the moment it finishes (the key hashes the unit, the
board, every parameter, the options and the generator's source), so a sweep that is run again
skips the points it finished, an interrupted sweep keeps them, and a point that failed or did
not fit is a result like any other. At the end ``DIR/results.json``, ``DIR/report.md`` and
``DIR/plots/pareto-*.png`` are written, atomically.

Pareto front (:func:`pareto_front`): among the points of a board that have the performance
figure, a point is on the front unless another point is at least as good in every cost (LUT,
DSP, BRAM) and in performance, and better in one of them.
"""

import argparse
import dataclasses
import hashlib
import itertools
import json
import math
import os
import platform
import sys
import textwrap
import time
from pathlib import Path

from ..golden.checks import UsageError, parse_bool, parse_params

__all__ = ["add_parser", "run", "run_sweep", "expand_points", "pareto_front", "MAX_POINTS",
           "COSTS", "RESULTS_VERSION"]

#: Bumped when the layout of a point's result changes (it is part of the point's key).
RESULTS_VERSION = 1
#: A sweep with more points than this asks for ``--yes``.
MAX_POINTS = 64
#: The costs of the Pareto front, as the measurer's resource counts name them.
COSTS = ("lut", "dsp", "bram")



# ---------------------------------------------------------------- the points


def _split_values(item, option):
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"{option} {item!r} must be written key=value1,value2,...")
    values = [v.strip() for v in text.split(",")]
    if not text.strip():
        raise UsageError(f"{option} {item!r} has an empty value list; give one or more "
                         f"values separated by commas, such as {key}=4,8")
    if any(not v for v in values):
        raise UsageError(f"{option} {item!r} has an empty value between commas; give "
                         f"values separated by single commas, such as {key}=4,8")
    return key, values


def expand_points(unit_name, boards, grid=(), listed=(), *, limit=None):
    """The sweep's points: a list of ``(board, params, dsp, values)``, in order, without
    repeats. ``values`` is the point's own ``{key: text}`` (what the table shows).

    ``grid`` holds ``key=v1,v2,...`` items (every combination); ``listed`` holds
    ``key=v,key=v`` items, one point each. With neither, the board's size is the one point.
    Raises :class:`UsageError` for an unknown parameter, an empty or malformed list, or a
    value the unit refuses (naming the point); with ``limit``, also a sweep of more points
    than that (counted before any is built)."""
    from ..boards.sizes import board_dsp, sized_params
    from ..hw.units import get_unit

    unit = get_unit(unit_name)
    allowed = [f.name for f in dataclasses.fields(unit.params_cls)] + ["dsp"]

    def check_key(key, option):
        if key not in allowed:
            raise UsageError(f"unknown parameter {key!r} for unit {unit.name} in {option}; "
                             f"allowed: {', '.join(allowed)}")

    axes = {}
    for item in grid:
        key, values = _split_values(item, "-p")
        check_key(key, "-p")
        if key in axes:
            raise UsageError(f"-p {key}=... is given twice; give each parameter once, with "
                             f"all its values: -p {key}=v1,v2")
        axes[key] = list(dict.fromkeys(values))
    count = len(boards) * ((math.prod(len(v) for v in axes.values()) if axes else 0)
                           + len(listed) or 1)
    if limit is not None and count > limit:
        raise UsageError(f"the sweep has {count} points, more than {limit}; narrow the lists, "
                         f"or give --yes to run them all")
    combos = [dict(zip(axes, c)) for c in itertools.product(*axes.values())] if axes else []
    for item in listed:
        pairs = {}
        for part in item.split(","):
            key, sep, text = part.partition("=")
            key, text = key.strip(), text.strip()
            if not sep or not key or not text:
                raise UsageError(f"--point {item!r} must be written key=value,key=value")
            check_key(key, "--point")
            if key in pairs:
                raise UsageError(f"--point {item!r} gives {key} twice")
            pairs[key] = text
        combos.append(pairs)
    if not combos:
        combos = [{}]
    points, seen = [], set()
    for board in boards:
        for values in combos:
            where = " ".join(f"{k}={v}" for k, v in values.items()) or "the board size"
            items = [f"{k}={v}" for k, v in values.items() if k != "dsp"]
            parse_params(unit, items)  # the value's own message, before the board's
            try:
                params = sized_params(unit.name, board, items)
            except UsageError as exc:
                raise UsageError(f"point {where} on {board}: {exc}") from None
            dsp = (parse_bool("dsp", values["dsp"]) if "dsp" in values
                   else board_dsp(unit.name, board))
            ident = (board, json.dumps(dataclasses.asdict(params), sort_keys=True), dsp)
            if ident not in seen:
                seen.add(ident)
                points.append((board, params, dsp, values))
    return points


def point_key(unit_name, board, params, *, dsp, pnr, harness):
    """The file name of a point's result: the same point (whatever way its values were
    written) with the same options and generator gets the same key."""
    from ..hw.build import source_hash

    blob = json.dumps({"unit": unit_name, "board": board, "params": dataclasses.asdict(params),
                       "dsp": dsp, "pnr": pnr, "harness": harness, "src": source_hash(),
                       "results_version": RESULTS_VERSION}, sort_keys=True)
    return f"{unit_name}-{board}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def _throughput_units():
    from ..hw.units import UNITS

    return [u.name for u in UNITS.values() if ops_per_cycle(u.defaults())]


def ops_per_cycle(params):
    """Binary ops a cycle at peak where the unit defines them (``peak_binary_ops_per_cycle``),
    else ``None``."""
    return getattr(params, "peak_binary_ops_per_cycle", None)


# ---------------------------------------------------------------- the Pareto front


def pareto_front(rows, costs=COSTS, perf="perf"):
    """For each row (a dict with the ``costs`` and ``perf`` keys), whether it is on the
    Pareto front: no other row has every cost lower or equal and ``perf`` higher or equal,
    with one of them strictly. Rows whose ``perf`` is ``None`` are never on it (``False``);
    a missing cost counts as 0."""
    def cost(r):
        return tuple(r.get(c) or 0 for c in costs)

    ok = [r.get(perf) is not None for r in rows]
    out = []
    for i, r in enumerate(rows):
        if not ok[i]:
            out.append(False)
            continue
        ci, pi = cost(r), r[perf]
        dominated = False
        for j, s in enumerate(rows):
            if j == i or not ok[j]:
                continue
            cj, pj = cost(s), s[perf]
            if (all(a <= b for a, b in zip(cj, ci)) and pj >= pi
                    and (cj != ci or pj > pi)):
                dominated = True
                break
        out.append(not dominated)
    return out


# ---------------------------------------------------------------- the command line


def add_parser(sub):
    """Register ``lowbit sweep`` with the CLI's subparsers."""
    from ..boards import DEFAULT_BOARD
    from ..hw.units import UNITS
    from .executor import CONNECT_TIMEOUT

    intro = (
        "Synthesize every point of a parameter grid of UNIT (every combination of the -p "
        "lists, or the --point sets) on each --board, in parallel: placed and routed behind "
        "the scan harness (--no-pnr: Yosys counts only), on local worker processes or on a "
        "Dask distributed cluster (--scheduler). Each point's result is kept in "
        "DIR/points/ as it finishes: running the same sweep again skips finished points, "
        "Ctrl-C keeps them, and a point that fails or does not fit is recorded, not the end "
        "of the sweep. At the end: DIR/results.json, DIR/report.md (a table, the Pareto "
        "front of LUT, DSP and BRAM against performance) and DIR/plots/pareto-*.png.")
    example = ("example: lowbit sweep bitserial --board ulx3s-85f -p dk=64,128,256 "
               "-p dm=2,4 --workers 2")
    p = sub.add_parser(
        "sweep", help="design-space sweep on local processes or Dask: results, Pareto front",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"{textwrap.fill(intro, 79)}\n\n{example}")
    p.add_argument("unit", choices=list(UNITS), help="the unit to sweep")
    p.add_argument("--board", action="extend", nargs="+", default=None, metavar="BOARD",
                   help=f"boards to sweep on (default: {DEFAULT_BOARD}); see 'lowbit list'")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=V1,V2",
                   help="a parameter and its values, separated by commas; the sweep takes "
                        "every combination of the -p lists. 'dsp=yes,no' sweeps multiplies "
                        "in DSP blocks against LUTs. See 'lowbit list' for the parameters")
    p.add_argument("--point", action="append", default=[], metavar="KEY=V,KEY=V",
                   help="one point given in full (repeat for a listed set instead of, or "
                        "beside, the grid)")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                   help="output directory (default: ./lowbit-sweep/UNIT); a sweep run again "
                        "into the same directory resumes")
    p.add_argument("--no-pnr", action="store_true",
                   help="Yosys counts only: seconds a point instead of minutes, no Fmax")
    p.add_argument("--metric", choices=("fmax", "throughput"), default=None,
                   help="performance axis of the Pareto front: fmax (MHz), or throughput "
                        "(peak binary ops/s = ops a cycle x Fmax; ops a cycle with --no-pnr), "
                        f"for units that define ops a cycle ({', '.join(_throughput_units())})."
                        " Default: throughput where defined, else fmax")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help=f"local worker processes (default: one a core, {os.cpu_count()} "
                        f"here); not with --scheduler")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the points on the Dask cluster whose scheduler is at ADDRESS "
                        "(such as tcp://10.0.0.5:8786; the workers need lowbit installed); "
                        f"given up after {CONNECT_TIMEOUT:g} s if it cannot be reached")
    p.add_argument("--retry-failed", action="store_true",
                   help="run again the points whose earlier result is a failure (not those "
                        "that did not fit)")
    p.add_argument("--yes", action="store_true",
                   help=f"run a sweep of more than {MAX_POINTS} points")
    return p


def run(args):
    """``lowbit sweep`` from parsed arguments; returns the exit status."""
    from ..boards import DEFAULT_BOARD
    from ..boards.targets import get_board
    from ..hw.units import get_unit
    from .executor import check_address, check_workers

    boards = list(dict.fromkeys(get_board(b).name for b in (args.board or [DEFAULT_BOARD])))
    check_workers(args.workers, args.scheduler)
    if args.metric == "throughput" and not ops_per_cycle(get_unit(args.unit).defaults()):
        raise UsageError(f"--metric throughput needs ops a cycle, which {args.unit} does not "
                         f"define; use --metric fmax, or a unit that does: "
                         f"{', '.join(_throughput_units())}")
    if args.scheduler:
        check_address(args.scheduler)
    points = expand_points(args.unit, boards, args.param, args.point,
                           limit=None if args.yes else MAX_POINTS)
    out = args.output or Path("lowbit-sweep") / args.unit
    command = ["sweep", args.unit, *[a for b in boards for a in ("--board", b)],
               *[a for x in args.param for a in ("-p", x)],
               *[a for x in args.point for a in ("--point", x)], "-o", str(out),
               *(["--no-pnr"] if args.no_pnr else []),
               *(["--metric", args.metric] if args.metric else []),
               *(["--workers", str(args.workers)] if args.workers else []),
               *(["--scheduler", args.scheduler] if args.scheduler else []),
               *(["--retry-failed"] if args.retry_failed else [])]
    return run_sweep(args.unit, points, out, pnr=not args.no_pnr, metric=args.metric,
                     workers=args.workers, scheduler=args.scheduler,
                     retry_failed=args.retry_failed, command=command)


# ---------------------------------------------------------------- the run


def _load_point(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # unreadable: measured again


def _summary(entry):
    if entry["status"] == "ok":
        r = entry.get("unit_resources") or {}
        return f"ok, {r.get('lut')} LUT, {entry.get('fmax_mhz')} MHz"
    if entry["status"] == "netlist":
        r = entry.get("unit_resources") or {}
        return f"{r.get('lut')} LUT, {r.get('ff')} FF, {r.get('dsp')} DSP, {r.get('bram')} BRAM"
    return f"{entry['status']}: {entry.get('message', '')}"


def run_sweep(unit_name, points, outdir, *, pnr=True, metric=None, workers=None,
              scheduler=None, retry_failed=False, harness="scan", command=None, stream=None,
              task=None):
    """Run the sweep's ``points`` (:func:`expand_points`) and write ``outdir``; returns the
    exit status (0; 1 when a point failed: the results say which; 130 when interrupted).

    ``task`` replaces :func:`~lowbit.gen.bench_measure.measure_point` (for tests: a
    picklable function of the same ``spec``)."""
    from ..hw.build import atomic_dir, check_output_dir, write_json
    from .bench import _now
    from .bench_measure import lost_entry, measure_point
    from .bench_report import clock_text
    from .executor import Workers

    task = task or measure_point
    stream = stream or sys.stderr
    outdir = Path(outdir)
    check_output_dir(outdir, whole=False)
    pts_dir = outdir / "points"
    keyed = [(point_key(unit_name, b, p, dsp=d, pnr=pnr, harness=harness), b, p, d, v)
             for b, p, d, v in points]
    results, todo = {}, []
    for key, board, params, dsp, values in keyed:
        old = _load_point(pts_dir / f"{key}.json") if pts_dir.is_dir() else None
        if old is not None and not (retry_failed and old["status"] == "error"):
            old["point"] = dict(values)  # the same point, as this run spells it
            results[key] = old
        else:
            todo.append((key, board, params, dsp, values))

    def say(text):
        print(text, file=stream, flush=True)

    total = len(keyed)
    say(f"sweep {unit_name}: {total} point{'s' if total != 1 else ''}, "
        f"{len(results)} finished before (kept in {pts_dir}), {len(todo)} to run")
    started, t0 = _now(), time.perf_counter()
    failed = sum(1 for r in results.values() if r["status"] == "error")
    where = "no worker (every point finished before)"
    try:
        if todo:
            with Workers(workers, scheduler) as pool:
                pts_dir.mkdir(parents=True, exist_ok=True)  # once the workers are there
                where = pool.where
                say(f"sweep {unit_name}: running on {where}")
                futures = {}
                for key, board, params, dsp, values in todo:
                    spec = {"unit": unit_name, "board": board, "params": params, "dsp": dsp,
                            "pnr": pnr, "harness": harness}
                    futures[pool.submit(task, spec)] = (key, board, params, dsp, values)
                import concurrent.futures as cf

                done_now = 0
                for fut in cf.as_completed(futures):
                    key, board, params, dsp, values = futures[fut]
                    try:
                        entry = fut.result()
                    except Exception as exc:  # a lost worker, or the task itself
                        entry = lost_entry(unit_name, board, params, dsp, exc)
                    entry.pop("log", None)  # the measurer's progress lines: the summary below
                    entry.update(key=key, point=dict(values), board=board, dsp=dsp)
                    write_json(pts_dir / f"{key}.json", entry)
                    results[key] = entry
                    done_now += 1
                    failed += entry["status"] == "error"
                    left = len(todo) - done_now
                    running = min(pool.count, left)
                    elapsed = time.perf_counter() - t0
                    eta = elapsed / done_now * left if done_now else 0.0
                    label = " ".join(f"{k}={v}" for k, v in values.items()) or "board size"
                    say(f"[{len(results)}/{total} done, {running} running, {failed} failed, "
                        f"{clock_text(elapsed)} elapsed, ~{clock_text(eta)} left] {label} on "
                        f"{board}: {_summary(entry)}")
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP through the CLI
        import signal

        say(f"lowbit sweep: interrupted; {len(results)} of {total} points are finished and "
            f"kept in {pts_dir}; run the same command again to go on")
        return 128 + getattr(exc, "signum", signal.SIGINT)
    rows = [results[k] for k, *_ in keyed]
    summary = _results(unit_name, rows, pnr=pnr, metric=metric, command=command,
                       started=started, seconds=time.perf_counter() - t0, where=where)
    from .sweep_report import draw_pareto, report_md

    with atomic_dir(outdir, whole=False) as tmp:
        plots = draw_pareto(summary, tmp / "plots")
        summary["plots"] = [f"plots/{p}" for p in plots]
        (tmp / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
        (tmp / "report.md").write_text(report_md(summary))
    for stale in (outdir / "plots").glob("pareto-*.png"):  # an earlier sweep's, not this one's
        if f"plots/{stale.name}" not in summary["plots"]:
            stale.unlink()
    c = summary["status_counts"]
    front = (f"{sum(summary['front'])} on the Pareto front" if summary["front_note"] is None
             else f"no Pareto front: {summary['front_note']}")
    say(f"lowbit sweep: {total} points: {c.get('ok', 0)} placed and routed, "
        f"{c.get('netlist', 0)} Yosys-only, {c.get('does not fit', 0)} did not fit, "
        f"{c.get('error', 0)} failed; {front}")
    print(f"wrote {outdir / 'results.json'}, {outdir / 'report.md'} and "
          f"{len(plots)} plot{'s' if len(plots) != 1 else ''} in {outdir / 'plots'}")
    return 1 if c.get("error") else 0


def _perf(entry, metric, pnr):
    """``(value, label)`` of a point's performance, or ``(None, label)``."""
    ops = ops_per_cycle_of(entry)
    if metric == "fmax":
        return entry.get("fmax_mhz"), "Fmax (MHz)"
    if pnr:
        f = entry.get("fmax_mhz")
        return (ops * f * 1e6 if f and ops else None), "peak binary ops/s"
    return ops, "peak binary ops a cycle"


def ops_per_cycle_of(entry):
    from ..hw.units import get_unit

    unit = get_unit(entry["unit"])
    try:
        params = unit.params_cls(**entry["params"])
    except (TypeError, ValueError):
        return None
    return ops_per_cycle(params)


def _results(unit_name, rows, *, pnr, metric, command, started, seconds, where):
    from ..boards.flow import versions
    from ..hw.units import get_unit
    from .bench import _now
    from .bench_measure import PACKAGES

    if metric is None:
        metric = "throughput" if ops_per_cycle(get_unit(unit_name).defaults()) else "fmax"
    label = None
    for r in rows:
        r["perf"], label = _perf(r, metric, pnr)
    front = [False] * len(rows)
    for board in dict.fromkeys(r["board"] for r in rows):  # costs compare within a board
        idx = [i for i, r in enumerate(rows) if r["board"] == board]
        flat = [dict(r.get("unit_resources") or {}, perf=r["perf"]) for r in
                (rows[i] for i in idx)]
        flat = [f if rows[i]["status"] in ("ok", "netlist") else dict(perf=None)
                for f, i in zip(flat, idx)]
        for i, on in zip(idx, pareto_front(flat)):
            front[i] = on
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    note = None
    if not any(r["perf"] is not None for r in rows):
        if not pnr and metric == "fmax":
            note = ("Yosys counts (--no-pnr) have no Fmax; place and route the points, or use "
                    "--metric throughput with a unit that defines ops a cycle ("
                    f"{', '.join(_throughput_units())})")
        else:
            note = "no point has the performance figure (none was placed and routed)"
    varied = list(dict.fromkeys(k for r in rows for k in r.get("point", {})))
    return {"results_version": RESULTS_VERSION, "command": list(command or []),
            "unit": unit_name, "pnr": pnr, "metric": metric, "perf_label": label,
            "costs": list(COSTS), "varied": varied, "started": started,
            "finished": _now(), "seconds": round(seconds, 2), "where": where,
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "versions": versions(PACKAGES), "status_counts": counts, "front": front,
            "front_note": note,
            "points": rows}
