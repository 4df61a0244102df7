import pytest

from lowbit.sim.runner import SIMULATORS, simulator_available


def pytest_addoption(parser):
    parser.addoption("--sim", default="verilator", choices=SIMULATORS,
                     help="HDL simulator for the cocotb tests (default: verilator)")


@pytest.fixture(scope="session")
def sim(request):
    name = request.config.getoption("--sim")
    if not simulator_available(name):
        # Asked for explicitly and missing: that is an error, not a skip.
        raise pytest.UsageError(f"--sim {name}: simulator not installed")
    return name
