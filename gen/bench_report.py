"""``lowbit bench``'s ``report.md``: a heading, a table and notes a section, from the results
(:func:`report_md`)."""

import dataclasses

from ..hw.units import UNITS
from .bench_plan import BISMO, COSTMODEL_CHECKS

__all__ = ["report_md", "clock_text"]


def clock_text(seconds):
    """``m:ss``, or ``h:mm:ss`` from an hour."""
    s = int(round(max(0.0, seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


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
                               "link (UART, queues, registers), or in the scan harness for "
                               "units without streams. Unit resources are the bare unit after "
                               "Yosys; LC is the whole design's logic cells after place and "
                               "route; the clock column is the clock the design runs at (the "
                               "board oscillator's, or behind the link the board's PLL's: "
                               "`Unit.link_clocks`, else the board's link clock) and whether "
                               "Fmax reaches it."
                               if sec["pnr"] else "Yosys counts only (no place and route)."),
             ""]
    header = ["board", "unit", "parameters", "LUT4", "FF", "carry", "DSP", "BRAM",
              "latency (cycles)"]
    if sec["pnr"]:
        header += ["design LC (util.)", "Fmax (MHz)", "clock (MHz)", "time (s)"]
    else:
        header += ["time (s)"]
    rows = []
    for e in sec["entries"]:
        row = [boards[e["board"]]["label"], f"`{e['unit']}`", _changed_params(e)]
        row += [_res(e, k) for k in ("lut", "ff", "carry", "dsp", "bram")]
        row.append("-" if e.get("latency") is None else str(e["latency"]))
        if sec["pnr"]:
            lc = e.get("logic_cells")
            util = (f"{lc['used']} ({100 * lc['used'] / lc['available']:.0f}%)"
                    if lc and lc["available"] else "-")
            met = {True: "met", False: "NOT met", None: "-"}[e.get("meets_board_clock")]
            clock = f"{e['board_clock_mhz']:g} {met}" if e["status"] == "ok" else "-"
            row += [util, _mhz(e), clock, f"{e['seconds']:.0f}"]
        else:
            row += [f"{e['seconds']:.1f}"]
        rows.append(row)
    lines += _table(header, rows)
    lines += _footnotes(sec["entries"], lambda e: f"`{e['unit']}` on {e['board']}")
    return lines


def _mismatches(counts):
    """Elements that differ, or 'results lost' when a run's results did not all come back."""
    return "results lost" if None in counts else sum(counts)


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
        if p.get("sustained"):
            lines += ["Sustained over peak, back-to-back runs of these matrices in simulation "
                      "(every word offered at once, no back-pressure): the array's busy share "
                      "once the pipeline is full (steady) and over the whole sequence with "
                      "fill and drain; loading a new B each run, and weight-resident (B "
                      "loaded once). Every product checked against numpy.", ""]
            srows = [[f"{r['wa']} x {r['wb']}", r["cycles_per_run"],
                      *(f"{100 * r[mode][k]:.1f}%" for mode in ("loaded", "resident")
                        for k in ("steady", "sequence")),
                      _mismatches([r[mode]["mismatches"] for mode in ("loaded", "resident")])]
                     for r in p["sustained"]]
            lines += _table(["wa x wb", "schedule cycles a run", "loaded steady",
                             "loaded sequence", "resident steady", "resident sequence",
                             "mismatches"], srows)
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


def report_md(results, plots):
    """The text of ``report.md`` for ``results``, the ``plots`` (``{section: file name}``)
    embedded after their sections."""
    r = results
    boards = r["boards"]
    git = r.get("git") or {}
    lines = ["# lowbit bench", "",
             f"Run {r['started']} to {r['finished']} ({clock_text(r['seconds'])}) on "
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
