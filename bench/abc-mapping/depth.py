"""Logic levels into every flip-flop of a unit's ECP5 netlist, for each LUT mapping.

    python bench/abc-mapping/depth.py [UNIT k=v ...]

Synthesizes the unit out of context for the ULX3S-85F, with the board's sizes and the items
on top (the parameters and the synthesis ``lowbit synth`` uses, ``lowbit.boards.flow``), with
``lut_mapping="area"`` and ``"delay"``, then counts, for each flip-flop input (DI, CE, M,
LSR), the deepest chain of logic in front of it: a LUT4 is one level, a PFUMX or L6MUX21
(the slice's wide-LUT multiplexers) half a level, a CCU2C (two bits of carry chain) a
quarter. Writes ``depth-<unit>-<params>.json`` beside this file: the LUT4 count, the
histogram of levels and the deepest inputs of each mapping, the inputs whose levels the
delay mapping changed most (by flip-flop name, which both netlists share), and the command.
Default: the 2 x 256 x 2 engine of ``bench/bitserial-fanout`` (planes, spacing=1,
bcast_fanout=1)."""

import collections
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from lowbit.boards import get_board
from lowbit.boards.flow import _unit_synth
from lowbit.boards.sizes import sized_params
from lowbit.boards.toolchain import check_tools, toolchain_env
from lowbit.hw.units import get_unit

HERE = Path(__file__).parent
DEFAULT = ["bitserial", "dm=2", "dk=256", "dn=2", "operands=planes", "spacing=1",
           "bcast_fanout=1"]
LEVELS = {"LUT4": 1.0, "PFUMX": 0.5, "L6MUX21": 0.5, "CCU2C": 0.25}
PORTS = ("DI", "CE", "M", "LSR")


def levels(module):
    """``{(flip-flop, port): levels}`` of a flat netlist module (Yosys JSON)."""
    cells = module["cells"]
    driver = {}
    for name, c in cells.items():
        for port, bits in c["connections"].items():
            if c["port_directions"].get(port) == "output":
                driver.update((b, name) for b in bits if isinstance(b, int))
    memo = {}

    def depth(bit):  # iterative: carry chains are long
        stack = [bit]
        while stack:
            b = stack[-1]
            if b in memo:
                stack.pop()
                continue
            name = driver.get(b)
            cell = cells.get(name) if name else None
            if cell is None or cell["type"] not in LEVELS:
                memo[b] = 0.0
                stack.pop()
                continue
            ins = [x for port, bits in cell["connections"].items()
                   if cell["port_directions"].get(port) == "input"
                   for x in bits if isinstance(x, int)]
            todo = [x for x in ins if x not in memo]
            if todo:
                memo.update((x, 0.0) for x in todo if x in stack)  # a loop: cut it
                stack += [x for x in todo if x not in stack]
                continue
            memo[b] = LEVELS[cell["type"]] + max((memo[x] for x in ins), default=0.0)
            stack.pop()
        return memo[bit]

    return {(name, port): max(depth(b) for b in c["connections"][port] if isinstance(b, int))
            for name, c in cells.items() if c["type"] == "TRELLIS_FF"
            for port in PORTS if any(isinstance(b, int) for b in c["connections"].get(port, []))}


def measure(unit, params, board, mapping, keep):
    env = toolchain_env(check_tools(board.family))
    with tempfile.TemporaryDirectory(prefix="lowbit-depth-") as work:
        cells, *_ = _unit_synth(unit, params, board, Path(work), env, lambda line: None,
                                netlist=True, lut_mapping=mapping)
        netlist = json.loads((Path(work) / "unit.json").read_text())
    lv = levels(netlist["modules"][unit.top])
    keep[mapping] = lv
    hist = collections.Counter(lv.values())
    deepest = sorted(lv.items(), key=lambda kv: -kv[1])[:20]
    return {"lut4": cells.get("LUT4", 0), "pfumx": cells.get("PFUMX", 0),
            "l6mux21": cells.get("L6MUX21", 0), "ccu2c": cells.get("CCU2C", 0),
            "ff_inputs": len(lv),
            "mean_levels": round(sum(lv.values()) / max(len(lv), 1), 3),
            "inputs_at_3_levels_or_more": sum(n for v, n in hist.items() if v >= 3),
            "histogram": {f"{v:g}": n for v, n in sorted(hist.items())},
            "deepest": [{"ff": ff, "port": port, "levels": v} for (ff, port), v in deepest]}


def main(argv):
    argv = argv or DEFAULT
    unit, kvs = get_unit(argv[0]), argv[1:]
    board = get_board("ulx3s-85f")  # the delay mapping is ECP5's
    params = sized_params(unit.name, board.name, kvs)
    out = {"command": "python bench/abc-mapping/depth.py " + " ".join(argv),
           "unit": unit.name, "params": kvs, "board": board.name,
           "all_params": dataclasses.asdict(params), "mappings": {}}
    lv = {}
    for m in ("area", "delay"):
        out["mappings"][m] = measure(unit, params, board, m, lv)
    both = [k for k in lv["area"] if k in lv["delay"]]
    moved = sorted(both, key=lambda k: lv["delay"][k] - lv["area"][k])
    out["changed"] = {
        "inputs_in_both": len(both),
        "fewer_levels": sum(lv["delay"][k] < lv["area"][k] for k in both),
        "more_levels": sum(lv["delay"][k] > lv["area"][k] for k in both),
        "largest_drops": [{"ff": k[0], "port": k[1], "area": lv["area"][k],
                           "delay": lv["delay"][k]} for k in moved[:25]],
        "largest_rises": [{"ff": k[0], "port": k[1], "area": lv["area"][k],
                           "delay": lv["delay"][k]} for k in moved[::-1][:10]]}
    name = "-".join([unit.name, *(kv.replace("=", "") for kv in kvs)])
    path = HERE / f"depth-{name}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    for m, r in out["mappings"].items():
        print(f"{m}: {r['lut4']} LUT4, mean {r['mean_levels']} levels, "
              f"{r['inputs_at_3_levels_or_more']} of {r['ff_inputs']} inputs at >= 3")
    c = out["changed"]
    print(f"delay mapping: {c['fewer_levels']} inputs with fewer levels, {c['more_levels']} "
          f"with more, of {c['inputs_in_both']}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
