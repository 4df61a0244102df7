"""Reading what Yosys and nextpnr report: cell counts from ``stat -json``, Fmax, critical
paths and utilization from nextpnr's ``--report`` JSON (used by :mod:`lowbit.boards.flow`)."""

import json
from pathlib import Path

from .targets import CELL_CLASSES

__all__ = ["count_cells"]

# Cells of the unit in the on-board netlist: the top's "harness" (ScanHarness or HostLink),
# its "unit".
_UNIT_CELLS = "harness.unit."

# The repository root, to shorten source locations in critical-path reports.
_ROOT = Path(__file__).absolute().parent.parent


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
