"""``verilator --lint-only -Wall`` on generated Verilog, with the one list of waived warnings.

Every waiver is a pattern of Amaranth's Verilog back end, not of a lowbit design choice; any
other warning (latches, multiple drivers, combinational loops, ...) fails the lint test.
"""

import subprocess

from .runner import tool_env

__all__ = ["WAIVERS", "lint"]

WAIVERS = {
    "WIDTHEXPAND": "Amaranth's arithmetic widens operands itself and emits mixed-width "
                   "operators ($signed(a) + {1'h0, b}); the widths are correct by construction.",
    "WIDTHTRUNC": "Amaranth writes reductions as '!vector' and slices wide intermediates.",
    "UNUSEDSIGNAL": "Amaranth keeps the full-width intermediates of '+' and '*' and named "
                    "internal signals (ce, done) whose value is used through an alias.",
    "DECLFILENAME": "Submodules are named '<top>.<child>' in one file.",
    "PROCASSINIT": "Registers carry their reset value as an initializer and are also "
                   "assigned in an always block; both are intended.",
}


def lint(verilog_path):
    """Lint one file; return the list of warning/error lines that are not waived."""
    tool_env()
    cmd = ["verilator", "--lint-only", "-Wall", *(f"-Wno-{w}" for w in WAIVERS),
           str(verilog_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
             if ln.startswith(("%Warning", "%Error"))]
    if proc.returncode and not lines:
        lines = [f"verilator exited {proc.returncode}: {proc.stderr.strip()[:500]}"]
    return lines
