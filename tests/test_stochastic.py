"""Stochastic rounding on the hardware: unbiased on average, and Gupta et al.'s effect."""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
from lowbit.golden import MACParams, mac_golden
from lowbit.sim.mac import small_increments, sum_of_products
from lowbit.sim.runner import design, run_unit
from lowbit.sim.score import score

pytestmark = [pytest.mark.sim, pytest.mark.mac]


def test_mean_error_within_4_standard_errors(sim, seed):
    """100,000 single-product conversions dropping 16 bits with R = 16 random bits."""
    params = MACParams(il_a=8, fl_a=8, il_b=8, fl_b=8, il_o=16, fl_o=0, guard=1,
                       rounding="stochastic", lfsr_width=24, r_bits=16, seed=0x2F0A1,
                       pipeline=2)
    n = 100_000
    rng = np.random.default_rng(seed)
    a = rng.integers(-(1 << 15), 1 << 15, size=n).tolist()
    b = rng.integers(-(1 << 15), 1 << 15, size=n).tolist()
    vectors = sum_of_products(params, a, b, 1)
    job = vectors.job(params)
    got, _, resp, man = run_unit("mac", params, job, sim=sim, seed=seed, idle=0.02,
                                 backpressure=0.02)
    assert got is not None, f"{len(resp['out'])} of {n} results"
    values, ovf = got
    board = score(job, zip(values, ovf), vectors.golden(params), resp, latency=man["latency"])
    assert board.ok, board.describe()

    exact = np.array([x * y for x, y in zip(a, b)], dtype=np.float64) / (1 << 16)
    err = values.astype(np.float64) - exact
    mean, se = err.mean(), err.std(ddof=1) / np.sqrt(n)
    assert abs(mean) < 4 * se, f"mean error {mean:.3g} LSB, standard error {se:.3g}"
    assert err.min() > -1 and err.max() < 1

    # The statistic has power: truncation on the same data is biased by about -1/2 LSB.
    trunc, _ = mac_golden(dataclasses.replace(params, rounding="truncate"),
                          vectors.a, vectors.b, vectors.first, vectors.last)
    t_err = np.array(trunc, dtype=np.float64) - exact
    assert abs(t_err.mean()) > 100 * se


def _effect(rounding, sim):
    # Increments of 0.2998 eps at <4,8>: a = 2**-5 (<2,14> code 512), b = 614 / 2**14.
    params = MACParams(il_a=2, fl_a=14, il_b=2, fl_b=14, il_o=4, fl_o=8, guard=12,
                       rounding=rounding, round_products=True, r_bits=16, lfsr_width=16,
                       seed=0xBEEF)
    gen_dir, man = design("mac", params)
    return small_increments(gen_dir, man, params, 4000, 512, 614, sim=sim)


def test_small_increments_nearest_is_stuck_stochastic_tracks(sim):
    hw_n, gold_n, exact = _effect("nearest", sim)
    hw_s, gold_s, _ = _effect("stochastic", sim)
    assert (hw_n, hw_s) == (gold_n, gold_s)
    assert exact > 1000
    assert hw_n == 0, "nearest rounds every increment below eps/2 to zero"
    # Stochastic: binomial spread sqrt(4000 * 0.3 * 0.7) ~ 29 LSB; allow 4 sigma.
    assert abs(hw_s - exact) < 120, f"stochastic sum {hw_s} vs exact {float(exact):.1f}"
    assert abs(Fraction(hw_s) / exact - 1) < Fraction(1, 10)
