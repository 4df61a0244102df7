"""Frames per second of the digits CNN (``lowbit experiment cnn``, bench/cnn) on each board
(issue 14): each of its three layers synthesized alone with the scan harness (results.json,
made by ``python bench/unit-timing/run.py --into bench/cnn-boards ...``, the commands in
it), each conv layer's cycles a frame measured in simulation at the synthesized parameters
(lowbit.gen.experiment.conv2d_frame_cycles), the dense layer's cycles an image from
bench/cnn (the same engine). The three as a pipeline on one chip run at the slowest layer's
Fmax and the slowest layer's cycles: frames/s = min Fmax / max cycles. Writes report.md and
boards.json beside this file.

usage: python bench/cnn-boards/report.py      (from a checkout with .venv; a few minutes)
"""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main():
    from lowbit.boards.sizes import sized_params
    from lowbit.boards.targets import get_board
    from lowbit.gen.experiment import conv2d_frame_cycles

    runs = [r for r in json.loads((HERE / "results.json").read_text())["runs"]
            if not r.get("exit")]
    cnn = json.loads((HERE.parent / "cnn" / "results.json").read_text())
    dense_cycles = cnn["layers"][2]["cycles_per_image"]
    boards = {}
    for r in runs:
        layer = {"unit": r["unit"], "git": r["git"], "command": r["command"],
                 "fmax_mhz": r["fmax_mhz"],
                 "resources": r["unit_resources"], "pnr_seconds": r.get("wall_s")}
        if r["unit"] == "conv2d":
            p = sized_params("conv2d", r["board"], r["params"])
            layer.update(name=f"conv {p.channels} -> {p.filters}", parallel=p.lanes,
                         cycles_per_image=conv2d_frame_cycles(p))
        else:
            layer.update(name="dense 512 -> 10", cycles_per_image=dense_cycles)
        boards.setdefault(r["board"], []).append(layer)
        print(r["board"], layer["name"], layer["fmax_mhz"], layer["cycles_per_image"],
              flush=True)
    rows = {}
    for board, layers in boards.items():
        cap = get_board(board).capacity
        total = {k: sum(lay["resources"][k] for lay in layers) for k in cap}
        fmax = min(lay["fmax_mhz"] for lay in layers)
        cycles = max(lay["cycles_per_image"] for lay in layers)
        rows[board] = {"layers": layers, "resources_of_the_three": total, "capacity": cap,
                       "fits": all(total[k] <= cap[k] for k in cap), "fmax_mhz": fmax,
                       "cycles_per_image": cycles,
                       "frames_per_second": round(fmax * 1e6 / cycles)}
    git = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    (HERE / "boards.json").write_text(json.dumps(
        {"command": "python bench/cnn-boards/report.py", "git": git, "boards": rows},
        indent=1) + "\n")
    lines = ["# The digits CNN on each board", "",
             "Each layer of `lowbit experiment cnn`'s network synthesized alone (scan harness; "
             "the commands in results.json), conv layers at `pipeline` 5 where the board "
             "has DSPs (latency only: the cycles a frame are the same). As a pipeline of the "
             "three on one chip: the slowest layer's Fmax over the slowest layer's cycles.", "",
             "| board | layer | commit | lanes | Fmax MHz | cycles an image | LUT4 | FF | DSP | "
             "BRAM |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for board, row in rows.items():
        for lay in row["layers"]:
            res = lay["resources"]
            lines.append(f"| {board} | {lay['name']} | {lay['git']} | {lay.get('parallel', '')} | "
                         f"{lay['fmax_mhz']} | {lay['cycles_per_image']:.0f} | {res['lut']} | "
                         f"{res['ff']} | {res['dsp']} | {res['bram']} |")
    lines += ["", "| board | the three: LUT4 / DSP / BRAM (capacity) | fits | frames/s |",
              "|---|---|---|---|"]
    for board, row in rows.items():
        t, c = row["resources_of_the_three"], row["capacity"]
        lines.append(f"| {board} | {t['lut']}/{c['lut']}, {t['dsp']}/{c['dsp']}, "
                     f"{t['bram']}/{c['bram']} | {'yes' if row['fits'] else 'no'} | "
                     f"{row['frames_per_second']:,} |")
    (HERE / "report.md").write_text("\n".join(lines) + "\n")
    print("wrote", HERE / "report.md")


if __name__ == "__main__":
    sys.exit(main())
