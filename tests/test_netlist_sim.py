"""The synthesized netlist itself under cocotb (boards/netlist.py), on iCE40, ECP5 and Gowin:
Yosys's cells (on ECP5 the block RAMs and multipliers with their registers moved in by
boards/outreg.py; the ECP5 and Gowin block RAMs and multipliers from boards/models/), the
unit's own testbench and golden model, bit for bit."""

import dataclasses
import re

import numpy as np
import pytest
from lowbit.boards.netlist import (
    NETLIST_FAMILIES,
    NetlistError,
    _check_gowin_mults,
    _check_gowin_rams,
    _check_models,
    _check_mults,
    _check_rams,
    cell_models,
    netlist_design,
    netlist_source,
)
from lowbit.golden import MACParams
from lowbit.golden.bitserial import MatmulRun, bitserial_runs, value_range
from lowbit.golden.checks import UsageError
from lowbit.golden.job import chain
from lowbit.golden.winograd import Conv2dParams
from lowbit.hw.build import generated
from lowbit.hw.units import UNITS, get_unit
from lowbit.sim.mac import directed_vectors, random_vectors
from lowbit.sim.runner import design, designs, run_job, run_unit
from lowbit.sim.score import score

from . import (
    test_binary_sim,
    test_bitserial_sim,
    test_bmvu_sim,
    test_bnnchip_sim,
    test_conv2d_sim,
    test_lfsr_sim,
    test_link_sim,
    test_winograd_sim,
)
from .sweeps import MAC_SWEEP, SHAPES

pytestmark = [pytest.mark.sim]


def test_an_unknown_board_is_refused():
    with pytest.raises(UsageError, match="unknown board"):
        netlist_design("bitserial", SHAPES["2x64x2"], "no-such-board")


@pytest.mark.parametrize("cell", ["SDPB", "DPB", "SP", "MULTALU36X18", "NO_SUCH_CELL"])
def test_a_cell_the_models_do_not_define_is_refused(cell):
    """Yosys's Gowin x8 block RAMs are black boxes (no behaviour), other cells it has not at
    all: refused, never simulated as undriven outputs."""
    module = {"cells": {"c": {"type": cell, "parameters": {}, "connections": {}},
                        "l": {"type": "LUT4", "parameters": {}, "connections": {}}}}
    with pytest.raises(NetlistError, match=f"uses {cell}, which"):
        _check_models(module, "gowin", cell_models("gowin"))
    del module["cells"]["c"]
    _check_models(module, "gowin", cell_models("gowin"))


def test_gowin_block_ram_modes_the_model_lacks_are_refused():
    ram = {"type": "SDPX9B", "parameters": {"READ_MODE": "1", "RESET_MODE": "ASYNC",
                                            "BIT_WIDTH_0": "100100", "BIT_WIDTH_1": "1000"},
           "connections": {"RESETA": [3], "RESETB": [9]}}
    gnd = {"type": "GND", "parameters": {}, "connections": {"G": [3]}}
    with pytest.raises(NetlistError, match="READ_MODE 1 .pipeline., RESET_MODE ASYNC with a "
                                           "reset, BIT_WIDTH_1 8"):
        _check_gowin_rams({"cells": {"ram": ram, "gnd": gnd}})


def test_gowin_multiplier_registers_are_refused():
    mult = {"type": "MULT18X18", "parameters": {"AREG": "1", "OUT_REG": "0"},
            "connections": {"ASEL": [7], "BSEL": [3]}}
    gnd = {"type": "GND", "parameters": {}, "connections": {"G": [3]}}
    with pytest.raises(NetlistError, match="AREG on, ASEL not tied to 0"):
        _check_gowin_mults({"cells": {"mult": mult, "gnd": gnd}})


