"""nextpnr's options on one netlist: by default the scan-harnessed bit-serial engine at
2 x 256 x 2 on the ULX3S-85F (``spacing=1``, ``bcast_fanout=1``, ``popcount=tree``,
``--lut-mapping delay``, the configuration of the best runs at Dk = 256 in
bench/bitserial-fanout), synthesized once by Yosys from CHECKOUT, then placed and routed with
each option set in turn.

usage: python bench/nextpnr-options/run.py [--unit SPEC] CHECKOUT LABEL WORKDIR NAME=OPTIONS [...]

``--unit UNIT[:k=v,...][@BOARD][%MAPPING]``: another unit instead, with the parameters
``lowbit synth UNIT --board BOARD -p k=v ...`` builds (the board's sizes, ``-p`` on top; the
ULX3S-85F unless named), its DSP choice and P&R target, and ``--lut-mapping MAPPING`` (default
area), in the scan harness.

    python bench/nextpnr-options/run.py /tmp/snap LABEL /tmp/w base= "rip=--tmg-ripup" \\
        "rips2=--tmg-ripup --seed 2"

CHECKOUT is a lowbit checkout with its .venv (``make .venv/.lowbit-installed``). WORKDIR
keeps the netlist (``top.json``, after lowbit's block RAM output-register pass) and each
option set's nextpnr report and log under ``runs/``: a rerun reuses both, so an option set
is placed and routed once. Each NAME=OPTIONS goes into results.json beside this file under
LABEL, with nextpnr's Fmax, the critical path and the wall time of its place and route.
A run without ``--seed`` has nextpnr's default seed, which is not ``--seed 1``. WORKDIR
remembers the commit and the build it holds and each run's options; a mismatch is refused.
``lowbit synth ... --seed N --tmg-ripup`` places and routes the same netlist with the same
options.
"""

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from lowbit.boards.parse import _timing
from lowbit.boards.targets import get_board

HERE = Path(__file__).parent
TARGET_MHZ = 200.0
PARAMS = dict(dm=2, dk=256, dn=2, operands="planes", spacing=1, bcast_fanout=1, max_m=32,
              max_n=32, max_k=512, popcount="tree")
BUILD = """
import dataclasses, json, sys
from pathlib import Path
from lowbit.boards import flow
from lowbit.boards.sizes import board_dsp, sized_params
from lowbit.boards.targets import get_board
from lowbit.boards.toolchain import check_tools, toolchain_env
from lowbit.hw.units import get_unit
spec = json.loads(sys.argv[2])
unit, board = get_unit(spec["unit"]), get_board(spec["board"])
if spec["sized"]:  # as lowbit synth builds it for the board
    params = sized_params(unit.name, board.name, spec["params"])
else:
    params = dataclasses.replace(unit.defaults(), **spec["params"])
env = toolchain_env(check_tools(board.family))
flow._board_build(unit, params, board, float(sys.argv[3]), Path(sys.argv[1]), env, print,
                  board_dsp(unit.name, board.name), "scan", None, pnr={},
                  lut_mapping=spec["lut_mapping"])
"""


