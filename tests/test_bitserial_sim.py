"""The bit-serial dot-product unit and the P2S converter under cocotb, bit-exact against
golden.bitserial (dpu_golden, p2s), with idle cycles and back-pressure on both sides."""

import numpy as np
import pytest
from lowbit.golden.bitserial import DPUParams, P2SParams, dpu_golden
from lowbit.hw.build import generated
from lowbit.hw.popcount import tree_latency
from lowbit.hw.units import get_unit
from lowbit.sim.bitserial import dpu_beats, p2s_first_plane_latency, p2s_words
from lowbit.sim.runner import run_unit
from lowbit.sim.score import score

pytestmark = [pytest.mark.sim, pytest.mark.bitserial]

# (dk, max_shift, acc_width, spacing): dk 1, npot, pot, npot > 64 (the engine's DPUs are
# checked inside the engine, tests/test_matmul_sim.py); acc_width 2, 6 and 13 wrap on the
# directed all-ones sums.
DPU = [(1, 0, 2, 0), (7, 3, 6, 1), (64, 30, 64, 1), (100, 7, 13, 0)]
DPU_IDS = ["dk{}-sh{}-acc{}-s{}".format(*c) for c in DPU]

# (E, W) and the run-time precisions w tried on each: 1, W, and one in between.
P2S_CASES = [(1, 1), (5, 3), (64, 16), (1, 8)]
P2S_RUNS = [(e, W, w) for e, W in P2S_CASES for w in sorted({1, (W + 1) // 2, W})]


def _dpu(cfg):
    dk, max_shift, acc_width, spacing = cfg
    return DPUParams(dk=dk, max_shift=max_shift, acc_width=acc_width, spacing=spacing)


def _check_dpu(params, sim, seed, groups, **stalls):
    beats = dpu_beats(params, np.random.default_rng(seed), groups)
    job = get_unit("dpu").job(params, beats)
    got, _, resp, man = run_unit("dpu", params, job, sim=sim, seed=seed, **stalls)
    assert man["latency"] == tree_latency(params.dk, params.spacing, params.top_registers) + 2
    board = score(job, got, dpu_golden(params, beats), resp, latency=man["latency"])
    assert board.ok, f"{params}\n{board.describe()}"
    assert board.latency_seen == {man["latency"]}
    return resp


@pytest.mark.parametrize("cfg", DPU, ids=DPU_IDS)
def test_dpu_bit_exact(cfg, sim, seed):
    params = _dpu(cfg)
    resp = _check_dpu(params, sim, seed, 400)
    assert resp["first_stall"] is not None


@pytest.mark.parametrize("dk,spacing,top", [(256, 2, 4), (61, 1, 0)],
                         ids=["dk256-s2-top4", "dk61-s1"])
def test_dpu_packed_popcount(dk, spacing, top, sim, seed):
    """popcount="packed" (the AND absorbed into the pair counts): the same results and the
    same latency as the tree; at Dk = 256 with top_registers=4, a register after levels 5
    to 8 as well as 2, 4, 6 and 8 (six stages; the popcount alone at spacing 2 without
    them: tests/test_binary_sim.py)."""
    params = DPUParams(dk=dk, max_shift=14, acc_width=24, spacing=spacing, popcount="packed",
                       top_registers=top)
    assert tree_latency(dk, spacing, top) == {256: 6, 61: 6}[dk]
    _check_dpu(params, sim, seed, 300, idle=0.1, backpressure=0.1)


@pytest.mark.parametrize("dk,spacing,top", [(256, 2, 4), (61, 1, 0), (7, 0, 0), (33, 2, 0)],
                         ids=["dk256-s2-top4", "dk61-s1", "dk7-s0", "dk33-s2"])
def test_dpu_chain_popcount(dk, spacing, top, sim, seed):
    """popcount="chain" (ECP5 CCU2C carry chains, the AND inside their LUTs), simulated
    with Yosys's models of the cells (the generated design's ``models``): the same results
    and latency as the tree."""
    params = DPUParams(dk=dk, max_shift=14, acc_width=24, spacing=spacing, popcount="chain",
                       top_registers=top)
    _check_dpu(params, sim, seed, 300, idle=0.1, backpressure=0.1)


def test_dpu_wraps_like_the_golden_model():
    """The directed all-ones sums overflow the small accumulators (else the wrap is untested)."""
    for cfg in DPU:
        params = _dpu(cfg)
        beats = dpu_beats(params, np.random.default_rng(0), 0)
        unbounded = dpu_golden(DPUParams(dk=params.dk, max_shift=params.max_shift,
                                         acc_width=64), beats)
        wrapped = dpu_golden(params, beats)
        assert (unbounded != wrapped).any() == (params.acc_width in (2, 6, 13)), cfg


def test_dpu_heavy_stalls(sim, seed):
    _check_dpu(_dpu(DPU[1]), sim, seed, 300, idle=0.5, backpressure=0.6)


@pytest.mark.parametrize("cfg", [DPU[1], DPU[3]], ids=[DPU_IDS[1], DPU_IDS[3]])
def test_dpu_one_beat_per_cycle(cfg, sim, seed):
    """Without idle cycles or back-pressure every beat is taken in consecutive cycles."""
    resp = _check_dpu(_dpu(cfg), sim, seed, 100, idle=0.0, backpressure=0.0)
    start = resp["in_cycles"][0]
    assert resp["in_cycles"] == list(range(start, start + len(resp["in_cycles"])))


@pytest.mark.rtl
def test_dpu_ports():
    params = _dpu(DPU[1])
    _, man = generated("dpu", params)
    ports = {p["name"]: p for p in man["ports"]}
    fields = {k: v["width"] for k, v in ports["i__payload"]["fields"].items()}
    assert fields == {"a": 7, "b": 7, "shift": 2, "negate": 1, "first": 1, "last": 1}
    assert ports["o__payload"]["fields"]["acc"] == {"offset": 0, "width": 6, "signed": True}
    assert set(ports) == {"clk", "rst", "i__payload", "i__valid", "i__ready", "o__payload",
                          "o__valid", "o__ready"}


@pytest.mark.parametrize("elements,max_width,w", P2S_RUNS,
                         ids=[f"E{e}-W{W}-w{w}" for e, W, w in P2S_RUNS])
def test_p2s_bit_exact(elements, max_width, w, sim, seed):
    params = P2SParams(elements=elements, max_width=max_width)
    words = p2s_words(params, np.random.default_rng(seed), 300)
    job = get_unit("p2s").job(params, words, w)
    got, _, resp, man = run_unit("p2s", params, job, sim=sim, seed=seed, idle=0.3,
                                 backpressure=0.3)
    board = score(job, got, params.compute(words, w), resp)
    assert board.ok, f"w={w}\n{board.describe()}"
    assert p2s_first_plane_latency(resp, w) == {man["latency"]}
    assert resp["first_stall"] is not None


@pytest.mark.parametrize("elements,max_width,w", [(1, 1, 1), (5, 3, 2), (64, 16, 16),
                                                  (1, 8, 8)])
def test_p2s_one_plane_per_cycle(elements, max_width, w, sim, seed):
    """Input always valid, output always ready: a plane every cycle, no bubble between words
    (the next word is taken as the last plane of the current one leaves)."""
    params = P2SParams(elements=elements, max_width=max_width)
    words = p2s_words(params, np.random.default_rng(seed), 60)
    job = get_unit("p2s").job(params, words, w)
    got, _, resp, _ = run_unit("p2s", params, job, sim=sim, idle=0.0, backpressure=0.0)
    assert score(job, got, params.compute(words, w), resp).ok
    n = len(words)
    start = resp["in_cycles"][0]
    assert resp["in_cycles"] == [start + k * w for k in range(n)]
    assert resp["out_cycles"] == list(range(start + 1, start + 1 + n * w))


def test_p2s_heavy_stalls(sim, seed):
    params = P2SParams(elements=8, max_width=8)
    words = p2s_words(params, np.random.default_rng(seed), 200)
    job = get_unit("p2s").job(params, words, 3, calm_beats=0)
    got, _, resp, _ = run_unit("p2s", params, job, sim=sim, seed=seed, idle=0.6,
                               backpressure=0.6)
    board = score(job, got, params.compute(words, 3), resp)
    assert board.ok, board.describe()


@pytest.mark.rtl
def test_p2s_ports():
    params = P2SParams(elements=5, max_width=3)
    _, man = generated("p2s", params)
    ports = {p["name"]: (p["dir"], p["width"]) for p in man["ports"]}
    assert ports == {"clk": ("in", 1), "rst": ("in", 1), "i__payload": ("in", 15),
                     "i__valid": ("in", 1), "i__ready": ("out", 1), "w": ("in", 2),
                     "o__payload": ("out", 5), "o__valid": ("out", 1), "o__ready": ("in", 1)}
    assert man["latency"] == 1