def test_block_ram_features_the_model_lacks_are_refused():
    ram = {"type": "DP16KD", "parameters": {"INITVAL_00": "0" * 319 + "1"},
           "connections": {"CLKA": [2], "CLKB": [2], "CSB0": [7]}}
    with pytest.raises(NetlistError, match="initial contents, CSB0 not tied to 0"):
        _check_rams({"cells": {"ram": ram}})


# (sweep name, pipeline override, multipliers, flip-flops moved in): all registers in one block
# with every stage (the defaults are in test_every_unit_netlist); a 32 x 32 multiply split
# over four blocks, whose operand registers move in and whose partial products go to adders.
_MAC_NETLISTS = [("default", 4, 1, 16 + 16 + 32), ("wl32-int", None, 4, 32 + 32)]


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
    _check_mac(params, sim, seed, design=(d, man))


def test_multiplier_features_the_model_lacks_are_refused():
    mult = {"type": "MULT18X18D", "parameters": {"REG_PIPELINE_CLK": "CLK0",
                                                 "REG_OUTPUT_CLK": "CLK1"},
            "connections": {"SOURCEA": [7]}}
    with pytest.raises(NetlistError, match="REG_OUTPUT_CLK CLK1, REG_PIPELINE_CLK on, "
                                           "SOURCEA not tied to 0"):
        _check_mults({"cells": {"mult": mult}})


# --- every unit on the netlist of each family, through its RTL tests' own checks ------------

def _check_mac(params, sim, seed, design=None):
    """Directed edge cases and 2000 seeded random beats through ``design`` (default: the
    design lowbit.sim.runner.design hands out), scored against golden with the latency."""
    vectors = directed_vectors(params)
    vectors.extend(random_vectors(params, np.random.default_rng(seed), 2000))
    job = vectors.job(params)
    if design is None:
        got, _, resp, man = run_unit("mac", params, job, sim=sim, seed=seed)
    else:
        man = design[1]
        got, _, resp = run_job(*design, job, sim=sim, seed=seed)
    board = score(job, zip(*got) if got else [], vectors.golden(params), resp,
                  latency=man["latency"])
    assert board.ok, f"params={params}\n{board.describe()}"
    assert board.latency_seen == {man["latency"]}


def _mac(sim, seed):
    _check_mac(MACParams(), sim, seed)


def _engine(unit, values):
    def run(sim, seed):
        params = get_unit(unit).params_cls(**dict(zip(test_winograd_sim._FIELDS, values)))
        test_winograd_sim._check(unit, params, sim, seed)
    return run


def _conv2d(sim, seed):
    wd, wg, c, h, w, padding, pipe, ft = (4, 3, 1, 6, 3, "valid", 2, "onchip")
    # Two filters folded through one lane: the tile buffer and the output buffers too.
    params = Conv2dParams(data_width=wd, weight_width=wg, channels=c, height=h, width=w,
                          padding=padding, pipeline=pipe, filter_transform=ft, filters=2,
                          parallel=1)
    rng = np.random.default_rng(seed)
    filt = rng.integers(-(1 << (wg - 1)), 1 << (wg - 1), size=(2, c, 3, 3))
    test_conv2d_sim._check(params, test_conv2d_sim._images(params, rng, 2), filt, sim, seed)


def _bitserial(sim, seed, shape="2x64x2"):
    params = SHAPES[shape] if isinstance(shape, str) else shape
    rng = np.random.default_rng(seed)
    runs = []
    # K = 37 is one chunk of Dk = 64, K = 90 two (the k loops, and a resident B of two).
    for wa, wb, sa, sb, k in [(1, 1, False, False, 37), (8, 8, True, False, 37),
                              (3, 2, True, True, 90)]:
        (alo, ahi), (blo, bhi) = value_range(wa, sa), value_range(wb, sb)
        runs.append(MatmulRun(rng.integers(alo, ahi + 1, (3, k)),
                              rng.integers(blo, bhi + 1, (k, 5)), wa, wb, sa, sb))
    (alo, ahi) = value_range(4, True)
    runs.append(MatmulRun(rng.integers(alo, ahi + 1, (5, 90)), runs[-1].B, 4, 2, True, True,
                          keep_b=True))
    d, man = design("bitserial", params)
    got, _, resp = run_job(d, man, chain(bitserial_runs(params, runs)), sim=sim, seed=seed,
                           idle=0.1, backpressure=0.1)
    assert got is not None, f"seed={seed}: {len(resp['out'])} tiles"
    for n, (r, C) in enumerate(zip(runs, got)):
        bad = np.argwhere(C != r.A @ r.B)
        assert not len(bad), f"seed={seed} run {n}: {len(bad)} elements differ"


