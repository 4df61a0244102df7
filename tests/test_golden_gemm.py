"""The golden fixed-point GEMM (SPEC section 9, lowbit.golden.gemm) against the MAC's golden
model lane by lane, against exact rational arithmetic, and its LFSR lanes against the
bit-at-a-time LFSR; the statistics of the array's stochastic rounding."""

import dataclasses
import math

import numpy as np
import pytest
from lowbit.golden.gemm import LaneLFSRs, SystolicParams, gemm_golden
from lowbit.golden.lfsr import LFSRModel, LFSRParams
from lowbit.golden.mac import mac_golden

from .test_golden_fixed import ref_round

MODES = ["truncate", "nearest", "nearest_even", "stochastic"]


@pytest.mark.parametrize("width, r_bits", [(3, 1), (8, 8), (16, 8), (17, 5), (31, 12), (64, 16)])
def test_lanes_equal_the_bit_at_a_time_lfsr(width, r_bits, seed):
    rng = np.random.default_rng(seed)
    seeds = [int(s) for s in rng.integers(1, 1 << min(width, 62), size=5)]
    got = LaneLFSRs(width, r_bits, seeds).draw(40)
    for lane, s in enumerate(seeds):
        want = LFSRModel(LFSRParams(width, r_bits, s)).samples(40)
        assert [int(v) for v in got[lane]] == [int(v) for v in want]


def test_draws_continue_where_they_stopped():
    lf = LaneLFSRs(16, 8, [1, 2, 3])
    both = np.concatenate([lf.draw(7), lf.draw(9)], axis=1)
    assert (both == LaneLFSRs(16, 8, [1, 2, 3]).draw(16)).all()


def _random_codes(rng, fmt, shape, extreme=False):
    if extreme:
        return rng.choice([fmt.min_int, fmt.max_int, 0, -1, 1], size=shape)
    return rng.integers(fmt.min_int, fmt.max_int + 1, size=shape)


