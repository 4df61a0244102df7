"""Popcount and XNOR-popcount (BinaryNet / XNOR-Net / FINN, SPEC section 4)."""

from amaranth.hdl import Cat, Const, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.binary import acc_width, count_width
from .arith import delay

__all__ = ["popcount_tree", "tree_latency", "Popcount", "XnorPopcount"]


def _levels(n):
    """Adder-tree levels for n bits: one 3:2 level (full adders), then pairwise adds."""
    groups = -(-n // 3)
    levels = 1
    while groups > 1:
        groups = -(-groups // 2)
        levels += 1
    return levels


def tree_latency(n, spacing):
    """Register stages in :func:`popcount_tree` for ``n`` bits and ``spacing``."""
    if n <= 1 or spacing == 0:
        return 0
    return _levels(n) // spacing


def popcount_tree(m, ce, bits, spacing, *, name="pc"):
    """Number of ones in ``bits``: full adders (3 bits -> 2) then a balanced adder tree.

    A register stage (advancing under ``ce``) follows every ``spacing`` levels, none if
    ``spacing`` is 0. Each partial sum is exactly as wide as its largest value. Returns the
    count, ``count_width(len(bits))`` bits wide, after :func:`tree_latency` cycles.
    """
    n = len(bits)
    width = count_width(n)
    if n == 1:
        return bits, 0
    # (value, largest value it can take)
    parts = [(sum((bits[j] for j in range(i, min(i + 3, n))), Const(0, 1)),
              min(3, n - i)) for i in range(0, n, 3)]
    level, stages = 1, 0

    def fit(value, top):
        # `keep`: otherwise Yosys (alumacc) merges every unregistered run of adds into one
        # $macc and rebuilds its own tree; measured on iCE40 N=256, spacing 0: 503 -> ~420 LUT.
        sig = Signal(count_width(top), name=f"{name}_l{level}", attrs={"keep": 1})
        m.d.comb += sig.eq(value)
        return sig

    parts = [(fit(v, t), t) for v, t in parts]
    while True:
        if spacing and level % spacing == 0:
            parts = [(delay(m, ce, v, 1, name=f"{name}_q{level}"), t) for v, t in parts]
            stages += 1
        if len(parts) == 1:
            break
        level += 1
        nxt = []
        for i in range(0, len(parts), 2):
            if i + 1 < len(parts):
                (a, ta), (b, tb) = parts[i], parts[i + 1]
                nxt.append((fit(a + b, ta + tb), ta + tb))
            else:
                nxt.append(parts[i])
        parts = nxt
    count = Signal(width, name=f"{name}_count")
    m.d.comb += count.eq(parts[0][0])
    assert stages == tree_latency(n, spacing)
    return count, stages


def _plain_sum(m, bits):
    """The baseline: the bits summed one after another, for Yosys to map on its own.

    Each running sum is a signal, so Amaranth never builds an expression ``n`` levels deep
    (at n = 1024 that overflows Python's recursion limit); Yosys sees the same add chain.
    """
    total = Const(0, 1)
    for j in range(len(bits)):
        nxt = Signal(count_width(j + 1), name=f"sum{j}")
        m.d.comb += nxt.eq(total + bits[j])
        total = nxt
    return total


class Popcount(wiring.Component):
    """Count the ones of an ``n``-bit word, one word per cycle.

    Parameters
    ----------
    params : lowbit.golden.binary.PopcountParams

    Members
    -------
    i : In(stream.Signature(n))
        Words.
    o : Out(stream.Signature(count_width(n)))
        Their popcounts, :attr:`latency` cycles later. Back-pressure stalls the pipeline.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "i": In(stream.Signature(params.n)),
            "o": Out(stream.Signature(count_width(params.n))),
        })

    @property
    def latency(self):
        p = self.params
        return 0 if p.style == "plain" else tree_latency(p.n, p.spacing)

    @property
    def widths(self):
        return {"n": self.params.n, "count": count_width(self.params.n)}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        ce = Signal()
        m.d.comb += [ce.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(ce)]
        if p.style == "plain":
            count, stages = _plain_sum(m, self.i.payload), 0
        else:
            count, stages = popcount_tree(m, ce, self.i.payload, p.spacing)
        m.d.comb += [
            self.o.payload.eq(count),
            self.o.valid.eq(delay(m, ce, self.i.valid, stages, name="valid",
                                  reset_less=False)),
        ]
        return m


class XnorPopcount(wiring.Component):
    """Binary (±1) dot products of vectors that arrive ``n`` bits per cycle.

    Parameters
    ----------
    params : lowbit.golden.binary.XnorParams

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": n, "w": n, "length": count_width(n),
                                          "first": 1, "last": 1})))
        Chunks of activations ``a`` and weights ``w``; ``length`` says how many low bits of
        this chunk are valid (n for a full chunk: the mask of the last partial chunk).
    o : Out(stream.Signature(StructLayout({"dot": signed(acc_width(max_length))})))
        ``2 * popcount(~(a ^ w) & mask) - valid bits``, summed over ``first`` .. ``last``.

    Pipeline registers: with ``io_registers >= 1`` the masked XNOR is registered before the
    tree (on the UP5K the length mask's comparators, the XNOR and the tree's first two levels
    in one cycle held the unit at 40 MHz); the tree has a register every ``spacing`` levels;
    the accumulator is a register; with ``io_registers = 2`` so is the dot product formed from
    it, so the output leaves a flip-flop.
    """

    def __init__(self, params):
        self.params = params
        n = params.n
        self._in = data.StructLayout({"a": n, "w": n, "length": count_width(n),
                                      "first": 1, "last": 1})
        self._out = data.StructLayout({"dot": signed(acc_width(params.max_length))})
        super().__init__({
            "i": In(stream.Signature(self._in)),
            "o": Out(stream.Signature(self._out)),
        })

    @property
    def latency(self):
        return tree_latency(self.params.n, self.params.spacing) + 1 + self.params.io_registers

    @property
    def widths(self):
        p = self.params
        return {"n": p.n, "count": count_width(p.n), "dot": acc_width(p.max_length)}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        ce = Signal()
        m.d.comb += [ce.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(ce)]
        pl = self.i.payload
        mask = Cat(*(Const(j, count_width(p.n)) < pl.length for j in range(p.n)))
        agree = Signal(p.n)
        m.d.comb += agree.eq(~(pl.a ^ pl.w) & mask)
        ins = int(p.io_registers >= 1)
        pc, lat = popcount_tree(m, ce, delay(m, ce, agree, ins, name="agree"), p.spacing)
        lat += ins
        valid = delay(m, ce, self.i.valid, lat, name="valid", reset_less=False)
        first = delay(m, ce, pl.first, lat, name="first")
        last = delay(m, ce, pl.last, lat, name="last")
        length = delay(m, ce, pl.length, lat, name="length")

        # Matches and valid bits accumulate separately; the dot is formed once per result.
        cw = count_width(p.max_length)
        matches, total, done = Signal(cw), Signal(cw), Signal()
        with m.If(ce):
            m.d.sync += done.eq(valid & last)
            with m.If(valid):
                with m.If(first):
                    m.d.sync += [matches.eq(pc), total.eq(length)]
                with m.Else():
                    m.d.sync += [matches.eq(matches + pc), total.eq(total + length)]
        dot = Signal(signed(acc_width(p.max_length)))
        m.d.comb += dot.eq((matches << 1) - total)
        outs = int(p.io_registers >= 2)
        m.d.comb += [
            self.o.valid.eq(delay(m, ce, done, outs, name="done_q", reset_less=False)),
            self.o.payload.dot.eq(delay(m, ce, dot, outs, name="dot_q")),
        ]
        return m
