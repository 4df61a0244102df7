"""Add one `lowbit synth bitserial` run to results.json:

    python bench/bitserial-fanout/collect.py LABEL OUTDIR COMMIT "what changed" "command"

OUTDIR is the run's -o directory (its report.json and report.txt); report.txt is copied
beside results.json as synth-report-LABEL.txt."""

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
label, outdir, commit, what, command = sys.argv[1:6]
rep = json.loads((Path(outdir) / "report.json").read_text())
p = rep["params"]
fmax = rep["fmax_mhz"]
run = {
    "command": command, "commit": commit, "what": what, "params": p,
    "unit": rep["unit_resources"], "design": rep["design_resources"],
    "unit_cells": rep["unit_cells"],
    "bram_output_registers": rep.get("bram_output_registers"),
    "utilization": rep["utilization"], "fmax_mhz": fmax, "target_mhz": rep["target_mhz"],
    "peak_binary_tops": round(2 * p["dm"] * p["dk"] * p["dn"] * fmax * 1e6 / 1e12, 3),
    "unit_lut4_per_array_bit": round(
        rep["unit_resources"]["lut"] / (p["dm"] * p["dk"] * p["dn"]), 2),
    "critical_path": rep["critical_path"], "times_s": rep["times_s"],
    "versions": rep["versions"],
}
path = HERE / "results.json"
results = json.loads(path.read_text()) if path.exists() else {
    "board": rep["board"], "device": rep["device"],
    "bismo": {"array": "8x256x8", "fmax_mhz": 200, "binary_tops": 6.5,
              "source": "Umuroglu et al., FPL 2018 (PYNQ-Z1)"},
    "previous": "bench/bitserial-timing/results.json (run 'writes': 107.22 MHz, 0.878 binary "
                "TOPS at 4x256x4)",
    "runs": {}}
results["runs"][label] = run
path.write_text(json.dumps(results, indent=1) + "\n")
shutil.copy(Path(outdir) / "report.txt", HERE / f"synth-report-{label}.txt")
pnr = rep["times_s"]["place_route"]
print(f"{label}: {fmax} MHz, {run['peak_binary_tops']} binary TOPS, unit "
      f"{run['unit']['lut']} LUT4 {run['unit']['ff']} FF, P&R {pnr:.0f} s")
