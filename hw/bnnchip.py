"""A binarized network on chip: a chain of ``bmvu`` layers, weights resident (FINN's dataflow;
Umuroglu et al., FPGA 2017), an image's bits in and its class out."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import delay
from .bmvu import BinaryMVU

__all__ = ["BNNChip"]


class _Gearbox(wiring.Component):
    """One layer's activations (``lanes`` bits a beat, ``beats`` beats a vector, the first
    ``rows`` bits valid) to the next layer's chunks (``simd`` bits, ``chunks`` of them).

    Two vector registers: the collector shifts each beat in at the top (after ``beats`` beats
    beat 0 is at the bottom); when the emitter is empty the vector moves across in one cycle,
    padding lanes dropped, and leaves a chunk a beat through a multiplexer on the chunk
    counter. So the next vector collects while this one leaves. ``o.ready`` reaches only the
    counter and ``o.valid``, never the vector registers' enables (with a shifting emitter
    loaded on its last chunk, ``o.ready`` into its 256 enables was the critical path on the
    UP5K, 27.4 ns, 19.8 of it routing, at the digits network's sizes); the price is a cycle
    between vectors, which only a layer of one neuron fold can see (:attr:`BNNChipParams.
    cycles_per_image` counts it). ``i.ready`` is the collector's ``~full``, a register."""

    def __init__(self, lanes, beats, rows, simd, chunks):
        self.lanes, self.beats, self.rows, self.simd, self.chunks = (lanes, beats, rows, simd,
                                                                     chunks)
        super().__init__({"i": In(stream.Signature(lanes)), "o": Out(stream.Signature(simd))})

    def elaborate(self, platform):
        m = Module()
        a = Signal(self.lanes * self.beats)
        a_full = Signal()
        beat = Signal(range(self.beats))
        m.d.comb += self.i.ready.eq(~a_full)
        with m.If(self.i.valid & ~a_full):
            m.d.sync += a.eq(Cat(a[self.lanes:], self.i.payload))
            m.d.sync += beat.eq(Mux(beat == self.beats - 1, 0, beat + 1))
            with m.If(beat == self.beats - 1):
                m.d.sync += a_full.eq(1)

        b = Signal(self.simd * self.chunks)
        chunk = Signal(range(self.chunks))
        m.d.comb += self.o.payload.eq(b.word_select(chunk, self.simd))
        with m.If(a_full & ~self.o.valid):
            m.d.sync += [b.eq(a[:self.rows]), chunk.eq(0), self.o.valid.eq(1), a_full.eq(0)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += chunk.eq(chunk + 1)
            with m.If(chunk == self.chunks - 1):
                m.d.sync += [self.o.valid.eq(0), chunk.eq(0)]
        return m


class _Argmax(wiring.Component):
    """The class of each vector: the lowest index of the largest of ``rows`` scores that
    arrive ``lanes`` a beat over ``beats`` beats (lanes past ``rows`` in the last beat are
    ignored).

    Pipeline registers: the input beat (with its fold number's lane indices and validity),
    two registers a level of the pairwise tree over the beat's lanes (the compare, whose
    right, higher-index candidate wins only when strictly larger, then the choice), then the
    running best across the beats (its compare, then its choice with the output register).
    Every stage advances on ``ce = ~o.valid | o.ready``; ``i.ready`` is ``ce`` except in the
    cycle after a beat, so it takes a beat at most every other cycle."""

    def __init__(self, lanes, beats, rows, width):
        self.lanes, self.beats, self.rows, self.width = lanes, beats, rows, width
        self.index_width = max(1, (rows - 1).bit_length())
        super().__init__({
            "i": In(stream.Signature(data.StructLayout(
                {f"lane{j}": signed(width) for j in range(lanes)}))),
            "o": Out(stream.Signature(data.StructLayout(
                {"cls": unsigned(self.index_width)}))),
        })

    @property
    def latency(self):
        return 1 + 2 * (self.lanes - 1).bit_length() + 2

    def elaborate(self, platform):
        m = Module()
        ce = Signal()
        # A beat at most every other cycle (`gap`: one was taken the cycle before), so that
        # the running best below has two cycles a beat: a compare, then the choice.
        gap = Signal()
        m.d.comb += [ce.eq(~self.o.valid | self.o.ready), self.i.ready.eq(ce & ~gap)]
        fire = self.i.valid & self.i.ready
        with m.If(ce):
            m.d.sync += gap.eq(fire)
        fold = Signal(range(self.beats))
        with m.If(fire):
            m.d.sync += fold.eq(Mux(fold == self.beats - 1, 0, fold + 1))

        def reg(values, name, cycles=1, reset_less=True):
            return [delay(m, ce, v, cycles, name=f"{name}{n}", reset_less=reset_less)
                    for n, v in enumerate(values)]

        # Stage 0: the beat's lanes with their indices and validity.
        level = [reg([fire & (fold * self.lanes + j < self.rows),
                      self.i.payload[f"lane{j}"], (fold * self.lanes + j)[:self.index_width]],
                     f"in{j}_") for j in range(self.lanes)]
        valid, first, final = reg([fire, fold == 0, fold == self.beats - 1], "c0_",
                                  reset_less=False)
        # The tree, two registers a level: the pair and which of them wins (the compare),
        # then the winner (the multiplexer). With both in one stage the first level's
        # compare and choice was the chip's critical path on the ECP5-85F (123.99 MHz,
        # 8.06 ns; bench/bnn-synth).
        depth = 0
        while len(level) > 1:
            depth += 1
            nxt = []
            for k in range(0, len(level), 2):
                if k + 1 == len(level):
                    nxt.append(reg(level[k], f"t{depth}_{k}_", cycles=2))
                    continue
                (lv, ls, li), (rv, rs, ri) = level[k], level[k + 1]
                hlv, hls, hli, hrv, hrs, hri, right = reg(
                    [lv, ls, li, rv, rs, ri, rv & (~lv | (rs > ls))], f"t{depth}_{k}a")
                nxt.append(reg([hlv | hrv, Mux(right, hrs, hls), Mux(right, hri, hli)],
                               f"t{depth}_{k}b"))
            level = nxt
            valid, first, final = reg([valid, first, final], f"c{depth}_", cycles=2,
                                      reset_less=False)
        bv, bs, bi = level[0]
        # The running best over the vector's beats: the beat's winner and whether it beats
        # the best so far (`take`, a register: the compare), then the best's update and the
        # output register (the choice). Beats come at most every other cycle, so the best a
        # beat is compared with already holds the beat before. (With the compare and the
        # choice in one cycle this loop into the output register was the chip's critical
        # path: 122.87 MHz on the ECP5-85F, 41.06 on the UP5K.)
        best_s = Signal(signed(self.width))
        best_i = Signal(self.index_width)
        y_s, y_i, take = reg([bs, bi, bv & (first | (bs > best_s))], "best_in")
        y_valid, y_final = reg([valid, final], "best_in_c", reset_less=False)
        new_i = Mux(take, y_i, best_i)
        with m.If(ce & y_valid):
            m.d.sync += [best_s.eq(Mux(take, y_s, best_s)), best_i.eq(new_i)]
        with m.If(ce):
            m.d.sync += [self.o.valid.eq(y_valid & y_final), self.o.payload.cls.eq(new_i)]
        return m


class BNNChip(wiring.Component):
    """A binarized network on chip: layer ``k`` is a :class:`~lowbit.hw.bmvu.BinaryMVU` with
    the network's weights and thresholds generated into its memories (read only at run
    time), a :class:`_Gearbox` between layers, and an argmax at the end.

    Parameters
    ----------
    params : lowbit.golden.bnnchip.BNNChipParams

    Members
    -------
    i : In(stream.Signature(simd[0]))
        An image as ``ceil(inputs / simd[0])`` chunks, input ``s * simd + j`` at bit ``j`` of
        chunk ``s`` (bit 1 = +1); the first layer masks the bits past ``inputs``.
    o : Out(stream.Signature(...))
        ``output=class``: one beat an image, field ``cls``; ``output=scores``: the last
        layer's dot products, ``lane0..`` (signed), one beat a neuron fold.

    Pipeline and throughput
    -----------------------
    Each layer is the bmvu with all its registers (registered memory reads, popcount tree,
    accumulators, output register and skid); the gearboxes and the argmax register every
    output (above). The layers run concurrently on consecutive images: the chain takes an
    image every :attr:`~lowbit.golden.bnnchip.BNNChipParams.cycles_per_image` cycles (the
    slowest layer's ``nf x sf``) once full. FINN balances its layers the same way (Umuroglu
    et al. 2017: the folding of each layer chosen so their cycles an image match).
    """

    def __init__(self, params):
        self.params = params
        p = params
        last = p.layer_params[-1]
        if p.output == "class":
            out = data.StructLayout({"cls": unsigned(p.class_width)})
        else:
            out = data.StructLayout({f"lane{j}": signed(last.acc_width) for j in range(last.pe)})
        super().__init__({"i": In(stream.Signature(p.layer_params[0].simd)),
                          "o": Out(stream.Signature(out))})

    @property
    def widths(self):
        p = self.params
        return {"layers": len(p.layer_params), "cycles_per_image": p.cycles_per_image,
                "beats_per_image": p.beats_per_image, "class": p.class_width,
                "fold": [[q.pe, q.simd, q.nf, q.sf] for q in p.layer_params]}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        units = []
        for k, (q, layer) in enumerate(zip(p.layer_params, p.layers)):
            u = BinaryMVU(q, weights=layer.weights, thresholds=layer.thresholds,
                          invert=layer.invert)
            m.submodules[f"layer{k}"] = u
            # Read-only weights: the write ports are tied off (Yosys drops them).
            m.d.comb += u.w_en.eq(0)
            if q.thresholds:
                m.d.comb += u.t_en.eq(0)
            units.append(u)
        m.d.comb += [units[0].i.payload.eq(self.i.payload), units[0].i.valid.eq(self.i.valid),
                     self.i.ready.eq(units[0].i.ready)]
        for k in range(len(units) - 1):
            q, nxt = p.layer_params[k], p.layer_params[k + 1]
            gb = _Gearbox(q.pe, q.nf, q.rows, nxt.simd, nxt.sf)
            m.submodules[f"gear{k}"] = gb
            m.d.comb += [gb.i.payload.eq(units[k].o.payload.as_value()),
                         gb.i.valid.eq(units[k].o.valid), units[k].o.ready.eq(gb.i.ready)]
            wiring.connect(m, gb.o, units[k + 1].i)
        tail = units[-1]
        if p.output == "scores":
            m.d.comb += [self.o.payload.eq(tail.o.payload), self.o.valid.eq(tail.o.valid),
                         tail.o.ready.eq(self.o.ready)]
            return m
        last = p.layer_params[-1]
        am = _Argmax(last.pe, last.nf, last.rows, last.acc_width)
        m.submodules.argmax = am
        m.d.comb += [am.i.payload.as_value().eq(tail.o.payload.as_value()),
                     am.i.valid.eq(tail.o.valid), tail.o.ready.eq(am.i.ready)]
        wiring.connect(m, am.o, wiring.flipped(self.o))
        return m

