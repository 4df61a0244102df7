"""Every unit generated at the corners of its parameter ranges (tests/sweeps.py CORNERS,
issue 15): exit status, wall time and peak memory of ``lowbit generate`` for each, so the
limits in 'lowbit list' are shown to build in bounded time and memory. Writes results.json
and report.md beside this file.

usage: python bench/param-corners/run.py [CHECKOUT]   (default: this checkout)
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def main():
    checkout = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parent.parent).resolve()
    sys.path.insert(0, str(checkout))
    from tests.sweeps import CORNERS

    lowbit = checkout / ".venv" / "bin" / "lowbit"
    entries = []
    load = os.getloadavg()[0]  # other jobs slow the generations: say how busy the machine was
    for unit, overrides, cheap in CORNERS:
        items = [f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                 for k, v in overrides.items()]
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [str(lowbit), "generate", unit, *[a for i in items for a in ("-p", i)],
                   "-o", str(Path(tmp) / "out")]
            start = time.time()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            err = proc.stderr.read().decode()
            proc.returncode = os.waitstatus_to_exitcode(status)
        entry = {"unit": unit, "params": overrides, "in_make_test": cheap,
                 "command": " ".join(["lowbit", *cmd[1:-2]]),
                 "exit_status": proc.returncode, "seconds": round(time.time() - start, 1),
                 "peak_rss_mb": round(usage.ru_maxrss / 1024), "stderr": err.strip()[-300:]}
        entries.append(entry)
        print(f"{unit:<11} {entry['seconds']:>7.1f} s {entry['peak_rss_mb']:>6} MB  exit "
              f"{proc.returncode}  {' '.join(items)}", flush=True)
    git = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    results = {"what": "lowbit generate at each unit's parameter corners (issue 15)",
               "command": "python bench/param-corners/run.py", "git": git,
               "machine": f"{os.cpu_count()} cores, one generation at a time",
               "load_average_at_start": round(load, 2),
               "corners": entries}
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Parameter corners: generation time and memory", "",
             f"`{results['command']}` at {git}. A corner marked *test* also runs in "
             "`make test` (tests/test_corners.py).", "",
             "| unit | parameters | exit | seconds | peak MB | in make test |",
             "|---|---|---|---|---|---|"]
    for e in entries:
        params = ", ".join(f"{k}={v}" for k, v in e["params"].items())
        lines.append(f"| {e['unit']} | {params} | {e['exit_status']} | {e['seconds']} | "
                     f"{e['peak_rss_mb']} | {'test' if e['in_make_test'] else ''} |")
    (HERE / "report.md").write_text("\n".join(lines) + "\n")
    return 0 if all(e["exit_status"] == 0 for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
