"""The generated systolic array under cocotb against the golden GEMM (lowbit.golden.gemm),
bit for bit, over array shapes (1x1, non-square, tiles that do not divide the matrices),
formats, every rounding mode, product rounding, wrapping, short and long K, idle cycles and
back-pressure; the latency against the manifest's; and the stochastic rounding's statistics
measured on the RTL's own outputs."""

import dataclasses
import math

import numpy as np
import pytest
from lowbit.golden.gemm import SystolicParams, gemm_golden, systolic_job
from lowbit.sim.runner import run_unit

pytestmark = [pytest.mark.sim, pytest.mark.mac]

SWEEP = [  # (name, params, M, K, N)
    ("1x1", dict(rows=1, cols=1), 3, 5, 2),
    ("2x3-edges", dict(rows=2, cols=3), 5, 7, 4),
    ("3x2-k1", dict(rows=3, cols=2, out_depth=2), 7, 1, 5),
    ("4x4-8bit", dict(rows=4, cols=4, il_a=2, fl_a=6, il_b=3, fl_b=5, il_o=4, fl_o=4,
                      guard=3, rounding="nearest"), 9, 12, 6),
    ("2x2-even-wrap", dict(rows=2, cols=2, rounding="nearest_even", saturate=False), 4, 9, 3),
    ("2x2-truncate-products", dict(rows=2, cols=2, rounding="truncate", round_products=True),
     3, 6, 5),
    ("3x3-stochastic-products", dict(rows=3, cols=3, round_products=True, r_bits=5,
                                     lfsr_width=11, pipeline=4, carry_chain=8), 7, 6, 8),
    ("2x4-narrow-out", dict(rows=2, cols=4, il_o=2, fl_o=3, lfsr_width=24, r_bits=12), 6, 16, 9),
    ("1x4-pipeline0", dict(rows=1, cols=4, pipeline=0, out_depth=3), 3, 3, 11),
]


def _operands(p, M, K, N, rng):
    mac = p.mac
    A = rng.integers(mac.fmt_a.min_int, mac.fmt_a.max_int + 1, size=(M, K))
    B = rng.integers(mac.fmt_b.min_int, mac.fmt_b.max_int + 1, size=(K, N))
    # Extremes in the first rows and columns: full-scale products, zero, -1.
    A[0, :] = mac.fmt_a.min_int
    B[:, 0] = mac.fmt_b.min_int
    if M > 1:
        A[1, :] = mac.fmt_a.max_int
    if N > 1:
        B[:, 1] = -1
    return A, B


@pytest.mark.parametrize("case", range(len(SWEEP)), ids=[s[0] for s in SWEEP])
def test_systolic_bit_exact(case, sim, seed):
    _, over, M, K, N = SWEEP[case]
    p = SystolicParams(**over, seed=seed % 2000 + 1)
    rng = np.random.default_rng(seed)
    A, B = _operands(p, M, K, N, rng)
    # Two products back to back in one job would share the lanes' LFSRs; here one a run.
    for idle, bp in ((0.0, 0.0), (0.3, 0.5)):
        job = systolic_job(p, A, B)
        got, _, resp, man = run_unit("systolic", p, job, sim=sim, seed=seed, idle=idle,
                                     backpressure=bp)
        assert got is not None, f"{len(resp['out'])} result beats, {job.expect} expected"
        C, O = gemm_golden(p, A, B)
        assert (got[0] == C).all() and (got[1] == O).all(), (got, C, O)
        if idle == 0.0:  # the first tile, calm: the latency the manifest gives
            first_last = job.last_beats[0]
            assert resp["out_cycles"][0] - resp["in_cycles"][first_last] == man["latency"]
        else:
            assert resp["first_stall"] is not None, "back-pressure was never applied"


@pytest.mark.parametrize("K, depth", [(4, 4), (1, 10), (4, 2), (3, 2)])
def test_throughput_against_the_queue_depth(K, depth, sim):
    """With no idle cycles and no back-pressure: a tile every K cycles when out_depth >=
    latency / K + 1 (latency 9 here), else out_depth tiles every latency + K cycles."""
    p = SystolicParams(rows=2, cols=3, out_depth=depth)
    A, B = np.ones((8, K), dtype=np.int64), np.ones((K, 12), dtype=np.int64)
    job = systolic_job(p, A, B)
    got, _, resp, man = run_unit("systolic", p, job, sim=sim, idle=0.0, backpressure=0.0)
    assert got is not None
    L, out = man["latency"], resp["out_cycles"]
    assert L == 9
    if depth >= L / K + 1:
        assert np.diff(out).tolist() == [K] * (len(out) - 1)
    else:
        assert out[depth] - out[0] == L + K  # out_depth tiles a round
        assert (out[-1] - out[0]) * depth == (len(out) - 1) * (L + K) \
            or len(out) % depth != 1


def test_a_golden_model_with_other_seeds_fails(sim):
    """The same run scored against lanes seeded otherwise must differ: the test can fail."""
    p = SystolicParams(rows=2, cols=2)
    rng = np.random.default_rng(5)
    A, B = _operands(p, 6, 10, 6, rng)
    got, _, _, _ = run_unit("systolic", p, systolic_job(p, A, B), sim=sim)
    assert (got[0] == gemm_golden(p, A, B)[0]).all()
    assert not (got[0] == gemm_golden(dataclasses.replace(p, seed=2), A, B)[0]).all()


def test_stochastic_rounding_statistics_on_the_rtl(sim):
    """10^5 conversions of 0.30005 eps through a 4 x 4 array (R = 8): the round-up rate is
    76/256 within 4 standard errors, and neighbouring PEs' decisions are uncorrelated."""
    p = SystolicParams(rows=4, cols=4, il_a=4, fl_a=16, il_b=2, fl_b=8, il_o=8, fl_o=8,
                       r_bits=8, out_depth=8)
    x = round(0.30005 * (1 << p.mac.output_drop))
    side = 320  # 102,400 conversions, 6,400 tiles of K = 1
    A = np.full((side, 1), x)
    B = np.ones((1, side), dtype=np.int64)
    got, _, _, _ = run_unit("systolic", p, systolic_job(p, A, B), sim=sim, idle=0.0,
                            backpressure=0.0)
    up = got[0]
    assert set(np.unique(up)) <= {0, 1}
    assert (up == gemm_golden(p, A, B)[0]).all()
    want = 76 / 256
    assert abs(up.mean() - want) < 4 * math.sqrt(want * (1 - want) / up.size)
    for a, b in ((up[:, :-1], up[:, 1:]), (up[:-1, :], up[1:, :])):
        rho = np.corrcoef(a.reshape(-1), b.reshape(-1))[0, 1]
        assert abs(rho) < 4 / math.sqrt(a.size)
