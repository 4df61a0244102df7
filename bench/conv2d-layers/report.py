"""Winograd against direct for whole conv layers (issue 14): the synthesis runs in
results.json (made by ``python bench/unit-timing/run.py --into bench/conv2d-layers ...``, the
commands are in it) and, for each layer, its cycles a frame: the layer's model
(``Conv2dLayer.cycles_per_frame``, exact up to four folds, as the tests check) or, with more
folds, measured in simulation (three random frames back to back through the generated
Verilog, Verilator, the input always valid and the output always ready). Writes report.md
and layers.json beside this file.

usage: python bench/conv2d-layers/report.py      (from a checkout with .venv; minutes)
"""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def layer_params(run):
    """The run's Conv2dParams (board sizes under the run's -p items)."""
    from lowbit.boards.sizes import sized_params

    return sized_params("conv2d", run["board"], run["params"])


def main():
    from lowbit.gen.experiment import conv2d_frame_cycles
    from lowbit.hw.conv2d import Conv2dLayer
    from lowbit.hw.ports import discard

    runs = [r for r in json.loads((HERE / "results.json").read_text())["runs"]
            if not r.get("exit")]
    rows = []
    for r in runs:
        p = layer_params(r)
        layer = Conv2dLayer(p)
        discard(layer)  # built for its cycle count only
        model = layer.cycles_per_frame
        # The model is exact up to four folds (tests/test_conv2d_sim.py checks it); beyond,
        # the engine bounds the layer and the cycles are measured.
        cycles = model if p.folds <= 4 else conv2d_frame_cycles(p)
        ho, wo = p.output_shape
        per_pixel = cycles / (ho * wo)           # cycles an output pixel (all K channels)
        res = r["unit_resources"]
        rows.append({
            "board": r["board"], "variant": r["variant"], "git": r["git"], "engine": p.engine,
            "bits": p.data_width,
            "channels": p.channels, "filters": p.filters, "parallel": p.lanes,
            "folds": p.folds, "image": [p.height, p.width], "command": r["command"],
            "resources": res, "fmax_mhz": r["fmax_mhz"],
            "multipliers": p.multipliers,
            "cycles_per_frame": cycles,
            "cycles_per_frame_model": model, "cycles_measured": p.folds > 4,
            "cycles_per_output_pixel": round(per_pixel, 3),
            "lut4_per_output_pixel_per_cycle": round(res["lut"] * per_pixel),
            "dsp_per_output_pixel_per_cycle": round(res["dsp"] * per_pixel),
            "frames_per_second_at_fmax": round(r["fmax_mhz"] * 1e6 / cycles, 1),
            "critical_path": r.get("critical_path", {}).get("start", "") + " -> "
            + r.get("critical_path", {}).get("end", ""),
            "pnr_seconds": r.get("wall_s")})
        print(rows[-1]["board"], p.engine, p.data_width, p.lanes, cycles, flush=True)
    git = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    (HERE / "layers.json").write_text(json.dumps(
        {"command": "python bench/conv2d-layers/report.py", "git": git, "layers": rows},
        indent=1) + "\n")
    lines = ["# Conv layers: Winograd against direct", "",
             "C = K = 16 (16 filters of 3x3x16), `same` padding, the scan harness (the unit's "
             "own resources and Fmax), synthesized and placed with the commands in "
             "results.json; cycles a frame from the layer's model, exact up to four folds, "
             "or measured in simulation beyond (report.py). An output "
             "pixel is all K channels of one position; 'a pixel a cycle' costs are the "
             "resources times the cycles an output pixel.", "",
             "| board | commit | engine | bits | lanes x folds | multipliers | LUT4 | CCU2C/ALU | "
             "FF | DSP | BRAM | Fmax MHz | cycles/frame | LUT4 per pixel/cycle | frames/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for w in rows:
        res = w["resources"]
        lines.append(
            f"| {w['board']} {w['image'][0]}x{w['image'][1]} | {w['git']} | {w['engine']} | "
            f"{w['bits']} | {w['parallel']} x {w['folds']} | {w['multipliers']} | {res['lut']} | "
            f"{res['carry']} | {res['ff']} | {res['dsp']} | {res['bram']} | {w['fmax_mhz']} | "
            f"{w['cycles_per_frame']}{' (sim)' if w['cycles_measured'] else ''} | "
            f"{w['lut4_per_output_pixel_per_cycle']:,} | {w['frames_per_second_at_fmax']:,} |")
    (HERE / "report.md").write_text("\n".join(lines) + "\n")
    print("wrote", HERE / "report.md")


if __name__ == "__main__":
    sys.exit(main())
