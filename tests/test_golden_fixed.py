"""The golden fixed-point model against exact rational arithmetic (fractions)."""

import math
from fractions import Fraction

import numpy as np
import pytest
from lowbit.golden import FixedFormat, convert, quantize, round_shift, saturate, to_float


def ref_round(x, d, mode, r=0, rp=0):
    """Rounding from the definitions, in rationals: value x / 2**d to an integer."""
    v = Fraction(x, 1 << d)
    lo = math.floor(v)
    frac = v - lo
    if mode == "truncate":
        return lo
    if mode == "nearest":
        return lo + (frac >= Fraction(1, 2))
    if mode == "nearest_even":
        if frac == Fraction(1, 2):
            return lo + (lo % 2)
        return lo + (frac > Fraction(1, 2))
    # stochastic: up iff frac + r / 2**rp >= 1
    return lo + (frac + Fraction(r, 1 << rp) >= 1)


@pytest.mark.parametrize("mode", ["truncate", "nearest", "nearest_even"])
@pytest.mark.parametrize("d", [1, 2, 3, 7])
def test_round_shift_exhaustive(mode, d):
    xs = list(range(-(1 << (d + 3)), 1 << (d + 3)))
    got = round_shift(xs, d, mode)
    assert [int(g) for g in got] == [ref_round(x, d, mode) for x in xs]


def test_nearest_ties_go_up_and_even_ties_go_even():
    # 2.5 -> 3 (nearest), 2 (even); -2.5 -> -2 (nearest: toward +inf), -2 (even); 3.5 -> 4, 4
    xs = [5, -5, 7, -7]
    assert list(round_shift(xs, 1, "nearest")) == [3, -2, 4, -3]
    assert list(round_shift(xs, 1, "nearest_even")) == [2, -2, 4, -4]


@pytest.mark.parametrize("d,r_bits", [(4, 4), (4, 2), (4, 9), (1, 1), (6, 3)])
def test_stochastic_matches_definition(d, r_bits):
    rng = np.random.default_rng(5)
    xs = rng.integers(-1000, 1000, size=500)
    samples = rng.integers(0, 1 << r_bits, size=500)
    rp = min(r_bits, d)
    got = round_shift(xs, d, "stochastic", samples, r_bits)
    want = [ref_round(int(x), d, "stochastic", int(s) % (1 << rp), rp)
            for x, s in zip(xs, samples)]
    assert [int(g) for g in got] == want


def test_stochastic_expected_value_is_exact_over_all_r():
    # Over every r in [0, 2**R'), the mean of the rounded values equals x / 2**D (R' = D).
    d = 4
    for x in range(-40, 40):
        vals = round_shift([x] * 16, d, "stochastic", list(range(16)), 4)
        assert Fraction(sum(int(v) for v in vals), 16) == Fraction(x, 16)


def test_left_shift_when_nothing_is_dropped():
    assert list(round_shift([3, -3], -2, "nearest")) == [12, -12]
    assert list(round_shift([3, -3], 0, "truncate")) == [3, -3]


def test_saturate_and_wrap():
    v, o = saturate([127, 128, -128, -129, 1000], 8)
    assert list(v) == [127, 127, -128, -128, 127] and list(o) == [0, 1, 0, 1, 1]
    v, o = saturate([128, -129], 8, wrap=True)
    assert list(v) == [-128, 127] and list(o) == [1, 1]


def test_wide_values_stay_exact():
    x = (1 << 90) + 3
    assert int(round_shift([x], 2, "nearest")[0]) == (1 << 88) + 1
    v, o = convert([x], 40, FixedFormat(32, 0), "truncate")
    assert int(v[0]) == (1 << 31) - 1 and int(o[0]) == 1


def test_quantize_floats():
    fmt = FixedFormat(4, 4)
    vals = [0.03125, -0.03125, 0.09375, 7.99, -8.0, 100.0, 1 / 3]
    codes, ovf = quantize(vals, fmt, "nearest_even")
    assert list(codes) == [0, 0, 2, 127, -128, 127, 5]
    assert list(ovf) == [0, 0, 0, 1, 0, 1, 0]  # 7.99 rounds to 8.0, which saturates
    assert list(to_float([2, -128], fmt)) == [0.125, -8.0]
    with pytest.raises(ValueError, match="NaN"):
        quantize([float("nan")], fmt)


def test_format_limits():
    f = FixedFormat(1, 31)
    assert (f.wl, f.min_int, f.max_int, f.eps) == (32, -(1 << 31), (1 << 31) - 1,
                                                   Fraction(1, 1 << 31))