def main():
    argv = sys.argv[1:]
    spec = spec_default = {"unit": "bitserial", "board": "ulx3s-85f", "params": PARAMS,
                           "sized": False, "lut_mapping": "delay"}
    target = TARGET_MHZ
    if argv[:1] == ["--unit"] and len(argv) > 1:
        text, argv = argv[1], argv[2:]
        text, _, mapping = text.partition("%")
        text, _, board_name = text.partition("@")
        unit_name, _, rest = text.partition(":")
        spec = {"unit": unit_name, "board": board_name or "ulx3s-85f",
                "params": [kv for kv in rest.split(",") if kv], "sized": True,
                "lut_mapping": mapping or "area"}
        if get_board(spec["board"]).family not in ("ecp5", "ice40"):
            sys.exit(f"run.py: --unit covers ECP5 and iCE40 boards (nextpnr-ecp5, "
                     f"nextpnr-ice40), not {spec['board']}")
        target = get_board(spec["board"]).pnr_target_mhz
    if len(argv) < 4:
        sys.exit(__doc__)
    checkout, label, work = Path(argv[0]).resolve(), argv[1], Path(argv[2])
    board = get_board(spec["board"])
    python = checkout / ".venv" / "bin" / "python"
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    if not (work / "top.json").exists():
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(python), "-c", BUILD, str(work), json.dumps(spec), str(target)],
                       check=True)
        (work / "commit").write_text(commit + "\n")
        (work / "spec.json").write_text(json.dumps(spec) + "\n")
    built = (work / "commit").read_text().strip()
    if built != commit:
        sys.exit(f"run.py: {work} holds the netlist of {built}, not of {commit} ({checkout})")
    # (A work directory from before --unit holds the default build.)
    built_spec = (json.loads((work / "spec.json").read_text())
                  if (work / "spec.json").exists() else spec_default)
    if built_spec != spec:
        sys.exit(f"run.py: {work} holds the netlist of {built_spec}, not of {spec}")
    tool, args = next((tool, a) for tool, *a in json.loads(
        (work / "build_top.json").read_text())["commands"] if tool.startswith("nextpnr-"))
    base, skip = [], False
    for a in args:  # its own report and log names; no bitstream config
        if skip:
            skip = False
        elif a in ("--report", "--textcfg", "--log"):
            skip = True  # and its value
        elif a != "--quiet":
            base.append(a)
    (work / "runs").mkdir(exist_ok=True)
    path = HERE / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    # An entry of the default build has no "unit"; one of --unit names its unit.
    fresh = {"commit": commit, "params": spec["params"], "lut_mapping": spec["lut_mapping"],
             "board": spec["board"], "runs": {}}
    if spec != spec_default:
        fresh["unit"] = spec["unit"]
    entry = results.setdefault(label, fresh)
    if {k: entry.get(k) for k in fresh if k not in ("runs", "commit")} != {
            k: v for k, v in fresh.items() if k not in ("runs", "commit")}:
        sys.exit(f"run.py: {label} in results.json is another build: give it another label")
    if entry["commit"] != commit:
        sys.exit(f"run.py: {label} in results.json is of {entry['commit']}, not {commit}")
    for item in argv[3:]:
        name, eq, opts = item.partition("=")
        if not eq or not name:
            sys.exit(f"run.py: {item!r} is not NAME=OPTIONS (NAME= for nextpnr's defaults)")
        report, log, took, used = (work / "runs" / f"{name}.{ext}"
                                   for ext in ("json", "log", "s", "opts"))
        if used.exists() and used.read_text().strip() != opts:
            sys.exit(f"run.py: run {name} in {work} was made with {used.read_text().strip()!r}, "
                     f"not {opts!r}: give it another name")
        if not report.exists():
            start = time.time()
            subprocess.run([str(checkout / ".venv" / "bin" / f"yowasp-{tool}"), "--quiet",
                            *base, *shlex.split(opts), "--report", f"runs/{name}.json",
                            "--log", f"runs/{name}.log"], cwd=work, check=True)
            took.write_text(f"{time.time() - start:.0f}\n")
        used.write_text(opts + "\n")
        # Fmax and the critical path as `lowbit synth` reads them from nextpnr's report.
        timing = _timing(json.loads(report.read_text()), board, target)
        fmax = timing["fmax_mhz"]
        entry["runs"][name] = {
            "options": opts, "fmax_mhz": fmax, "critical_path": timing["critical_path"],
            "place_route_s": int(took.read_text()) if took.exists() else None,
            "command": "python bench/nextpnr-options/run.py "
                       + (f"--unit {shlex.quote(sys.argv[2])} " if sys.argv[1] == "--unit"
                          else "")
                       + f"CHECKOUT {label} WORKDIR {shlex.quote(item)}"}
        print(f"{label} {name}: {fmax:.2f} MHz ({opts or 'nextpnr defaults'})", flush=True)
        # After each run, into the file as it is now (another run.py may have written it).
        results = json.loads(path.read_text()) if path.exists() else {}
        results.setdefault(label, {**entry, "runs": {}})["runs"][name] = entry["runs"][name]
        path.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
