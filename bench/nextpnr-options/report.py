"""results.json -> report.md: each build's runs, one row per option set, with the averages
over nextpnr's default seed and seeds 2 and 3 (runs base, s2, s3; and for any run X, X,
Xs2, Xs3: rip, rips2, rips3 with --tmg-ripup, st, sts2, sts3 with --placer static ...), and
where a build has more seeds with --tmg-ripup (ripsN), the average, median and range over
all of them.

usage: python bench/nextpnr-options/report.py
"""

import json
from pathlib import Path

HERE = Path(__file__).parent
NOTES = HERE / "notes.md"


def main():
    results = json.loads((HERE / "results.json").read_text())
    lines = ["# nextpnr's options on one netlist", "",
             "Written by `python bench/nextpnr-options/report.py` from results.json (each run "
             "by `python bench/nextpnr-options/run.py CHECKOUT LABEL WORKDIR NAME=OPTIONS`).",
             "Unless a section says otherwise, the bit-serial engine at 2 x 256 x 2 in the "
             "scan harness on the ULX3S-85F (`spacing=1`, `bcast_fanout=1`, "
             "`popcount=tree`, `--lut-mapping delay`), synthesized once a commit, then "
             "placed and routed with each option set. Target 200 MHz.", ""]
    for label, entry in results.items():
        runs = entry["runs"]
        lines += [f"## {label} (commit {entry['commit']})", ""]
        if "unit" in entry:  # a build of run.py --unit: as lowbit synth builds it
            given = "".join(f" -p {kv}" for kv in entry["params"])
            lines += [f"`lowbit synth {entry['unit']} --board {entry['board']} --harness scan"
                      f"{given} --lut-mapping {entry['lut_mapping']}`, its board's P&R "
                      "target.", ""]
        lines += ["| run | nextpnr options | Fmax MHz | critical path (start -> end, ns) | "
                  "P&R s |", "|---|---|---|---|---|"]
        for name, r in runs.items():
            c = r["critical_path"]
            lines.append(f"| {name} | `{r['options'] or '(defaults)'}` | {r['fmax_mhz']:.2f} | "
                         f"`{c['start']}` -> `{c['end']}`, {c['delay_ns']} | "
                         f"{r['place_route_s'] if r['place_route_s'] is not None else ''} |")
        triples = [("base", "s2", "s3")] + [(n, f"{n}s2", f"{n}s3") for n in runs
                                            if n not in ("base", "s2", "s3")]
        for names in triples:
            if all(n in runs for n in names):
                f = [runs[n]["fmax_mhz"] for n in names]
                opts = runs[names[0]]["options"] or "nextpnr's defaults"
                lines.append(f"\n`{opts}` at the default seed, seeds 2 and 3 "
                             f"({', '.join(names)}): average {sum(f) / 3:.1f} MHz "
                             f"({min(f):.2f} to {max(f):.2f})")
        seeds = ["rip"] + [n for n in runs if n.startswith("rips") and n[4:].isdigit()]
        if len(seeds) > 3 and "rip" in runs:
            f = sorted(runs[n]["fmax_mhz"] for n in seeds)
            mid = (f[(len(f) - 1) // 2] + f[len(f) // 2]) / 2
            at = sum(x >= 200 for x in f)
            lines.append(f"\n--tmg-ripup over {len(f)} seeds (the default and "
                         f"{', '.join(n[4:] for n in seeds[1:])}): average "
                         f"{sum(f) / len(f):.1f} MHz, median {mid:.1f} ({f[0]:.2f} to "
                         f"{f[-1]:.2f}); {at} of {len(f)} at 200 MHz or more")
        lines.append("")
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    (HERE / "report.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
