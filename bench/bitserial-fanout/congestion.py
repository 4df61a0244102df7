"""Where a placed design is congested: nextpnr's router2 heatmaps and the placement beside them.

    python bench/bitserial-fanout/congestion.py PLACED_JSON HEATMAP_PREFIX ITERATION > out.json

PLACED_JSON is nextpnr's design after placement (``--no-route --write placed.json``);
HEATMAP_PREFIX the ``--router2-heatmap`` prefix of a router2 run on it (``--no-pack
--no-place``, the JSON's ``settings.router`` set to router2: nextpnr takes the router from the
JSON's settings, not from ``--router``). Prints, as JSON: the overuse by row (y) and its
peaks, the rows that hold block RAMs, the nets with the most overuse by name pattern (digits
folded), and each DPU's spread (x and y quartiles of its cells).
"""

import collections
import json
import re
import statistics
import sys


def _grid(path):
    rows = [[float(x) for x in line.strip().rstrip(",").split(",")] for line in open(path)]
    width = max(len(r) for r in rows)
    return [r + [0.0] * (width - len(r)) for r in rows]  # grid[x][y]


def main(placed, prefix, iteration):
    grid = _grid(f"{prefix}_congestion_by_coordinate_{iteration}.csv")
    by_y = [int(sum(col[y] for col in grid)) for y in range(len(grid[0]))]
    by_x = [int(sum(col)) for col in grid]
    mean_y = sum(by_y) / max(1, sum(1 for v in by_y if v))
    nets = collections.Counter()
    for line in open(f"{prefix}_congestion_by_net_{iteration}.csv"):
        name, value = line.rstrip("\n").rsplit(",", 1)
        nets[re.sub(r"\d+", "#", name)] += int(value)
    cells = json.load(open(placed))["modules"]["top"]["cells"]
    bram_rows, dpus = collections.Counter(), collections.defaultdict(list)
    for name, cell in cells.items():
        at = re.match(r"X(\d+)/Y(\d+)", cell.get("attributes", {}).get("NEXTPNR_BEL", ""))
        if not at:
            continue
        x, y = int(at[1]), int(at[2])
        if cell["type"] == "DP16KD":
            bram_rows[y] += 1
        dpu = re.search(r"unit\.(dpu\d+_\d+)_", name)
        if dpu:
            dpus[dpu[1]].append((x, y))
    spread = {}
    for dpu, at in sorted(dpus.items()):
        xs, ys = [p[0] for p in at], [p[1] for p in at]
        spread[dpu] = {"cells": len(at), "x_quartiles": statistics.quantiles(xs, n=4),
                       "y_quartiles": statistics.quantiles(ys, n=4),
                       "x_range": [min(xs), max(xs)], "y_range": [min(ys), max(ys)]}
    iqr_x = [s["x_quartiles"][2] - s["x_quartiles"][0] for s in spread.values()]
    iqr_y = [s["y_quartiles"][2] - s["y_quartiles"][0] for s in spread.values()]
    print(json.dumps({
        "heatmap_iteration": iteration,
        "overuse_total": int(sum(by_y)),
        "overuse_by_y": by_y,
        "overuse_by_x": by_x,
        "peak_rows": sorted(((v, y) for y, v in enumerate(by_y)), reverse=True)[:8],
        "mean_over_used_rows": round(mean_y, 1),
        "block_ram_rows": dict(sorted(bram_rows.items())),
        "nets_by_pattern": nets.most_common(20),
        "dpu_median_iqr_x": statistics.median(iqr_x) if iqr_x else None,
        "dpu_median_iqr_y": statistics.median(iqr_y) if iqr_y else None,
        "dpus": spread,
    }, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
