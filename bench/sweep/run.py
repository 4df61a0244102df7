"""Wall time of one ``lowbit sweep`` (issue 16): the same 12 popcount points, placed and routed
on the UP5K (iCEBreaker), on 1 and 2 local worker processes and on a two-worker Dask
``LocalCluster`` (processes, one thread each) started here; the cluster path's overhead is its
wall time against the 2 local workers'. Each run goes to a new directory (a sweep into the
same one would resume and skip every point). Checks that the three runs give the same
resources and Fmax point for point. Writes results.json (the commands, wall times, the sum of
the points' own seconds, the machine's load) and copies the 2-worker run's report.md and
plots here.

usage: python run.py CHECKOUT
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
GRID = ["-p", "n=16,32,64,128,256,512", "-p", "style=tree,plain"]


def sweep(checkout, out, extra):
    cmd = ["lowbit", "sweep", "popcount", "--board", "icebreaker", *GRID, *extra,
           "-o", str(out)]
    shutil.rmtree(out, ignore_errors=True)
    start = time.time()
    proc = subprocess.run([f"{checkout}/.venv/bin/lowbit", *cmd[1:]], capture_output=True,
                          text=True, cwd=checkout)
    wall = time.time() - start
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    r = json.loads((out / "results.json").read_text())
    return {"command": " ".join(cmd), "wall_s": round(wall, 1),
            "points_s": round(sum(p["seconds"] for p in r["points"]), 1),
            "load_average_after": list(os.getloadavg()),
            "points": [{"point": p["point"], "lut": p["unit_resources"]["lut"],
                        "ff": p["unit_resources"]["ff"], "fmax_mhz": p["fmax_mhz"],
                        "seconds": p["seconds"], "worker_pid": p["worker"]["pid"]}
                       for p in r["points"]], "front": r["front"]}


def main(checkout):
    sys.path.insert(0, checkout)
    base = Path("/tmp/lowbit-sweep-bench")
    runs = {"local-1": sweep(checkout, base / "w1", ["--workers", "1"]),
            "local-2": sweep(checkout, base / "w2", ["--workers", "2"])}
    code = ("import dask, subprocess, sys, time, json\n"
            "from distributed import LocalCluster\n"
            "if __name__ == '__main__':\n"
            "    t0 = time.time()\n"
            "    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,\n"
            "                      dashboard_address=':0') as c:\n"
            "        print(json.dumps({'address': c.scheduler_address,\n"
            "                          'start_s': round(time.time() - t0, 2)}), flush=True)\n"
            "        sys.stdin.readline()\n")
    cluster = subprocess.Popen([f"{checkout}/.venv/bin/python", "-c", code],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    info = json.loads(cluster.stdout.readline())
    runs["dask-localcluster-2"] = sweep(checkout, base / "dask2",
                                        ["--scheduler", info["address"]])
    runs["dask-localcluster-2"]["cluster_start_s"] = info["start_s"]
    runs["dask-localcluster-2"]["command"] += "  (scheduler: LocalCluster(n_workers=2, " \
                                              "threads_per_worker=1, processes=True))"
    cluster.stdin.write("\n")
    cluster.stdin.flush()
    cluster.wait(60)
    ref = [(p["lut"], p["ff"], p["fmax_mhz"]) for p in runs["local-1"]["points"]]
    same = all([(p["lut"], p["ff"], p["fmax_mhz"]) for p in r["points"]] == ref
               for r in runs.values())
    git = subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    w1, w2, d2 = (runs[k]["wall_s"] for k in ("local-1", "local-2", "dask-localcluster-2"))
    result = {"what": "one lowbit sweep of 12 popcount points placed and routed on the UP5K, "
                      "on 1 and 2 local worker processes and a two-worker Dask LocalCluster",
              "command": f"python bench/sweep/run.py CHECKOUT (at {git})", "commit": git,
              "machine": {"cpu_count": os.cpu_count()}, "runs": runs,
              "same_results_every_run": same,
              "speedup_2_local_workers": round(w1 / w2, 2),
              "cluster_overhead_s": round(d2 - w2, 1),
              "cluster_overhead_pct": round(100 * (d2 - w2) / w2, 1)}
    (HERE / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    shutil.copy(base / "w2" / "report.md", HERE / "report.md")
    shutil.rmtree(HERE / "plots", ignore_errors=True)
    shutil.copytree(base / "w2" / "plots", HERE / "plots")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