def _systolic(sim, seed):
    """A 2 x 3 array of 8-bit MACs (a DSP multiplier each), stochastic rounding, the tiles
    not dividing the matrices, idle cycles and back-pressure."""
    from lowbit.golden.gemm import SystolicParams, gemm_golden, systolic_job

    params = SystolicParams(rows=2, cols=3, il_a=2, fl_a=6, il_b=2, fl_b=6, il_o=4, fl_o=6,
                            guard=4)
    rng = np.random.default_rng(seed)
    A, B = rng.integers(-128, 128, (5, 9)), rng.integers(-128, 128, (9, 4))
    got, _, resp, _ = run_unit("systolic", params, systolic_job(params, A, B), sim=sim,
                               seed=seed, idle=0.2, backpressure=0.2)
    assert got is not None, f"seed={seed}: {len(resp['out'])} tiles"
    C, O = gemm_golden(params, A, B)
    assert (got[0] == C).all() and (got[1] == O).all(), f"seed={seed}"


def _link(sim, seed):
    test_link_sim.test_register_write_then_read("small", sim, seed)


#: One configuration of every unit, each checked as its RTL tests check it.
UNIT_CHECKS = {
    "mac": _mac,
    "lfsr": lambda sim, seed: test_lfsr_sim.test_lfsr_sequence_equals_golden(
        20, 7, 12345, sim),
    # The packed style (carry chains with guard bits; the tree is in xnor, bmvu, dpu, ...).
    "popcount": lambda sim, seed: test_binary_sim.test_popcount_bit_exact(
        "packed", 33, 2, sim, seed),
    "xnor": lambda sim, seed: test_binary_sim.test_xnor_popcount_bit_exact(
        33, 200, 1, 2, sim, seed),
    "bmvu": lambda sim, seed: test_bmvu_sim.check_bmvu((10, 100, 3, 7, 3, 2), sim, seed),
    # Every register stage of the 1-D and direct engines (their second product register in
    # the fabric, behind the one that moves into the MULT18X18D on ECP5).
    "winograd1d": _engine("winograd1d", (8, 8, 1, 4, "offline")),
    "winograd2d": _engine("winograd2d", (8, 8, 1, 2, "offline")),
    "direct3x3": _engine("direct3x3", (8, 8, 1, 6)),
    "conv2d": _conv2d,
    "dpu": lambda sim, seed: test_bitserial_sim.test_dpu_bit_exact((100, 7, 13, 0), sim, seed),
    "p2s": lambda sim, seed: test_bitserial_sim.test_p2s_bit_exact(5, 3, 2, sim, seed),
    "bitserial": _bitserial,  # 1x7x4 on iCE40 (below), to keep the suite's time
    "link": _link,
    "systolic": _systolic,
    # Three layers, odd folds: the weights and thresholds as the memories' initial contents.
    "bnn": lambda sim, seed: test_bnnchip_sim.test_bnn_chip_bit_exact(
        test_bnnchip_sim.CHIPS[1], sim, seed),
}
#: A board of each family with cell models.
NETLIST_BOARDS = {"ice40": "icebreaker", "ecp5": "ulx3s-85f", "gowin": "tangnano9k"}
#: On every family, the two largest engines at narrower data and weights (the same kinds of
#: cells: LUTs, carries, flip-flops, DSP multipliers), to keep the suite's time: the
#: netlist's simulation build is most of each check's time (bench/test-time). (The bit-serial
#: engine at 1 x 7 x 4 on Gowin maps a buffer to DPB, which Yosys models only as a black box,
#: so Gowin keeps 2 x 64 x 2.)
NARROW_CHECKS = {"winograd2d": _engine("winograd2d", (5, 4, 1, 2, "offline")),
                 "direct3x3": _engine("direct3x3", (5, 4, 1, 6))}