def _by_lanes(p, A, B):
    """Every PE's stream through mac_golden: its outputs in tile order, the tiles at the edges
    computed from zero padding as the array does. Returns C and the overflow flags."""
    M, K = A.shape
    N = B.shape[1]
    mt, nt = p.tiles(M, N)
    C = np.zeros((M, N), dtype=np.int64)
    O = np.zeros((M, N), dtype=np.int64)
    for r in range(p.rows):
        for c in range(p.cols):
            a, b, first, last, where = [], [], [], [], []
            for t in range(mt * nt):
                m, n = (t // nt) * p.rows + r, (t % nt) * p.cols + c
                a += list(A[m]) if m < M else [0] * K
                b += list(B[:, n]) if n < N else [0] * K
                first += [1] + [0] * (K - 1)
                last += [0] * (K - 1) + [1]
                where.append((m, n))
            vals, ovf = mac_golden(p.pe(r, c), a, b, first, last)
            for (m, n), v, o in zip(where, vals, ovf, strict=True):
                if m < M and n < N:
                    C[m, n], O[m, n] = int(v), int(o)
    return C, O


CASES = [  # (array, formats, M, K, N)
    (dict(rows=1, cols=1), {}, 3, 5, 2),
    (dict(rows=2, cols=3), {}, 5, 7, 4),          # tiles that do not divide the matrices
    (dict(rows=4, cols=2), dict(il_a=2, fl_a=6, il_b=3, fl_b=5, il_o=4, fl_o=4, guard=3), 8, 9, 6),
    (dict(rows=3, cols=3), dict(il_a=1, fl_a=15, il_b=1, fl_b=15, il_o=1, fl_o=15, guard=4),
     6, 16, 7),
    (dict(rows=2, cols=2), dict(il_a=16, fl_a=16, il_b=16, fl_b=16, il_o=32, fl_o=0,
                                guard=32), 3, 4, 3),          # 96-bit accumulator: object path
    (dict(rows=2, cols=1), dict(il_a=8, fl_a=0, il_b=8, fl_b=0, il_o=8, fl_o=4, guard=2),
     4, 6, 3),                                                # output has more fraction bits
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("round_products", [False, True])
@pytest.mark.parametrize("sat", [True, False])
def test_gemm_equals_the_mac_lane_by_lane(case, mode, round_products, sat, seed):
    array, fmts, M, K, N = CASES[case]
    p = SystolicParams(**array, **fmts, rounding=mode, round_products=round_products,
                       saturate=sat, seed=seed % 1000 + 1, r_bits=5, lfsr_width=11)
    rng = np.random.default_rng(seed)
    mac = p.mac
    for extreme in (False, True):
        A = _random_codes(rng, mac.fmt_a, (M, K), extreme)
        B = _random_codes(rng, mac.fmt_b, (K, N), extreme)
        C, O = gemm_golden(p, A, B)
        WC, WO = _by_lanes(p, A, B)
        assert (C == WC).all() and (O == WO).all()


@pytest.mark.parametrize("mode", MODES[:3])
def test_gemm_against_exact_rational_arithmetic(mode, seed):
    p = SystolicParams(rows=3, cols=2, il_a=3, fl_a=9, il_b=2, fl_b=10, il_o=6, fl_o=7,
                       guard=6, rounding=mode)
    rng = np.random.default_rng(seed)
    A = rng.integers(-2048, 2048, size=(7, 33))
    B = rng.integers(-2048, 2048, size=(33, 5))
    C, O = gemm_golden(p, A, B)
    lo, hi = -(1 << 12), (1 << 12) - 1
    for m in range(7):
        for n in range(5):
            exact = sum(int(A[m, k]) * int(B[k, n]) for k in range(33))  # 19 fraction bits
            y = ref_round(exact, 19 - 7, mode)
            assert C[m, n] == min(max(y, lo), hi) and O[m, n] == int(not lo <= y <= hi)


def test_stochastic_results_are_a_neighbour_of_the_exact_value(seed):
    p = SystolicParams(rows=4, cols=4, rounding="stochastic")
    rng = np.random.default_rng(seed)
    A = rng.integers(-400, 400, size=(9, 20))
    B = rng.integers(-400, 400, size=(20, 11))
    C, O = gemm_golden(p, A, B)
    exact = (A @ B) / 2.0 ** 16  # 24 - 8 bits dropped, exactly representable in float64
    assert not O.any()
    assert (np.abs(C - exact) < 1).all()


def _one_fraction(p, count, frac):
    """``count`` or more conversions of the value ``frac`` eps (K = 1: A holds it, B is the
    smallest code, 1) on the array: the rounded codes (0 or 1), and the exact fraction."""
    d = p.mac.output_drop
    x = round(frac * (1 << d))
    side = int(math.isqrt(count)) + 1
    C, _ = gemm_golden(p, np.full((side, 1), x), np.ones((1, side), dtype=np.int64))
    return C, x / (1 << d)


def test_stochastic_rounding_bias_and_neighbouring_lanes():
    """10^5 conversions of a value whose dropped fraction is 0.30005 eps on a 4 x 4 array with
    R = 8: the rate of rounding up is the quantized fraction 76/256 within 4 standard errors,
    its bias against the true fraction within 2^-R (and the noise), and the decisions of
    neighbouring PEs uncorrelated."""
    p = SystolicParams(rows=4, cols=4, il_a=4, fl_a=16, il_b=2, fl_b=8, il_o=8, fl_o=8,
                       rounding="stochastic", r_bits=8)
    up, frac = _one_fraction(p, 100_000, 0.30005)
    assert set(np.unique(up)) <= {0, 1}
    n = up.size
    rate = up.mean()
    want = 76 / 256  # r >= 180 of 0..255 rounds 0.30005 up
    se = math.sqrt(want * (1 - want) / n)
    assert abs(rate - want) < 4 * se
    assert abs(rate - frac) <= 2 ** -8 + 4 * se  # the quantized fraction, then the noise
    right = up[:, :-1].reshape(-1), up[:, 1:].reshape(-1)   # PE (r, c) and (r, c + 1)
    below = up[:-1, :].reshape(-1), up[1:, :].reshape(-1)   # PE (r, c) and (r + 1, c)
    for x, y in (right, below):
        rho = np.corrcoef(x, y)[0, 1]
        assert abs(rho) < 4 / math.sqrt(len(x))


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="rows must be"):
        SystolicParams(rows=0)
    with pytest.raises(ValueError, match="rows x cols must be at most 784 PEs, not 32 x 32"):
        SystolicParams(rows=32, cols=32)
    with pytest.raises(ValueError, match="rounding must be one of"):
        SystolicParams(rounding="up")
    with pytest.raises(ValueError, match="A codes must lie in"):
        gemm_golden(SystolicParams(), [[1 << 20]], [[1]])
    with pytest.raises(ValueError, match="K must agree"):
        gemm_golden(SystolicParams(), [[1, 2]], [[1]])
    assert dataclasses.replace(SystolicParams(), rows=2).lanes == 8
