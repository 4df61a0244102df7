"""A second simulator (issue 15): every unit's RTL under Icarus Verilog, each through the
same check its netlist gets (tests/test_netlist_sim.py UNIT_CHECKS: directed and seeded
random vectors against golden). Icarus is optional for ``make test`` (a Debian package, not
on PyPI): without it these tests are reported as skipped, never as passed; ``.ci/run``
installs it where it can, so CI runs them."""

import pytest
from lowbit.hw.units import UNITS
from lowbit.sim.runner import simulator_available

from .test_netlist_sim import UNIT_CHECKS

pytestmark = [pytest.mark.sim,
              pytest.mark.skipif(not simulator_available("icarus"),
                                 reason="Icarus Verilog is not installed (apt-get install "
                                        "iverilog); .ci/run installs it")]


@pytest.mark.parametrize("unit", [pytest.param(u, marks=getattr(pytest.mark, UNITS[u].marker))
                                  for u in UNIT_CHECKS])
def test_every_unit_under_icarus(unit, seed):
    UNIT_CHECKS[unit]("icarus", seed)
