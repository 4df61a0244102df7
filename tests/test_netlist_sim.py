"""The synthesized ECP5 netlist itself under cocotb (boards/netlist.py): Yosys's cells, the
block RAMs and multipliers with their registers moved in by boards/outreg.py, the unit's own
testbench and golden model, bit for bit."""

import numpy as np
import pytest
from lowbit.boards.netlist import NetlistError, _check_mults, _check_rams, netlist_design
from lowbit.golden import MACParams
from lowbit.golden.binary import BMVUParams
from lowbit.golden.bitserial import MatmulRun, bitserial_runs, value_range
from lowbit.golden.checks import UsageError
from lowbit.golden.job import chain
from lowbit.golden.winograd import Conv2dParams
from lowbit.hw.units import get_unit
from lowbit.sim.mac import directed_vectors, random_vectors
from lowbit.sim.runner import run_job
from lowbit.sim.score import score

from . import test_bmvu_sim, test_conv2d_sim, test_winograd_sim
from .sweeps import MAC_SWEEP, SHAPES

pytestmark = [pytest.mark.sim]


@pytest.mark.bitserial
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


# (sweep name, pipeline override, multipliers, flip-flops moved in): all registers in one block
# at the defaults and with every stage; a 32 x 32 multiply split over four blocks, whose
# operand registers move in and whose partial products go to adders; no registers at all.
_MAC_NETLISTS = [("default", None, 1, 16 + 16 + 32), ("default", 4, 1, 16 + 16 + 32),
                 ("wl32-int", None, 4, 32 + 32), ("mixed-even-p0-cc4", None, 0, 0)]


@pytest.mark.mac
@pytest.mark.parametrize("name,pipeline,mults,ffs", _MAC_NETLISTS,
                         ids=[f"{n}-p{p}" for n, p, _, _ in _MAC_NETLISTS])
def test_mac_ecp5_netlist(name, pipeline, mults, ffs, sim, seed):
    """The MAC's ECP5 netlist, its operand and product registers in the MULT18X18D, against
    the golden model: directed edge cases and seeded random beats, idle cycles and
    back-pressure, the RTL's latency."""
    overrides = dict(MAC_SWEEP)[name]
    if pipeline is not None:
        overrides = {**overrides, "pipeline": pipeline}
    params = MACParams(**overrides)
    d, man = netlist_design("mac", params, "ulx3s-85f")
    assert man["netlist"]["cells"]["MULT18X18D"] == max(mults, 1)
    assert (man["netlist"]["outreg"]["mults"], man["netlist"]["outreg"]["mult_ffs"]) == (
        mults, ffs)
    vectors = directed_vectors(params)
    vectors.extend(random_vectors(params, np.random.default_rng(seed), 2000))
    job = vectors.job(params)
    got, _, resp = run_job(d, man, job, sim=sim, seed=seed)
    board = score(job, zip(*got) if got else [], vectors.golden(params), resp,
                  latency=man["latency"])
    assert board.ok, f"params={params}\n{board.describe()}"
    assert board.latency_seen == {man["latency"]}


def test_multiplier_features_the_model_lacks_are_refused():
    mult = {"type": "MULT18X18D", "parameters": {"REG_PIPELINE_CLK": "CLK0",
                                                 "REG_OUTPUT_CLK": "CLK1"},
            "connections": {"SOURCEA": [7]}}
    with pytest.raises(NetlistError, match="REG_OUTPUT_CLK CLK1, REG_PIPELINE_CLK on, "
                                           "SOURCEA not tied to 0"):
        _check_mults({"cells": {"mult": mult}})


# Every other ECP5 unit whose netlist the register passes change, with the RTL tests' own
# checks: (unit, parameters as the RTL sweep writes them, multipliers changed).
_ENGINES = [("winograd2d", (8, 8, 3, 2, "offline"), 16), ("direct3x3", (16, 16, 3, 3), 36),
            ("winograd1d", (2, 3, 3, 0, "onchip"), 0)]


@pytest.mark.winograd
@pytest.mark.parametrize("unit,values,mults", _ENGINES,
                         ids=[f"{u}-" + "-".join(map(str, v)) for u, v, _ in _ENGINES])
def test_tile_engine_ecp5_netlist(unit, values, mults, sim, seed):
    params = get_unit(unit).params_cls(**dict(zip(test_winograd_sim._FIELDS, values)))
    design = netlist_design(unit, params, "ulx3s-85f")
    assert design[1]["netlist"]["outreg"]["mults"] == mults
    test_winograd_sim._check(unit, params, sim, seed, design=design)


@pytest.mark.winograd
def test_conv2d_ecp5_netlist(sim, seed):
    """The conv layer: line buffer and filter memory reads registered, the engine's
    multipliers with their registers in."""
    wd, wg, c, h, w, padding, pipe, ft = (4, 3, 3, 6, 3, "valid", 2, "onchip")
    params = Conv2dParams(data_width=wd, weight_width=wg, channels=c, height=h, width=w,
                          padding=padding, pipeline=pipe, filter_transform=ft)
    design = netlist_design("conv2d", params, "ulx3s-85f")
    assert design[1]["netlist"]["outreg"]["mults"] == 16
    rng = np.random.default_rng(seed)
    filt = rng.integers(-(1 << (wg - 1)), 1 << (wg - 1), size=(c, 3, 3))
    test_conv2d_sim._check(params, test_conv2d_sim._images(params, rng, 2), filt, sim, seed,
                           design=design)


@pytest.mark.binary
def test_bmvu_ecp5_netlist(sim, seed):
    """Multi-threshold, odd folds: weights, chunks and thresholds read through registers."""
    shape = (10, 100, 3, 7, 3, 2)
    rows, cols, pe, simd, k, spacing = shape
    params = BMVUParams(rows=rows, cols=cols, pe=pe, simd=simd, thresholds=k, spacing=spacing)
    test_bmvu_sim.check_bmvu(shape, sim, seed, design=netlist_design("bmvu", params,
                                                                     "ulx3s-85f"))
