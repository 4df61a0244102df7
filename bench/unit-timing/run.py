"""Before/after runs of units (issue 13): ``lowbit synth UNIT --board BOARD --harness scan``
(the ULX3S-85F unless the spec names a board) from several checkouts (for example ``before``
at the commit before the timing work, ``after`` at the commit measured), one after the other.
Writes results.json beside this file (each run with its command, checkout commit, resources,
Fmax, critical path and run time; a rerun replaces the entry of the same unit, board,
parameters and label) and keeps each run's report.txt under reports/.

usage: python run.py [--into DIR] LABEL=CHECKOUT [LABEL=CHECKOUT ...]
                     [UNIT[:k=v,...][@BOARD][%MAPPING][~ripup][#SEED] ...]

``%MAPPING``: ``lowbit synth --lut-mapping MAPPING`` (``%delay``; default area).
``~ripup``: ``lowbit synth --tmg-ripup`` (nextpnr's timing-driven rip-up). The suffixes go
in this order; the variant is named LABEL[-seedN][-ripup][-MAPPING].

``--into DIR``: results.json and reports/ in DIR instead (another benchmark's runs).
"""

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
DEFAULT = ["mac", "mac:pipeline=4", "winograd1d", "winograd2d", "direct3x3", "conv2d"]


def run(checkout, label, spec, out_root, into=HERE):
    spec, _, seed = spec.partition("#")  # UNIT...#N: nextpnr --seed N, variant LABEL-seedN
    if seed:
        label = f"{label}-seed{seed}"
    spec, _, ripup = spec.partition("~")  # UNIT...~ripup: --tmg-ripup, variant LABEL-ripup
    if ripup not in ("", "ripup"):
        sys.exit(f"run.py: unknown ~{ripup} in a spec (only ~ripup)")
    if ripup:
        label = f"{label}-ripup"
    spec, _, mapping = spec.partition("%")  # UNIT...%delay: --lut-mapping delay
    if mapping:  # a run of its own in results.json, never replacing the default mapping's
        label = f"{label}-{mapping}"
    spec, _, board = spec.partition("@")
    board = board or "ulx3s-85f"
    unit, _, rest = spec.partition(":")
    params = [kv for kv in rest.split(",") if kv]
    tag = spec.replace(":", "-").replace(",", "-").replace("=", "")
    if board != "ulx3s-85f":
        tag += f"-{board}"
    out = out_root / f"{tag}-{label}"
    cmd = [f"{checkout}/.venv/bin/lowbit", "synth", unit, "--board", board,
           "--harness", "scan", "-o", str(out)]
    for kv in params:
        cmd += ["-p", kv]
    if seed:
        cmd += ["--seed", seed]
    if mapping:
        cmd += ["--lut-mapping", mapping]
    if ripup:
        cmd += ["--tmg-ripup"]
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=checkout)
    wall = time.time() - start
    entry = {"unit": unit, "board": board, "params": params, "variant": label,
             "git": subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
                                   capture_output=True, text=True).stdout.strip(),
             "command": " ".join(["lowbit", *cmd[1:cmd.index("-o")],
                                  *cmd[cmd.index("-o") + 2:]]),
             "exit": proc.returncode, "wall_s": round(wall, 1)}
    if proc.returncode:
        entry["error"] = (proc.stderr or proc.stdout)[-2000:]
        return entry
    rep = json.loads((out / "report.json").read_text())
    entry.update(latency=rep.get("latency"),
                 unit_resources=rep["unit_resources"], dsp_registers=rep.get("dsp_registers"),
                 fmax_mhz=rep["fmax_mhz"], critical_path=rep["critical_path"],
                 times_s=rep["times_s"])
    (into / "reports").mkdir(exist_ok=True)
    (into / "reports" / f"{tag}-{label}.txt").write_text((out / "report.txt").read_text())
    return entry


def main():
    args = sys.argv[1:]
    into, into_arg = HERE, None
    if args[:1] == ["--into"]:
        if len(args) < 2:
            sys.exit("usage: run.py --into DIR LABEL=CHECKOUT ... (--into needs a directory)")
        into_arg, args = args[1], args[2:]
        into = Path(into_arg).resolve()
        into.mkdir(parents=True, exist_ok=True)
    trees = [a.split("=", 1) for a in args if "=" in a and "/" in a]
    specs = [a for a in args if not ("=" in a and "/" in a)] or DEFAULT
    out_root = Path("/tmp/lowbit-unit-timing")
    path = into / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {"runs": []}
    root = HERE.resolve().parent.parent
    results.setdefault("commands", []).append(
        f"python {Path(__file__).resolve().relative_to(root)} "
        + (f"--into {into_arg} " if into_arg else "")
        + " ".join(f"{label}=CHECKOUT" for label, _ in trees) + " " + " ".join(specs))
    for spec in specs:
        for label, checkout in trees:
            entry = run(checkout, label, spec, out_root, into)
            results["runs"] = [r for r in results["runs"]
                               if (r["unit"], r.get("board", "ulx3s-85f"), r["params"],
                                   r["variant"]) != (entry["unit"], entry["board"],
                                                     entry["params"], entry["variant"])]
            results["runs"].append(entry)
            path.write_text(json.dumps(results, indent=1) + "\n")
            print(label, spec, entry.get("fmax_mhz"), entry.get("error", "")[:200], flush=True)


if __name__ == "__main__":
    main()
