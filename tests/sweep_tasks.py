"""Stand-in tasks for the tests of ``lowbit sweep`` and of ``lowbit bench``'s workers: module
functions, so that a spawned worker process or a Dask worker can import them by name.

Files that a task leaves to say it ran go into the directory named by the environment
variable ``LOWBIT_TEST_MARKERS`` (set by the test before its workers start)."""

import dataclasses
import os
import time
from pathlib import Path


def _marker(name):
    return Path(os.environ["LOWBIT_TEST_MARKERS"]) / name


def _n(spec):
    return spec["params"].n


def fake_measure(spec):
    """A placed-and-routed result made up from the popcount width, in no time; fails for
    n = 24 (a tool's failure inside the task)."""
    n = _n(spec)
    if n == 24:
        raise RuntimeError(f"the tool failed for n={n}")
    return {"unit": spec["unit"], "board": spec["board"],
            "params": dataclasses.asdict(spec["params"]), "dsp": spec["dsp"], "status": "ok",
            "unit_resources": {"lut": 3 * n, "ff": n, "carry": 0, "dsp": 0, "bram": n // 32},
            "fmax_mhz": 100.0 + (n * 5) % 60, "seconds": 0.0, "log": ["made up"]}


def dies_once(spec):
    """Kills its own worker process the first time it runs for a point; n = 40 kills it
    every time."""
    n = _n(spec)
    mark = _marker(f"ran-{n}")
    if n == 40 or not mark.exists():
        mark.write_text("")
        os._exit(3)
    return fake_measure(spec)


def slow_after_first(spec):
    """n = 16 returns at once; every other point writes its process id and sleeps ten minutes
    (to be interrupted)."""
    n = _n(spec)
    if n != 16:
        _marker(f"pid-{n}").write_text(str(os.getpid()))
        time.sleep(600)
    return fake_measure(spec)


def measure_with_tool_failures(spec):
    """The real measurement, with Yosys replaced in this worker: ``mac`` does not fit, every
    other unit's synthesis fails."""
    import lowbit.boards
    from lowbit.boards import SynthError
    from lowbit.gen.bench_measure import measure_point

    def fake(unit, params, board, *, dsp=True):
        if unit == "mac":
            raise SynthError("unit mac does not fit the iCE40UP5K (icebreaker): too big\nlog")
        raise SynthError("yosys failed with exit status 1 during a test\nlast lines")
    lowbit.boards.netlist_resources = fake
    return measure_point(spec)