_CASES = [pytest.param(b, u, id=f"{b}-{u}", marks=getattr(pytest.mark, UNITS[u].marker))
          for b in NETLIST_BOARDS.values() for u in UNIT_CHECKS]


def test_every_unit_has_a_netlist_check():
    assert set(UNIT_CHECKS) == set(UNITS)
    assert set(NETLIST_BOARDS) == set(NETLIST_FAMILIES)


@pytest.mark.parametrize("board,unit", _CASES)
def test_every_unit_netlist(board, unit, sim, seed):
    """The unit's synthesized netlist for ``board`` under its RTL tests' own checks (the
    designs those checks take come from lowbit.sim.runner.design). Multiplies are in DSP
    blocks on every family (on the UP5K ``lowbit synth`` puts the tile engines' multiplies
    in LUTs; that netlist, five times the size in simulation, is for ``lowbit test --netlist
    icebreaker``)."""
    with designs(netlist_source(board, dsp=True)) as used:
        if unit == "bitserial" and board == NETLIST_BOARDS["ice40"]:
            _bitserial(sim, seed, "1x7x4")
        elif unit in NARROW_CHECKS:
            NARROW_CHECKS[unit](sim, seed)
        else:
            UNIT_CHECKS[unit](sim, seed)
    assert unit in used, f"the check never took {unit}'s design from the netlist source"
    if unit == "bitserial" and board == "ulx3s-85f":
        _assert_reads_in_block_rams(SHAPES["2x64x2"], board)


def _assert_reads_in_block_rams(params, board):
    """Every operand and result read-data register of a 2 x 64 x 2 engine is in a block RAM."""
    man = netlist_design("bitserial", params, board, dsp=True)[1]
    assert man["netlist"]["outreg"]["ffs"] == 2 * 64 + 2 * 64 + 4 * params.accumulator_width


def test_bitserial_memory_a_bank_netlist(sim, seed):
    """bcast_fanout: a memory a bank, each with kept copies of its address registers, on the
    ECP5 netlist (the copies flattened after synthesis, each bank's block RAMs with their
    own read-data registers moved into them)."""
    params = dataclasses.replace(SHAPES["2x64x2"], bcast_fanout=1)
    board = "ulx3s-85f"
    with designs(netlist_source(board, dsp=True)) as used:
        _bitserial(sim, seed, params)
    assert "bitserial" in used
    _assert_reads_in_block_rams(params, board)


def test_bitserial_delay_mapped_netlist(sim, seed):
    """``lut_mapping="delay"`` (ABC maps for depth alone, ``lowbit synth --lut-mapping
    delay``): the ECP5 netlist of a small engine (1 x 7 x 4, the shape the iCE40 netlist
    check takes, for time) is still the engine, bit for bit, and it is another mapping than
    the default one (more LUTs)."""
    params = SHAPES["1x7x4"]
    board = "ulx3s-85f"
    with designs(netlist_source(board, dsp=True, lut_mapping="delay")) as used:
        _bitserial(sim, seed, params)
    assert "bitserial" in used
    delay = netlist_design("bitserial", params, board, dsp=True, lut_mapping="delay")[1]
    area = netlist_design("bitserial", params, board, dsp=True)[1]
    assert delay["netlist"]["lut_mapping"] == "delay"
    assert delay["netlist"]["cells"]["LUT4"] > area["netlist"]["cells"]["LUT4"]
    assert delay["netlist"]["outreg"] == area["netlist"]["outreg"]


