"""``verilator --lint-only -Wall`` on generated Verilog, with the one list of waived warnings.

Every waiver is a pattern of Amaranth's Verilog back end, not of a lowbit design choice; any
other warning (latches, multiple drivers, combinational loops, ...) fails the lint test.
"""

import subprocess
import tempfile
from pathlib import Path

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


def lint(verilog_path, models=()):
    """Lint one file; return the list of warning/error lines that are not waived.

    ``models``: files of the vendor cells the Verilog instantiates (the manifest's ``models``,
    Yosys's own simulation models): read for the cells' ports, never linted themselves."""
    tool_env()
    models = [str(m) for m in models]
    # A Verilator configuration file given before the models turns their warnings off, file
    # by file (SPECIFYIGN, of their timing blocks, by name: the parser's), the design's stay.
    config = "".join(f'lint_off -rule SPECIFYIGN -file "*/{Path(m).name}"\n'
                     f'lint_off -file "*/{Path(m).name}"\n' for m in models)
    cmd = ["verilator", "--lint-only", "-Wall", *(f"-Wno-{w}" for w in WAIVERS)]
    with tempfile.TemporaryDirectory() as tmp:
        if models:
            vlt = Path(tmp) / "models.vlt"
            vlt.write_text("`verilator_config\n" + config)
            cmd += [str(vlt), *models]
        cmd += [str(verilog_path)]
        if models:
            cmd += ["--top-module", Path(verilog_path).stem]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
             if ln.startswith(("%Warning", "%Error"))]
    if proc.returncode and not lines:
        lines = [f"verilator exited {proc.returncode}: {proc.stderr.strip()[:500]}"]
    return lines
