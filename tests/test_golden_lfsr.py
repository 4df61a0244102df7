"""LFSR golden model: exact periods, primitive tap polynomials, seeds."""

import pytest
from lowbit.golden import XAPP052_TAPS, LFSRModel, LFSRParams, lane_seeds
from lowbit.hw import leap_network


def period(width, seed=1):
    m = LFSRModel(LFSRParams(width=width, r_bits=1, seed=seed))
    start, n = m.state, 0
    while True:
        m.step()
        n += 1
        if m.state == start:
            return n
        assert n < (1 << width), "cycled through more states than exist"


@pytest.mark.parametrize("width", range(2, 21))
def test_exact_period(width):
    assert period(width) == (1 << width) - 1


def _factor(n):
    fs, p = set(), 2
    while p * p <= n:
        while n % p == 0:
            fs.add(p)
            n //= p
        p += 1 if p == 2 else 2
    if n > 1:
        fs.add(n)
    return fs


def _polymulmod(a, b, poly, deg):
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if (a >> deg) & 1:
            a ^= poly
    return r


def _polypowmod(e, poly, deg):
    result, base = 1, 2  # the polynomial x
    while e:
        if e & 1:
            result = _polymulmod(result, base, poly, deg)
        base = _polymulmod(base, base, poly, deg)
        e >>= 1
    return result


@pytest.mark.parametrize("width", sorted(w for w in XAPP052_TAPS if w <= 40))
def test_taps_are_primitive(width):
    """x has order exactly 2**L - 1 modulo the characteristic polynomial: maximal length."""
    poly = 1 << width | 1
    for t in XAPP052_TAPS[width][1:]:
        poly |= 1 << t
    order = (1 << width) - 1
    assert _polypowmod(order, poly, width) == 1
    for q in _factor(order):
        assert _polypowmod(order // q, poly, width) != 1


def test_samples_are_low_bits_every_r_steps():
    p = LFSRParams(width=8, r_bits=3, seed=0x5A)
    single = LFSRModel(LFSRParams(width=8, r_bits=1, seed=0x5A)).states(30)
    assert list(LFSRModel(p).samples(10)) == [int(s) & 7 for s in single[::3]]


@pytest.mark.parametrize("width,steps", [(5, 1), (8, 3), (16, 16), (20, 7), (31, 40)])
def test_leap_network_equals_stepping(width, steps):
    """The hardware's generation-time XOR network against bit-by-bit stepping."""
    rows = leap_network(width, XAPP052_TAPS[width], steps)
    for seed in (1, 0b1011, (1 << width) - 1):
        m = LFSRModel(LFSRParams(width=width, r_bits=1, seed=seed))
        for _ in range(steps):
            m.step()
        nxt = sum((bin(row & seed).count("1") & 1) << i for i, row in enumerate(rows))
        assert nxt == m.state


def test_lane_seeds_deterministic_distinct_nonzero():
    s = lane_seeds(7, 64, 8)
    assert s == lane_seeds(7, 64, 8)
    assert len(set(s)) == 64 and all(0 < x < 256 for x in s)
    assert lane_seeds(8, 4, 16) != lane_seeds(7, 4, 16)