def test_bitserial_chain_popcount_netlist(sim, seed):
    """``popcount="chain"``: the ECP5 netlist of a small engine (1 x 7 x 4's shape with 21
    bits a DPU: 6 level-1 fields, three levels) is still the engine, bit for bit, through
    Yosys's own CCU2C model, and its popcounts are CCU2C cells: the netlist has as many
    as the generated Verilog instantiates, fewer LUT4s than with the packed popcount, and
    its chains' ends unconnected as nextpnr gets them."""
    params = dataclasses.replace(SHAPES["1x7x4"], dk=21, popcount="chain")
    board = "ulx3s-85f"
    with designs(netlist_source(board, dsp=True)) as used:
        _bitserial(sim, seed, params)
    assert "bitserial" in used
    gen_dir, man = generated("bitserial", params)
    instances = len(re.findall(r"^\s*CCU2C\b", (gen_dir / man["verilog"]).read_text(),
                               flags=re.M))
    assert instances > 0 and man["models"] == ["lowbit_bitserial_cells.v"]
    net = netlist_design("bitserial", params, board, dsp=True)[1]["netlist"]
    chain = net["cells"]
    packed = netlist_design("bitserial", dataclasses.replace(params, popcount="packed"),
                            board, dsp=True)[1]["netlist"]["cells"]
    assert chain["CCU2C"] >= instances and chain["LUT4"] < packed["LUT4"], (chain, packed)
    # Each chain's carry in and out, unconnected (lowbit.boards.carry): the simulated netlist
    # is the one nextpnr gets. The popcounts' chains: 6 fields at level 1, 3 and 2 later.
    assert net["outreg"]["carry_ins"] >= 3 and net["outreg"]["carry_outs"] >= 3, net["outreg"]


def test_chain_popcount_is_for_ecp5_only():
    params = dataclasses.replace(SHAPES["1x7x4"], popcount="chain")
    with pytest.raises(UsageError, match="popcount=chain instantiates ECP5 carry cells; "
                                         "icebreaker is ice40: use popcount=packed or tree"):
        netlist_design("bitserial", params, "icebreaker")


def test_delay_mapping_is_for_ecp5_only():
    with pytest.raises(UsageError, match="--lut-mapping delay is for ECP5 boards; icebreaker"):
        netlist_source("icebreaker", lut_mapping="delay")
    with pytest.raises(UsageError, match="unknown LUT mapping 'fast'; choose one of: area, "
                                         "delay"):
        netlist_source("ulx3s-85f", lut_mapping="fast")


def test_bitserial_result_block_ram_netlist(sim, seed):
    """``result_ram="block"``: a result buffer shallow enough that Yosys would build it from
    LUT RAM (1 x 7 x 4 with 5 x 5 matrices at most: 32 words of 96 bits, 48 TRELLIS_DPR16X4)
    is block RAM on the ECP5 netlist, its read-data register moved into the RAMs' output
    registers, and the engine is still exact."""
    from lowbit.gen.fit import bram_blocks, lutram_units

    params = dataclasses.replace(SHAPES["1x7x4"], max_m=5, max_n=5, result_ram="block")
    assert lutram_units(dataclasses.replace(params, result_ram="auto"), "ecp5") == 48
    board = "ulx3s-85f"
    with designs(netlist_source(board, dsp=True)) as used:
        _bitserial(sim, seed, params)
    assert "bitserial" in used
    net = netlist_design("bitserial", params, board, dsp=True)[1]["netlist"]
    rams = sum(n for t, n in net["cells"].items() if "DP16KD" in t)
    assert rams == bram_blocks(params, "ecp5") and "TRELLIS_DPR16X4" not in net["cells"], net
    # A's 7 bits, B's 4 x 7 and the results' 4 x 24 read-data flip-flops, all in the RAMs.
    assert net["outreg"]["ffs"] == 7 + 4 * 7 + 4 * params.accumulator_width, net["outreg"]
