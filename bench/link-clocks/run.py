"""Units behind the host link at the board's oscillator and at a PLL clock (issue 12: an engine
clock from the board's PLL). Each spec is ``UNIT@BOARD`` (the unit's own link clock,
``Unit.link_clocks``, else the board's) or ``UNIT@BOARD@MHZ`` (``--clock-mhz MHZ``); each runs
``lowbit synth UNIT --board BOARD [--clock-mhz MHZ]`` (the link harness) from CHECKOUT.
Writes results.json (each run with its command, commit, clocks, Fmax, critical path, run
time; a rerun replaces the entry of the same unit, board and clock), report.md, and each
run's report.txt under reports/.

usage: python run.py CHECKOUT SPEC [SPEC ...]
       python run.py --record SPEC OUTDIR COMMIT   (a lowbit synth run made by hand at COMMIT)
       python run.py --report                      (report.md again from results.json)
"""

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def run(checkout, spec):
    unit, board, *mhz = spec.split("@")
    out = Path("/tmp/lowbit-link-clocks") / spec.replace("@", "-")
    cmd = ["lowbit", "synth", unit, "--board", board, *(["--clock-mhz", mhz[0]] if mhz else [])]
    start = time.time()
    proc = subprocess.run([f"{checkout}/.venv/bin/lowbit", *cmd[1:], "-o", str(out)],
                          capture_output=True, text=True, cwd=checkout)
    git = subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    entry = {"spec": spec, "unit": unit, "board": board, "command": " ".join(cmd), "git": git,
             "exit": proc.returncode, "wall_s": round(time.time() - start, 1)}
    if proc.returncode:
        entry["error"] = (proc.stderr or proc.stdout)[-2000:]
        return entry
    return _from_report(entry, out, spec.replace("@", "-"))


def record(spec, outdir, commit):
    """An entry for a run made by hand (``lowbit synth`` at ``commit`` into ``outdir``)."""
    unit, board, *mhz = spec.split("@")
    cmd = ["lowbit", "synth", unit, "--board", board, *(["--clock-mhz", mhz[0]] if mhz else [])]
    entry = {"spec": spec, "unit": unit, "board": board, "command": " ".join(cmd),
             "git": commit, "exit": 0}
    return _from_report(entry, Path(outdir), f"{spec.replace('@', '-')}-{commit}")


def _from_report(entry, out, tag):
    rep = json.loads((out / "report.json").read_text())
    logic = next(rep["utilization"][cell] for cell in ("ICESTORM_LC", "TRELLIS_COMB", "LUT4")
                 if cell in rep["utilization"])
    entry.update(params=rep["params"], clock_mhz=rep["board_clock_mhz"],
                 oscillator_mhz=rep.get("oscillator_mhz", rep["board_clock_mhz"]),
                 pll=rep["harness"].get("pll"),
                 fmax_mhz=rep["fmax_mhz"], meets_clock=rep["meets_board_clock"],
                 logic_cells=logic, unit_resources=rep["unit_resources"],
                 critical_path=rep["critical_path"], times_s=rep["times_s"])
    (HERE / "reports").mkdir(exist_ok=True)
    (HERE / "reports" / f"{tag}.txt").write_text((out / "report.txt").read_text())
    return entry


def report(results):
    lines = ["# Units behind the host link: oscillator and PLL clocks", "",
             "Made by `python bench/link-clocks/run.py CHECKOUT SPEC ...` (commands in "
             "`results.json`). Each row is one `lowbit synth UNIT --board BOARD [--clock-mhz F]` "
             "run with the link harness: the unit behind the host link (UART at 3 Mbaud, "
             "queues, registers), placed and routed toward the board's P&R target; the clock "
             "is the one the design runs at (the board's oscillator, or its PLL's), and Fmax "
             "must reach it. Every report is under `reports/`.", "",
             "| unit | board | params | clock (MHz) | PLL | logic cells | Fmax (MHz) | met | "
             "critical path (ns: total / routing) | commit |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for e in results["runs"]:
        if e["exit"]:
            lines.append(f"| {e['unit']} | {e['board']} | | | | | exit {e['exit']} | | | "
                         f"{e['git']} |")
            continue
        p = e["params"]
        shape = (f"{p['dm']}x{p['dk']}x{p['dn']}" if e["unit"] == "bitserial" else "defaults")
        cp = e["critical_path"] or {}
        lc = e["logic_cells"]
        pll = e["pll"] or "none (the oscillator)"
        lines.append(
            f"| {e['unit']} | {e['board']} | {shape} | {e['clock_mhz']:g} | {pll} | "
            f"{lc['used']} ({100 * lc['used'] / lc['available']:.0f}%) | {e['fmax_mhz']} | "
            f"{'yes' if e['meets_clock'] else 'NO'} | "
            f"{cp.get('delay_ns', '-')} / {cp.get('routing_ns', '-')} | {e['git']} |")
    lines += ["", "Commands:", ""] + [f"- `{c}`" for c in results["commands"]]
    return "\n".join(lines) + "\n"


def main():
    path = HERE / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {"runs": [], "commands": []}
    if sys.argv[1:] == ["--report"]:  # report.md again from results.json
        (HERE / "report.md").write_text(report(results))
        return
    if sys.argv[1] == "--record":  # --record SPEC OUTDIR COMMIT: a run made by hand
        spec, outdir, commit = sys.argv[2:]
        results["commands"].append(f"python bench/link-clocks/run.py --record {spec} OUTDIR "
                                   f"{commit} (after: git checkout {commit}; lowbit synth "
                                   f"... -o OUTDIR)")
        entries = [record(spec, outdir, commit)]
    else:
        checkout, specs = sys.argv[1], sys.argv[2:]
        results["commands"].append("python bench/link-clocks/run.py CHECKOUT " + " ".join(specs))
        entries = (run(checkout, spec) for spec in specs)
    for entry in entries:
        key = (entry["unit"], entry["board"], entry.get("clock_mhz"), entry["git"])
        results["runs"] = [r for r in results["runs"]
                           if (r["unit"], r["board"], r.get("clock_mhz"), r["git"]) != key]
        results["runs"].append(entry)
        path.write_text(json.dumps(results, indent=1) + "\n")
        (HERE / "report.md").write_text(report(results))
        print(entry["spec"], entry.get("fmax_mhz"), entry.get("error", "")[:200], flush=True)


if __name__ == "__main__":
    main()
