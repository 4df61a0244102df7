"""An output-stationary systolic array of fixed-point MACs with stochastic rounding (Gupta et
al. 2015: their FPGA prototype is a 28 x 28 array of such MACs on a Kintex-7 at about 166 MHz).
SPEC sections 2 and 9; the golden model is :func:`lowbit.golden.gemm.gemm_golden`."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import delay
from .fifo import FlagFIFO
from .mac import FixedPointMAC

__all__ = ["SystolicArray"]

#: Cycles from a write into the output queue (:class:`~lowbit.hw.fifo.FlagFIFO`, first word
#: fall-through: its storage, then its output register) to the word at its output.
_QUEUE_LATENCY = 2


class SystolicArray(wiring.Component):
    """``rows x cols`` PEs, each a :class:`~lowbit.hw.mac.FixedPointMAC` with its own LFSR
    (seeded :meth:`~lowbit.golden.gemm.SystolicParams.lane_seeds`), computing one output tile
    of ``C = convert(A B)`` per ``K`` beats.

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": rows * WL_a, "b": cols * WL_b,
                                          "first": 1, "last": 1})))
        Beat ``k`` of a tile: column ``k`` of the tile's rows of ``A`` (row ``r`` at bits
        ``r WL_a``) and row ``k`` of the tile's columns of ``B`` (column ``c`` at ``c WL_b``),
        two's complement codes; ``first`` on a tile's first beat, ``last`` on its last.
        Tiles at a matrix's edges are padded with zeros (:func:`lowbit.golden.gemm.
        gemm_golden` says why: every PE converts every tile).
    o : Out(stream.Signature(StructLayout({"value": rows * cols * WL_o,
                                           "overflow": rows * cols})))
        One beat a tile: PE ``(r, c)``'s code at bits ``(r cols + c) WL_o``, its overflow flag
        at bit ``r cols + c``.

    Dataflow and pipeline registers
    -------------------------------
    Row ``r``'s ``A`` element enters through ``r + 1`` registers (the skew), then moves one
    PE to the right a cycle, carrying the beat's ``valid``, ``first`` and ``last``; column
    ``c``'s ``B`` element enters through ``c + 1`` registers and moves one PE down a cycle. So
    every operand a PE reads comes from a register next to it (the array's wires are all
    neighbour to neighbour, which is what lets a systolic array grow without long routes),
    and PE ``(r, c)`` sees beat ``k`` at ``r + c + 1`` cycles after it was accepted. Each PE's
    MAC registers its inputs, product, output and rounding as ``pipeline`` says (the product
    register is the DSP block's own). PE ``(r, c)``'s result goes through ``(rows - 1 - r) +
    (cols - 1 - c)`` registers (the de-skew), so that a tile's results are complete in one
    cycle, and into an output queue of ``out_depth`` tiles.

    Flow control: the array itself never stalls (its PEs' ``o.ready`` are tied high). The
    input takes a beat while fewer than ``out_depth`` tiles whose last beat it took have not
    left through ``o``, so the queue always has room for every result in flight; with
    back-pressure on ``o``, the input waits.

    Throughput: a credit comes back when a result leaves ``o``, so with ``o`` always ready the
    array takes ``out_depth`` tiles every ``latency + K`` cycles: one beat a cycle (a tile
    every ``K`` cycles, ``2 rows cols`` ops a cycle) when ``out_depth >= latency / K + 1``, and
    less for shorter ``K`` (``tests/test_systolic_sim.py`` measures both). The queue is
    ``out_depth + 1`` words of ``rows cols (WL_o + 1)`` bits, which is what a deeper queue
    costs.
    """

    def __init__(self, params):
        self.params = params
        p, mac = params, params.mac
        self._wa, self._wb, self._wo = mac.fmt_a.wl, mac.fmt_b.wl, mac.fmt_o.wl
        self._in_layout = data.StructLayout({
            "a": p.rows * self._wa, "b": p.cols * self._wb, "first": 1, "last": 1})
        self._out_layout = data.StructLayout({"value": p.lanes * self._wo,
                                              "overflow": p.lanes})
        super().__init__({"i": In(stream.Signature(self._in_layout)),
                          "o": Out(stream.Signature(self._out_layout))})
        self._pes = [[FixedPointMAC(p.pe(r, c)) for c in range(p.cols)]
                     for r in range(p.rows)]

    @property
    def mac_latency(self):
        return self._pes[0][0].latency

    @property
    def latency(self):
        """Cycles from accepting a tile's last beat to its result at ``o`` (no back-pressure):
        the skew to the far corner, the MAC, the queue."""
        p = self.params
        return p.rows + p.cols - 1 + self.mac_latency + _QUEUE_LATENCY

    @property
    def widths(self):
        p = self.params
        return {"a": self._wa, "b": self._wb, "value": self._wo, "rows": p.rows,
                "cols": p.cols, "mac_latency": self.mac_latency}

    def elaborate(self, platform):
        p = self.params
        m = Module()
        R, C = p.rows, p.cols

        # Flow control: tiles taken (their last beat) and not yet out.
        outstanding = Signal(range(p.out_depth + 1))
        take = Signal()
        m.d.comb += [self.i.ready.eq(outstanding < p.out_depth),
                     take.eq(self.i.valid & self.i.ready)]
        took_last = take & self.i.payload.last
        gave = self.o.valid & self.o.ready
        with m.If(took_last & ~gave):
            m.d.sync += outstanding.eq(outstanding + 1)
        with m.Elif(gave & ~took_last):
            m.d.sync += outstanding.eq(outstanding - 1)

        one = Signal(init=1)  # the array's registers always advance
        # Row r's edge: its A element with the beat's flags, through r + 1 registers.
        row_in = []
        for r in range(R):
            beat = Cat(self.i.payload.a[r * self._wa:(r + 1) * self._wa], take,
                       self.i.payload.first, self.i.payload.last)
            row_in.append(delay(m, one, beat, r + 1, name=f"skew_a{r}",
                                reset_less=False))
        col_in = [delay(m, one, self.i.payload.b[c * self._wb:(c + 1) * self._wb], c + 1,
                        name=f"skew_b{c}") for c in range(C)]

        values, flags, corner_valid = [], [], None
        for r in range(R):
            right = []
            for c in range(C):
                a_beat = row_in[r] if c == 0 else right[c - 1]
                b_in = col_in[c]
                pe = m.submodules[f"pe{r}_{c}"] = self._pes[r][c]
                a = a_beat[:self._wa]
                valid, first, last = a_beat[self._wa], a_beat[self._wa + 1], a_beat[-1]
                m.d.comb += [pe.i.valid.eq(valid), pe.i.payload.a.eq(a.as_signed()),
                             pe.i.payload.b.eq(b_in.as_signed()),
                             pe.i.payload.first.eq(first), pe.i.payload.last.eq(last),
                             pe.o.ready.eq(1)]
                # To the neighbours: A (with the flags) right, B down.
                right.append(delay(m, one, a_beat, 1, name=f"a{r}_{c}", reset_less=False))
                col_in[c] = delay(m, one, b_in, 1, name=f"b{r}_{c}")
                # The de-skew: every result of a tile in the same cycle.
                lag = (R - 1 - r) + (C - 1 - c)
                out = delay(m, one, Cat(pe.o.payload.value, pe.o.payload.overflow), lag,
                            name=f"res{r}_{c}")
                values.append(out[:self._wo])
                flags.append(out[self._wo])
                if r == R - 1 and c == C - 1:
                    corner_valid = pe.o.valid

        # One word more than the credits: a word written into a full storage while the output
        # register is empty would be refused (its flag is a register, the move to the output
        # register takes a cycle); at most out_depth tiles are ever in it.
        queue = m.submodules.queue = FlagFIFO(width=p.lanes * (self._wo + 1),
                                              depth=p.out_depth + 1)
        m.d.comb += [queue.w_en.eq(corner_valid),
                     queue.w_data.eq(Cat(Cat(*values), Cat(*flags))),
                     self.o.valid.eq(queue.r_rdy),
                     self.o.payload.eq(queue.r_data),
                     queue.r_en.eq(self.o.ready)]
        return m
