"""The synthesized ECP5 netlist itself under cocotb (boards/netlist.py): Yosys's cells, the
block RAMs with their read-data registers moved in by boards/outreg.py, the unit's own
testbench and golden model, bit for bit."""

import numpy as np
import pytest
from lowbit.boards.netlist import NetlistError, _check_rams, netlist_design
from lowbit.golden.bitserial import MatmulRun, bitserial_runs, value_range
from lowbit.golden.checks import UsageError
from lowbit.golden.job import chain
from lowbit.sim.runner import run_job

from .sweeps import SHAPES

pytestmark = [pytest.mark.sim, pytest.mark.bitserial]


def test_bitserial_ecp5_netlist(sim, seed):
    """Back-to-back runs whose precision and signedness change, one weight-resident, with idle
    cycles and back-pressure, through the ECP5 netlist of the 2 x 64 x 2 engine."""
    params = SHAPES["2x64x2"]
    d, man = netlist_design("bitserial", params, "ulx3s-85f")
    # Every operand and result read-data register is in a block RAM.
    assert man["netlist"]["outreg"]["ffs"] == 2 * 64 + 2 * 64 + 4 * params.accumulator_width
    rng = np.random.default_rng(seed)
    runs = []
    # K = 37 is one chunk of Dk = 64, K = 90 two (the k loops, and a resident B of two).
    for wa, wb, sa, sb, k in [(1, 1, False, False, 37), (2, 3, True, True, 90),
                              (8, 8, True, False, 37), (5, 2, False, True, 37),
                              (3, 2, True, True, 90)]:
        (alo, ahi), (blo, bhi) = value_range(wa, sa), value_range(wb, sb)
        runs.append(MatmulRun(rng.integers(alo, ahi + 1, (5, k)),
                              rng.integers(blo, bhi + 1, (k, 7)), wa, wb, sa, sb))
    (alo, ahi) = value_range(4, True)
    runs.append(MatmulRun(rng.integers(alo, ahi + 1, (9, 90)), runs[-1].B, 4, 2, True, True,
                          keep_b=True))
    got, _, resp = run_job(d, man, chain(bitserial_runs(params, runs)), sim=sim, seed=seed,
                           idle=0.1, backpressure=0.1)
    assert got is not None, f"seed={seed}: {len(resp['out'])} tiles"
    for n, (r, C) in enumerate(zip(runs, got)):
        bad = np.argwhere(C != r.A @ r.B)
        assert not len(bad), f"seed={seed} run {n}: {len(bad)} elements differ"


def test_a_family_without_cell_models_is_refused():
    with pytest.raises(UsageError, match="netlists can be simulated for: ecp5"):
        netlist_design("bitserial", SHAPES["2x64x2"], "icebreaker")


def test_block_ram_features_the_model_lacks_are_refused():
    ram = {"type": "DP16KD", "parameters": {"INITVAL_00": "0" * 319 + "1"},
           "connections": {"CLKA": [2], "CLKB": [2], "CSB0": [7]}}
    with pytest.raises(NetlistError, match="initial contents, CSB0 not tied to 0"):
        _check_rams({"cells": {"ram": ram}})
