"""What the DPU's barrel shifter costs: Yosys (synth_ecp5 -abc9) on a standalone
DotProductUnit, packed popcount, spacing 2, 24-bit accumulator, with max_shift 14 (the
engine's at 8-bit operands) and 0 (no shifter), at Dk = 256 and 8. Writes
dpu-shifter-area.json beside this file.

usage: python bench/bitserial-fanout/dpu_shifter_area.py
"""

import json
import tempfile
from pathlib import Path

from amaranth.back import rtlil
from lowbit.boards.parse import _cells_by_type
from lowbit.boards.toolchain import check_tools, run_tool, tool_env_var, toolchain_env
from lowbit.golden.bitserial import DPUParams
from lowbit.hw.bitserial import DotProductUnit

HERE = Path(__file__).parent
CELLS = ("LUT4", "CCU2C", "PFUMX", "L6MUX21", "TRELLIS_FF")


def yosys_cells(env, top, ports=None):
    """The ECP5 cells (:data:`CELLS`) of ``top`` after ``synth_ecp5 -abc9`` (``ports`` for
    a top that is not a component)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "t.il").write_text(rtlil.convert(top, name="t", ports=ports, emit_src=False))
        run_tool([env[tool_env_var("yosys")], "-q", "-p",
                  "read_rtlil t.il; synth_ecp5 -abc9 -top t; tee -q -o stat.json stat -json"],
                 cwd=d, env=env, console=d / "y.console", check=True)
        cells = _cells_by_type(d / "stat.json")
    return {c: n for c, n in cells.items() if c in CELLS}


def main():
    env = toolchain_env(check_tools("ecp5"))
    out = {"command": "python bench/bitserial-fanout/dpu_shifter_area.py",
           "flow": "read_rtlil; synth_ecp5 -abc9 -top t; stat", "runs": {}}
    for dk in (256, 8):
        for shift in (14, 0):
            p = DPUParams(dk=dk, max_shift=shift, acc_width=24, spacing=2, popcount="packed")
            counts = yosys_cells(env, DotProductUnit(p))
            out["runs"][f"dk{dk}-max_shift{shift}"] = {"params": vars(p), "cells": counts}
            print(f"dk={dk} max_shift={shift}: {counts}")
    (HERE / "dpu-shifter-area.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
