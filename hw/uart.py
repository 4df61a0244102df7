"""8N1 UART transmitter and receiver with byte streams (the host link's physical layer)."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..golden.link import UARTParams
from .ports import discard

__all__ = ["UARTParams", "UARTTx", "UARTRx", "RX_LAYOUT"]

#: A received byte with its status: ``framing_error`` (its stop bit was low) and ``overrun``
#: (at least one byte was lost before it because the stream was not taken in time).
RX_LAYOUT = data.StructLayout({"data": 8, "framing_error": 1, "overrun": 1})


class _Rx(enum.Enum, shape=3):
    IDLE = 0
    START = 1
    DATA = 2
    STOP = 3
    BREAK = 4


def _check(component, params, cls):
    """``params`` if it is a ``cls``; else TypeError (and no unused-elaboratable warning for
    the half-made component)."""
    if not isinstance(params, cls):
        discard(component)
        raise TypeError(f"params must be a {cls.__name__}, not {params!r}")
    return params


class UARTTx(wiring.Component):
    """8N1 transmitter: start bit, 8 data bits LSB first, one stop bit, ``divisor`` cycles each.

    Parameters
    ----------
    params : lowbit.golden.link.UARTParams

    Members
    -------
    i : In(stream.Signature(8))
        Bytes to send.
    tx : Out(1, init=1)
        The serial line, registered (no glitches), idle high.
    busy : Out(1)
        A byte is on the line.

    Latency and throughput
    ----------------------
    The start bit begins the cycle after a byte is accepted. ``i.ready`` rises in the last
    cycle of the stop bit, so back-to-back bytes take exactly ``10 * divisor`` cycles each.
    """

    def __init__(self, params):
        self.params = _check(self, params, UARTParams)
        super().__init__({
            "i": In(stream.Signature(8)),
            "tx": Out(1, init=1),
            "busy": Out(1),
        })

    @property
    def divisor(self):
        return self.params.divisor

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        shreg = Signal(9)  # data bits then the stop bit, shifted out after the start bit
        bits = Signal(range(11))  # bits still on the line, the current one included
        cnt = Signal(range(d))
        bit_end = cnt == d - 1
        m.d.comb += [
            self.i.ready.eq((bits == 0) | ((bits == 1) & bit_end)),
            self.busy.eq(bits != 0),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [self.tx.eq(0), shreg.eq(Cat(self.i.payload, 1)), bits.eq(10),
                         cnt.eq(0)]
        with m.Elif(bits != 0):
            with m.If(bit_end):
                m.d.sync += [cnt.eq(0), bits.eq(bits - 1), self.tx.eq(shreg[0]),
                             shreg.eq(Cat(shreg[1:], 1))]
            with m.Else():
                m.d.sync += cnt.eq(cnt + 1)
        return m


class UARTRx(wiring.Component):
    """8N1 receiver: 2-flop synchronizer, start-bit check and mid-bit sampling, framing errors.

    Parameters
    ----------
    params : lowbit.golden.link.UARTParams

    Members
    -------
    rx : In(1, init=1)
        The serial line, asynchronous to the clock.
    o : Out(stream.Signature(RX_LAYOUT))
        Received bytes. A byte that completes while the previous one is still waiting is
        dropped and the next delivered byte carries ``overrun``.
    busy : Out(1)
        Receiving: from a start bit's first low cycle to its stop bit's sample, and after a
        framing error until the line is high again.

    Sampling
    --------
    The synchronizer (``amaranth.lib.cdc.FFSynchronizer``, two flops) delays the line by two
    cycles; the receiver works on that delayed copy, so the delay cancels out. A start bit is
    seen in the first cycle the synchronized line is low, at most one cycle after its edge;
    it is checked low again :attr:`UARTParams.sample_offset` = ``(divisor - 1) // 2`` cycles
    later (else it was a glitch), and every bit is then sampled ``divisor`` cycles after the
    previous one: within half a cycle of each bit's middle plus the one-cycle uncertainty,
    so at the minimum divisor of 4 a sender may be about 2.5% off in either direction.
    After the stop bit's sample the receiver looks for the next start bit at once. A low stop
    bit flags ``framing_error``; the receiver then waits for the line to go high (a break
    gives one byte, not a stream of them).

    Latency
    -------
    ``o.valid`` rises ``sample_offset + 9 * divisor + 1`` cycles after the start bit's first
    low synchronized cycle, half a bit before the stop bit ends.
    """

    def __init__(self, params):
        self.params = _check(self, params, UARTParams)
        super().__init__({
            "rx": In(1, init=1),
            "o": Out(stream.Signature(RX_LAYOUT)),
            "busy": Out(1),
        })

    @property
    def divisor(self):
        return self.params.divisor

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        h = self.params.sample_offset
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1, stages=2)

        cnt = Signal(range(d))
        nbits = Signal(range(8))
        shreg = Signal(8)
        lost = Signal()  # a byte was dropped since the last delivered one
        bit_end = cnt == d - 1

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        def deliver(framing_error):
            with m.If(self.o.valid & ~self.o.ready):
                m.d.sync += lost.eq(1)  # the waiting byte must stay stable: drop this one
            with m.Else():
                m.d.sync += [
                    self.o.valid.eq(1),
                    self.o.payload.data.eq(shreg),
                    self.o.payload.framing_error.eq(framing_error),
                    self.o.payload.overrun.eq(lost),
                    lost.eq(0),
                ]

        # One If per state rather than m.FSM or m.Switch: Amaranth's Verilog then has no case
        # statements, which it would leave incomplete (Verilator's CASEINCOMPLETE, not waived).
        state = Signal(_Rx)
        with m.If(state == _Rx.IDLE):
            with m.If(~line):
                m.d.sync += [cnt.eq(0), state.eq(_Rx.START)]
        with m.If(state == _Rx.START):
            m.d.comb += self.busy.eq(1)
            # This state begins one cycle after the first low cycle, hence h - 1.
            with m.If(cnt == h - 1):
                m.d.sync += [cnt.eq(0), nbits.eq(0)]
                # Still low in the middle of the bit: a start bit; else a glitch.
                with m.If(line):
                    m.d.sync += state.eq(_Rx.IDLE)
                with m.Else():
                    m.d.sync += state.eq(_Rx.DATA)
            with m.Else():
                m.d.sync += cnt.eq(cnt + 1)
        with m.If(state == _Rx.DATA):
            m.d.comb += self.busy.eq(1)
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(bit_end):
                m.d.sync += [cnt.eq(0), shreg.eq(Cat(shreg[1:], line)),
                             nbits.eq(nbits + 1)]
                with m.If(nbits == 7):
                    m.d.sync += state.eq(_Rx.STOP)
        with m.If(state == _Rx.STOP):
            m.d.comb += self.busy.eq(1)
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(bit_end):
                m.d.sync += cnt.eq(0)
                deliver(~line)
                with m.If(line):
                    m.d.sync += state.eq(_Rx.IDLE)
                with m.Else():
                    m.d.sync += state.eq(_Rx.BREAK)
        with m.If(state.as_value() >= _Rx.BREAK.value):  # wait for the line to go high
            m.d.comb += self.busy.eq(1)
            with m.If(line):
                m.d.sync += state.eq(_Rx.IDLE)
        return m
