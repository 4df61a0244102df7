"""Carry-chain cutting: the shared pieces for adders longer than a clock period allows.

An iCE40 LUT4 + SB_CARRY ripple of 40 bits takes about 28 ns (35 MHz on the UP5K, measured);
cutting the chain into segments with a registered carry between them bounds the path at the
cost of one cycle per extra segment. Everything here registers under a clock enable ``ce`` so
a stalled pipeline holds still.
"""

from amaranth.hdl import Cat, Signal, signed

__all__ = ["segments", "delay", "add", "pipelined_add", "split_multiply"]


def segments(width, seg):
    """``[(lo, hi), ...]`` cutting ``width`` bits into pieces of at most ``seg`` (0: one)."""
    if seg <= 0 or seg >= width:
        return [(0, width)]
    return [(lo, min(lo + seg, width)) for lo in range(0, width, seg)]


def delay(m, ce, value, cycles, *, name="dly", reset_less=True):
    """``value`` delayed by ``cycles`` registers that advance when ``ce`` is high."""
    for k in range(cycles):
        reg = Signal.like(value, name=f"{name}_{k}", reset_less=reset_less)
        with m.If(ce):
            m.d.sync += reg.eq(value)
        value = reg
    return value


def add(a, b, carry=None):
    """``a + b + carry``, or ``a + b`` when there is no carry (``None``)."""
    return a + b if carry is None else a + b + carry


def pipelined_add(m, ce, a, b, seg, *, name="padd"):
    """``(a + b) mod 2**n`` for two ``n``-bit values, the carry chain cut every ``seg`` bits.

    Segment ``k`` is added in stage ``k`` with the carry registered by stage ``k - 1``; the
    upper operand bits and the finished lower result bits ride along in registers. Returns
    ``(sum, stages)``: the n-bit sum as an unsigned value and the registers on its path.
    """
    n = len(a)
    assert len(b) == n
    bounds = segments(n, seg)
    done, carry = [], None
    a_rest, b_rest = a.as_unsigned(), b.as_unsigned()
    for k, (lo, hi) in enumerate(bounds):
        w = hi - lo
        s = add(a_rest[:w], b_rest[:w], carry)
        if k == len(bounds) - 1:
            return Cat(*done, s[:w]), k
        done = [delay(m, ce, x, 1, name=f"{name}_r{k}_{i}") for i, x in enumerate(done)]
        done.append(delay(m, ce, s[:w], 1, name=f"{name}_s{k}"))
        carry = delay(m, ce, s[w], 1, name=f"{name}_c{k}")
        a_rest = delay(m, ce, a_rest[w:], 1, name=f"{name}_a{k}")
        b_rest = delay(m, ce, b_rest[w:], 1, name=f"{name}_b{k}")
    raise AssertionError("unreachable")


def split_multiply(m, ce, a, b, width, *, name="smul"):
    """``a * b`` (both signed) in two register stages, for multiplies in LUTs: the partial
    products of ``a`` with the low half of ``b`` (unsigned) and with its high half (signed),
    each registered, then their sum, registered, as ``width`` bits (enough for the exact
    product). Each stage's adder tree is about half as deep as the whole multiply's; on a
    DSP target it takes two multipliers instead of one. Returns the registered product
    (2 cycles)."""
    assert len(b) >= 2, "split_multiply: b needs 2 bits or more"
    k = len(b) // 2
    lo = Signal(signed(len(a) + k + 1), name=f"{name}_lo")
    hi = Signal(signed(len(a) + len(b) - k), name=f"{name}_hi")
    m.d.comb += [lo.eq(a * b[:k]), hi.eq(a * b[k:].as_signed())]
    lo, hi = delay(m, ce, lo, 1, name=f"{name}_lo_q"), delay(m, ce, hi, 1, name=f"{name}_hi_q")
    total = Signal(signed(width), name=name)
    m.d.comb += total.eq(lo + (hi << k))
    return delay(m, ce, total, 1, name=f"{name}_q")
