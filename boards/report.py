"""The synthesis report as an aligned plain-text table (``report.txt`` and the CLI)."""

import textwrap
import zlib

__all__ = ["format_report"]

_CLASS_LABELS = {
    "lut": "LUT4",
    "ff": "flip-flops",
    "carry": "carry cells",
    "dsp": "DSP blocks",
    "bram": "block RAMs",
}

_WIDTH = 100


def _mhz(value):
    return "-" if value is None else f"{value:.2f} MHz"


def _bits(n):
    return f"{n} bit" if n == 1 else f"{n} bits"


def _verdict(ok):
    return "met" if ok else "NOT met"


def _short(value):
    """A parameter as the report shows it: long values (a network's weights) by their size
    and a CRC-32 (``report.json`` has them whole)."""
    text = str(value)
    if len(text) <= 60:
        return text
    return f"<{len(text):,} characters, crc32 {zlib.crc32(text.encode()):08x}>"


def _table(header, rows):
    """Left column left-aligned, the others right-aligned, two spaces between columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(r[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def format_report(report):
    """Render a :func:`lowbit.boards.synth` report as readable text.

    Parameters
    ----------
    report : dict
        The dict :func:`~lowbit.boards.flow.synth` returns (or ``report.json`` loaded).

    Returns
    -------
    str
        Several aligned sections, ending in a newline: the unit's own resources next to the
        harness's and the total, post-route utilization, timing against the board clock and
        the P&R target with the critical path, the harness, and run times.
    """
    r = t = report
    lines = [
        f"lowbit synth: {r['unit']} ({r['top']}) on {r['board']} "
        f"({r['device']} {r['package']}, {r['family']})",
    ]
    params = " ".join(f"{k}={_short(v)}" for k, v in r["params"].items())
    lines += textwrap.wrap(f"params: {params}", _WIDTH, subsequent_indent="        ")
    if r.get("latency") is not None:
        lines.append(f"latency: {r['latency']} cycles (the unit's, as its manifest gives it)")

    if not r.get("dsp_inference", True):
        lines.append("multiplies in LUTs: DSP inference off (--no-dsp)")
    lines += ["", "resources after Yosys (unit out of context; harness = total - unit)"]
    unit, harness, design = r["unit_resources"], r["harness_resources"], r["design_resources"]
    lines += _table(["", "unit", "harness", "total"],
                    [[label, unit[cls], harness[cls], design[cls]]
                     for cls, label in _CLASS_LABELS.items()])
    cells = ", ".join(f"{cell} {n}" for cell, n in r["unit_cells"].items())
    lines += textwrap.wrap(f"unit cells: {cells}", _WIDTH, initial_indent="  ",
                           subsequent_indent="    ")

    outreg = r.get("bram_output_registers")
    if outreg and outreg["rams"]:
        lines += textwrap.wrap(
            f"block RAM output registers: {outreg['ffs']} read-data flip-flops moved into "
            f"{outreg['rams']} block RAM read ports (REGMODE OUTREG; counted above as the "
            f"RAMs', not as flip-flops)", _WIDTH, initial_indent="  ", subsequent_indent="    ")
    dspreg = r.get("dsp_registers")
    if dspreg and dspreg["mults"]:
        lines += textwrap.wrap(
            f"multiplier registers: {dspreg['ffs']} operand and product flip-flops moved into "
            f"{dspreg['mults']} multiplier blocks (input/output registers; counted above as "
            f"the multipliers', not as flip-flops)", _WIDTH, initial_indent="  ",
            subsequent_indent="    ")
    lines += ["", "post-route utilization (nextpnr, whole design)"]
    rows = []
    for cell, u in r["utilization"].items():
        share = f"{100 * u['used'] / u['available']:.1f}%" if u["available"] else "-"
        rows.append([cell, u["used"], u["available"], share])
    lines += _table(["", "used", "available", "share"], rows)

    lines += ["", "timing (post-route)"]
    pll = r["harness"].get("pll")
    osc = r.get("oscillator_mhz", t["board_clock_mhz"])
    lines += _table(["", "", ""], [
        ["Fmax", _mhz(t["fmax_mhz"]), ""],
        ["PLL clock" if pll else "board clock", _mhz(t["board_clock_mhz"]),
         _verdict(t["meets_board_clock"])],
        *([["oscillator", _mhz(osc), ""]] if pll else []),
        ["P&R target", _mhz(t["target_mhz"]), _verdict(t["meets_target"])],
    ])[1:]
    if pll:
        lines.append(f"  the design runs at the PLL clock: {pll}")
    chosen = {k: v for k, v in r.get("nextpnr", {}).items() if v is not None}
    if chosen:
        lines.append("  nextpnr: " + ", ".join(f"--{k}" if v is True else f"--{k} {v}"
                                                for k, v in chosen.items()))
    if r.get("lut_mapping", "area") != "area":
        lines.append(f"  LUT mapping: {r['lut_mapping']} (Yosys's ABC mapped for depth alone)")
    crit = t.get("critical_path")
    if crit:
        lines.append(f"  critical path: {crit['delay_ns']:.2f} ns ({crit['logic_ns']:.2f} "
                     f"logic, {crit['routing_ns']:.2f} routing)")
        lines.append(f"    from {crit['start']}")
        lines.append(f"    to   {crit['end']}")
        if crit["sources"]:
            lines += textwrap.wrap(f"in {', '.join(crit['sources'])}", _WIDTH,
                                   initial_indent="    ", subsequent_indent="       ")
    for note in t.get("notes", []):
        lines += textwrap.wrap(f"note: {note}", _WIDTH, initial_indent="  ",
                               subsequent_indent="        ")

    h = r["harness"]
    pins = ", ".join(f"{sig} {pin}" for sig, pin in h["pins"].items())
    lines.append("")
    if h.get("kind") == "link":
        text = (f"harness: host link at {h['baud']} baud ({h['actual_baud']} from "
                f"{h['clk_hz'] / 1e6:g} MHz), words of {h['in_bytes']} bytes in and "
                f"{h['out_bytes']} out, signature {h['signature']}; pins {pins}")
    else:
        text = (f"harness: {_bits(h['in_width'])} shifted in, {_bits(h['out_width'])} "
                f"captured; pins {pins}")
    lines += textwrap.wrap(text, _WIDTH, subsequent_indent="    ")

    times = ", ".join(f"{step} {s:.1f}" for step, s in r["times_s"].items())
    lines += textwrap.wrap(f"run time (s): {times}", _WIDTH, subsequent_indent="    ")
    lines.append(f"bitstream: {r['bitstream']}")
    return "\n".join(lines) + "\n"
