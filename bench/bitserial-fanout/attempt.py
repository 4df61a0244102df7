"""Record a stopped ``lowbit synth`` run (no Fmax) as ``NAME-attempt.json`` beside this file:
the design's Yosys cells, nextpnr's utilization, placement estimate and router1 progress
lines read from the kept log.

usage: python bench/bitserial-fanout/attempt.py NAME KEPT_DIR COMMIT START_EPOCH STOP_UTC
       "WHAT" "COMMAND" "NOTE"

KEPT_DIR holds the run's ``top.tim`` (nextpnr's log) and ``design_stat.json`` (Yosys's stat
of the whole design), copied from lowbit synth's work directory before it was stopped.
"""

import json
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(name, kept, commit, start, stopped, what, command, note):
    kept = Path(kept)
    log = (kept / "top.tim").read_text().splitlines()
    stat = json.loads((kept / "design_stat.json").read_text())["design"]["num_cells_by_type"]
    keep = [ln for ln in log if re.search(r"(TRELLIS_COMB|TRELLIS_FF|DP16KD):|HeAP Placer Time|"
                                          r"Max frequency|Routing \d+ arcs", ln)]
    progress = [ln for ln in log if re.match(r"Info:\s+\d+ \|", ln)]
    keep += progress[::max(1, len(progress) // 8)] + progress[-1:]
    last = progress[-1].split("|")
    entry = {"what": what, "commit": commit, "command": command,
             "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(start))),
             "stopped_utc": stopped,
             "yosys_design": {k: v for k, v in stat.items() if not k.startswith("$")},
             "nextpnr_log": keep, "arcs_left": int(last[3]),
             "routing_s": float(last[4].split()[-1]), "note": note}
    (HERE / f"{name}-attempt.json").write_text(json.dumps(entry, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
