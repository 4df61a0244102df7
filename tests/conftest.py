import zlib

import numpy as np
import pytest
from lowbit.hw.units import UNITS
from lowbit.sim.runner import SIMULATORS, simulator_available

#: Markers of the suite; each unit's family marker comes from the registry (lowbit test UNIT).
MARKERS = {
    "sim": "runs an HDL simulator on generated Verilog",
    "synth": "runs Yosys/nextpnr to a bitstream",
    "bench": "lowbit bench: the synthesis matrix and sweeps (--quick in the tests)",
    "rtl": "checks the generated Verilog itself (lint, formal proofs, manifests, build caching, "
           "the host-driver harness): left out with --netlist",
}
for _marker in sorted({u.marker for u in UNITS.values()}):
    MARKERS[_marker] = "units " + ", ".join(n for n, u in UNITS.items() if u.marker == _marker)


#: Modules whose every test takes tens of seconds (see pytest_collection_modifyitems).
LONG_MODULES = {"test_netlist_sim", "test_host_sim"}


def pytest_configure(config):
    # Registered here, not in pyproject.toml, so 'lowbit test' works from any directory.
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if not hasattr(config, "workerinput"):  # the controller, before any worker starts
        from lowbit.boards.toolchain import warm_up
        warm_up()
    board = config.getoption("--netlist")
    if board:
        # Every design the tests take through lowbit.sim.runner.design (run_unit included) is
        # the board's synthesized netlist, in this process and in each xdist worker.
        from lowbit.boards.netlist import netlist_source
        from lowbit.sim.runner import use_designs
        use_designs(netlist_source(board))


def pytest_collection_modifyitems(config, items):
    if config.getoption("--netlist"):
        kept = [item for item in items if item.get_closest_marker("rtl") is None]
        if len(kept) != len(items):
            config.hook.pytest_deselected(items=[i for i in items if i not in kept])
            items[:] = kept
    # The long tests first (a bitstream, a netlist, a program through the simulated UART:
    # 20 s to 2 min each), so that under pytest-xdist the last tests to start are short ones
    # and neither worker idles at the end while the other finishes a place and route.
    items.sort(key=lambda item: 0 if item.get_closest_marker("synth") is not None
               or item.path.stem in LONG_MODULES else 1)


def pytest_report_header(config):
    board = config.getoption("--netlist")
    if board:
        return [f"designs: the synthesized netlists for {board} (lowbit.sim.runner.design); "
                "tests marked rtl (they check the generated Verilog itself) are left out"]


def pytest_addoption(parser):
    parser.addoption("--sim", default="verilator", choices=SIMULATORS,
                     help="HDL simulator for the cocotb tests (default: verilator)")
    parser.addoption("--netlist", metavar="BOARD", default=None,
                     help="simulate BOARD's synthesized netlists instead of the generated "
                          "Verilog (lowbit test --netlist BOARD)")


@pytest.fixture(scope="session")
def sim(request):
    name = request.config.getoption("--sim")
    if not simulator_available(name):
        # Asked for explicitly and missing: that is an error, not a skip.
        raise pytest.UsageError(f"--sim {name}: simulator not installed")
    return name


@pytest.fixture
def usage_error(capsys):
    """``usage_error(argv, message)``: the CLI exits 2 with one stderr line holding
    ``message`` (bad input: SPEC section 7)."""
    from lowbit.gen.cli import main

    def check(argv, message):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (argv, err)
    return check


@pytest.fixture
def seed(request):
    """The seed of a test's random vectors, derived from its id (stable across runs and
    machines, different for every parametrized case) and printed when the test fails."""
    value = zlib.crc32(request.node.nodeid.split("::", 1)[-1].encode()) % 1_000_000 + 1
    request.node.user_properties.append(("seed", value))
    return value


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for name, value in item.user_properties:
            if name == "seed":
                report.sections.append(("seed", f"seed={value} (from the test id)"))
    return report


@pytest.fixture
def npy(tmp_path):
    """``npy(name, arr)``: save ``arr`` as ``name`` in the test's directory; returns the path
    as a string, for the command line."""
    def save(name, arr):
        path = tmp_path / name
        np.save(path, arr)
        return str(path)
    return save
