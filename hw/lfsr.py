"""Leap-forward maximal-length LFSR (SPEC section 2)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["LFSR", "leap_network"]


def leap_network(width, taps, steps):
    """The ``steps``-step state transition over GF(2), as one bitmask per new state bit.

    Bit ``i`` of the state after ``steps`` single steps is the XOR of the old state bits set in
    ``rows[i]``. Found by stepping the register symbolically: each bit is a set of old bits.
    """
    rows = [1 << i for i in range(width)]
    for _ in range(steps):
        fb = 0
        for t in taps:
            fb ^= rows[t - 1]
        rows = [fb] + rows[:-1]
    return rows


class LFSR(wiring.Component):
    """Fibonacci LFSR that advances R steps per sample in one clock (leap-forward).

    Parameters
    ----------
    params : lowbit.golden.lfsr.LFSRParams
        Width L, R bits per sample, seed; taps from XAPP052.

    Members
    -------
    en : In(1)
        Advance to the next sample at the clock edge.
    state : Out(L)
        The current state; its reset value is the seed.
    sample : Out(R)
        The low R bits of ``state``: the current random sample.

    The sample is a register output (no logic after the flop); advancing costs one XOR network
    of at most ``len(taps)**ceil(R/L)`` inputs per bit, computed at generation time.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "en": In(1),
            "state": Out(params.width, init=params.seed),
            "sample": Out(params.r_bits),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        rows = leap_network(p.width, p.taps, p.r_bits)
        nxt = Signal(p.width)
        for i, row in enumerate(rows):
            bits = [self.state[j] for j in range(p.width) if (row >> j) & 1]
            acc = bits[0]
            for bit in bits[1:]:
                acc = acc ^ bit
            m.d.comb += nxt[i].eq(acc)
        with m.If(self.en):
            m.d.sync += self.state.eq(nxt)
        m.d.comb += self.sample.eq(self.state[:p.r_bits])
        return m
