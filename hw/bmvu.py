"""FINN-class binary matrix-vector-threshold unit (Umuroglu et al., FPGA 2017; SPEC section 4)."""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.binary import bmvu_images, count_width
from .arith import delay
from .popcount import popcount_tree, tree_latency
from .ram import NO_RW_CHECK, READ_LATENCY, registered_read
from .skid import skid_output

__all__ = ["BinaryMVU"]


class BinaryMVU(wiring.Component):
    """PE neurons x SIMD input bits per cycle, weights and thresholds in on-chip memories.

    A vector of ``cols`` bits arrives as ``sf = ceil(cols/simd)`` chunks; the unit keeps it in
    an input buffer and runs ``nf = ceil(rows/pe)`` neuron folds over it, one chunk per cycle:
    ``nf * sf`` cycles a vector, one output beat (``pe`` lanes) per fold. Columns past
    ``cols`` in the last chunk are masked; lanes past ``rows`` in the last fold are
    don't-care.

    Parameters
    ----------
    params : lowbit.golden.binary.BMVUParams
    weights, thresholds, invert : arrays, optional
        The memories' contents at configuration (weights (rows, cols) bits, and with
        thresholds (rows, k) and invert (rows,)), so the unit works without loading them
        (the layers of :class:`lowbit.hw.bnnchip.BNNChip`); the write ports still replace
        them.

    Members
    -------
    i : In(stream.Signature(simd))
        Input chunks, element ``j`` of chunk ``s`` is column ``s * simd + j`` (bit 1 = +1).
    o : Out(stream.Signature(StructLayout({"lane0": ..., "lane<pe-1>": ...})))
        Per fold, each lane's dot product (``thresholds = 0``, signed) or the number of
        thresholds it meets.
    w_addr, w_data, w_en : In
        Weight memory write port: word ``nf * sf + s`` holds chunk ``s`` of the rows of fold
        ``nf``, lane ``p`` in bits ``[p*simd, (p+1)*simd)``
        (:func:`lowbit.golden.binary.bmvu_images` builds the image).
    t_addr, t_data, t_en : In
        Threshold memory write port (``thresholds > 0``): word ``nf`` holds, per lane, ``k``
        thresholds of ``threshold_width`` bits then one invert bit.

    Latency and throughput
    ----------------------
    One chunk per cycle; a fold's result appears :attr:`latency` cycles after its last chunk
    is processed (the weight read, the popcount tree, the accumulator).

    Pipeline registers: every memory is read through :func:`lowbit.hw.ram.registered_read`
    (the read port's register, then a read-data register; :data:`~lowbit.hw.ram.READ_LATENCY`
    cycles), so the XNOR and the first popcount level start from a register, not from a block
    RAM's data output. On ECP5 the read-data register of the weight memory becomes the
    DP16KD's output register (:mod:`lowbit.boards.outreg`): its clock-to-data is 0.9 ns
    instead of 5.5 ns (Trellis timing database, speed 6), which was this unit's critical path
    (80.7-88.2 MHz at 256 x 512, PE 32, SIMD 64 on the ECP5-85F). Then the popcount tree
    (registers every ``spacing`` levels), the accumulator registers (the dot product itself,
    and with thresholds its negation) and the threshold memory read in step with them, then
    an output register after the threshold comparisons (with one threshold a lane and a
    popcount register, the threshold arrives a cycle before the fold's first count and
    starts the accumulators, which then hold ``dot - t`` and ``-dot - t``: the output is a
    sign bit, no compare; :meth:`_folded`), and a skid register on ``o``
    (:func:`lowbit.hw.skid.skid_output`): the pipeline's enable is a register, one copy for
    the control and one per lane, which ``o.ready`` does not reach. The dot's subtraction
    between the accumulator and the output register was the next critical path (124.2 MHz;
    132.1 with the output register), so the accumulators hold the dot itself. The memories
    are built with ``no_rw_check``: the weights and thresholds are loaded between vectors,
    never while the unit reads them.
    """

    def __init__(self, params, *, weights=None, thresholds=None, invert=None):
        self.params = params
        p = params
        self._init = (bmvu_images(p, weights, thresholds, invert) if weights is not None
                      else ([], []))
        lane = signed(p.acc_width) if p.thresholds == 0 else count_width(p.thresholds)
        self._out = data.StructLayout({f"lane{j}": lane for j in range(p.pe)})
        ports = {
            "i": In(stream.Signature(p.simd)),
            "o": Out(stream.Signature(self._out)),
            "w_addr": In(max(1, (p.nf * p.sf - 1).bit_length())),
            "w_data": In(p.pe * p.simd),
            "w_en": In(1),
        }
        if p.thresholds:
            ports.update({
                "t_addr": In(max(1, (p.nf - 1).bit_length())),
                "t_data": In(p.pe * self.threshold_lane_width),
                "t_en": In(1),
            })
        super().__init__(ports)

    @property
    def threshold_lane_width(self):
        p = self.params
        return p.thresholds * p.threshold_width + 1

    @property
    def latency(self):
        return tree_latency(self.params.simd, self.params.spacing) + READ_LATENCY + 2

    @property
    def widths(self):
        p = self.params
        return {"nf": p.nf, "sf": p.sf, "cycles_per_vector": p.cycles_per_vector,
                "acc": p.acc_width, "threshold": p.threshold_width, "lane": p.out_width}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        # The pipeline's enable: registers behind a skid register on o (hw.skid), one kept copy
        # for the control and the memories and one for each lane's popcount tree and
        # accumulators, so o.ready reaches none of the pipeline's registers. (As the LUT
        # o.ready | ~o.valid, from the harness's o.ready through the fold counters it was the
        # critical path, 5.62 ns at the board default with spacing 1 on the ECP5-85F.)
        ce = Signal()
        ce_pe = [Signal(name=f"ce_pe{j}") for j in range(p.pe)]

        m.submodules.wmem = wmem = memory.Memory(shape=p.pe * p.simd, depth=p.nf * p.sf,
                                                 init=self._init[0], attrs=NO_RW_CHECK)
        # The chunk buffer is written in fold 0, when its read data is not used.
        m.submodules.xbuf = xbuf = memory.Memory(shape=p.simd, depth=p.sf, init=[],
                                                 attrs=NO_RW_CHECK)
        wr = wmem.write_port()
        m.d.comb += [wr.addr.eq(self.w_addr), wr.data.eq(self.w_data), wr.en.eq(self.w_en)]

        # Stage A: fold counters; a step fires when its chunk is available.
        nf = Signal(range(p.nf))
        sf = Signal(range(p.sf))
        waddr = Signal(range(p.nf * p.sf))
        # Fold 0 takes chunks from the stream, later folds from the buffer. `fresh` (nf == 0)
        # is a register of its own, set with nf's next value: it steers the stream's ready
        # and the chunk buffer's write enable, and decoded from nf it was the critical path
        # (155.5 MHz at the board default on the ECP5-85F, into the LUT RAM's write enable).
        fresh = Signal(init=1)
        fire = Signal()
        m.d.comb += [fire.eq(ce & (~fresh | self.i.valid)), self.i.ready.eq(ce & fresh)]
        with m.If(fire):
            m.d.sync += [sf.eq(Mux(sf == p.sf - 1, 0, sf + 1)),
                         waddr.eq(Mux(waddr == p.nf * p.sf - 1, 0, waddr + 1))]
            with m.If(sf == p.sf - 1):
                m.d.sync += [nf.eq(Mux(nf == p.nf - 1, 0, nf + 1)), fresh.eq(nf == p.nf - 1)]

        xw = xbuf.write_port()
        m.d.comb += [xw.addr.eq(sf), xw.data.eq(self.i.payload), xw.en.eq(fire & fresh)]
        x_buf = registered_read(m, xbuf, sf, ce, name="x")
        w_row = registered_read(m, wmem, waddr, ce, name="w")

        # Stage B, READ_LATENCY cycles on: weights and the chunk (this cycle's input, or the
        # buffered copy).
        def reg(value, name, reset_less=True):
            return delay(m, ce, value, READ_LATENCY, name=name, reset_less=reset_less)

        v_b = reg(fire, "valid_b", reset_less=False)
        fresh_b = reg(fresh, "fresh_b")
        first_b = reg(sf == 0, "first_b")
        last_b = reg(sf == p.sf - 1, "last_b")
        x_in = reg(self.i.payload, "x_in")
        x = Signal(p.simd)
        m.d.comb += x.eq(Mux(fresh_b, x_in, x_buf))
        tail = p.cols - (p.sf - 1) * p.simd  # valid columns of the last chunk
        mask = Mux(last_b, Const((1 << tail) - 1, p.simd), Const((1 << p.simd) - 1, p.simd))

        counts = []
        for j in range(p.pe):
            agree = Signal(p.simd, name=f"agree{j}")
            m.d.comb += agree.eq(~(x ^ w_row[j * p.simd:(j + 1) * p.simd]) & mask)
            count, lat = popcount_tree(m, ce_pe[j], agree, p.spacing, name=f"pe{j}")
            counts.append(count)
        v_c = delay(m, ce, v_b, lat, name="valid_c", reset_less=False)
        first_c = delay(m, ce, first_b, lat, name="first_c")
        last_c = delay(m, ce, last_b, lat, name="last_c")
        # One threshold a lane with a popcount register to spare (`folded`): the threshold goes
        # into the accumulators' start, which then hold dot - t and -dot - t, and the output
        # is a sign bit (below). Else the fold number READ_LATENCY cycles ahead of `done`, for
        # the threshold read and the compares after the accumulators.
        folded = p.thresholds == 1 and lat >= 1
        nf_t = delay(m, ce, nf, lat - 1 if folded else lat + 1, name="nf_t")

        # Stage C: per-lane accumulators of the dot product itself (``-cols`` plus twice
        # each chunk's count), so the output stage has no adder of its own after them: with
        # a match count and ``2 * matches - cols`` after it, that subtraction was this unit's
        # critical path (132.1 MHz at the board default, 112.2 at 256 x 512, ECP5-85F,
        # bench/unit-timing). With thresholds, a second accumulator holds ``-dot`` for the
        # lanes whose invert bit is set, so their compare has no negation in front either.
        lanes = self._output(m, ce, ce_pe, v_c & last_c)
        if folded:
            return self._folded(m, ce, ce_pe, counts, v_c, first_c, lanes, nf_t)
        dots = [Signal(signed(p.acc_width), name=f"dot{j}") for j in range(p.pe)]
        negs = ([Signal(signed(p.acc_width), name=f"neg{j}") for j in range(p.pe)]
                if p.thresholds else [])
        for j in range(p.pe):
            with m.If(ce_pe[j] & v_c):
                m.d.sync += dots[j].eq(Mux(first_c, -p.cols, dots[j]) + (counts[j] << 1))
                if negs:
                    m.d.sync += negs[j].eq(Mux(first_c, p.cols, negs[j]) - (counts[j] << 1))

        if p.thresholds == 0:
            for j in range(p.pe):
                m.d.comb += getattr(lanes, f"lane{j}").eq(dots[j])
            return m

        # Thresholds: read with the fold number READ_LATENCY cycles ahead of `done`.
        t_row = self._threshold_memory(m, nf_t, ce)
        lw, tbits = self.threshold_lane_width, p.threshold_width
        for j in range(p.pe):
            word = t_row[j * lw:(j + 1) * lw]
            invert = word[-1]
            # Both compares, then the choice: the invert bit meets a multiplexer after the
            # carry chains, not one in front of them (with s = invert ? -dot : dot compared,
            # the threshold read through the choice and the compare to the output register
            # was the critical path, 192.5 MHz at the board default on the ECP5-85F).
            met = [Mux(invert, negs[j] >= t, dots[j] >= t)
                   for t in (word[i * tbits:(i + 1) * tbits].as_signed()
                             for i in range(p.thresholds))]
            m.d.comb += getattr(lanes, f"lane{j}").eq(sum(met[1:], met[0]))
        return m

    def _threshold_memory(self, m, nf_t, ce):
        """The threshold memory (written through ``t_*``), read through a registered read at
        ``nf_t``: its row, READ_LATENCY cycles later."""
        p = self.params
        m.submodules.tmem = tmem = memory.Memory(shape=p.pe * self.threshold_lane_width,
                                                 depth=p.nf, init=self._init[1],
                                                 attrs=NO_RW_CHECK)
        tw = tmem.write_port()
        m.d.comb += [tw.addr.eq(self.t_addr), tw.data.eq(self.t_data), tw.en.eq(self.t_en)]
        return registered_read(m, tmem, nf_t, ce, name="t")

    def _output(self, m, ce, ce_pe, last):
        """The output register and the skid on ``o``, fed a cycle after ``last`` (the fold's
        last count at stage C) from the lanes returned, which the caller drives from its
        accumulators (and thresholds); the pipeline's enables ``ce``, ``ce_pe`` come from
        the skid's registers."""
        p = self.params
        done = Signal()
        with m.If(ce):
            m.d.sync += done.eq(last)
        lanes = Signal(self._out)
        out_valid = delay(m, ce, done, 1, name="done_q", reset_less=False)
        (ce_r, *ce_pe_r), _ = skid_output(
            m, self.o, out_valid, done,
            [(delay(m, ce, lanes.as_value(), 1, name="lanes_q"), self.o.payload.as_value())],
            copies=("bmvu_ce", *(f"bmvu_ce_pe{j}" for j in range(p.pe))), name="o")
        m.d.comb += [ce.eq(ce_r), *(a.eq(b) for a, b in zip(ce_pe, ce_pe_r))]
        return lanes

    def _folded(self, m, ce, ce_pe, counts, v_c, first_c, lanes, nf_t):
        """Stage C and the output with one threshold a lane, folded into the accumulators.

        The threshold row arrives a cycle before the fold's first count (``nf_t`` is read
        ``lat - 1`` cycles after stage A), so each lane's starting values ``-cols - t`` and
        ``cols - t`` are registers when the fold starts, and so is its invert bit. The
        accumulators then hold ``dot - t`` and ``-dot - t``, and ``dot >= t`` (or ``-dot >=
        t`` for an inverted lane) is a sign bit: between the accumulators and the output
        register one multiplexer, where the compares' carry chains were (an inverted lane's
        accumulator through its compare into the output register was the critical path at
        256 x 512, PE 32 x SIMD 64 on the ECP5-85F, 6.78 ns, 147.5 MHz; bench/unit-timing).
        Latency and results are those of the compares."""
        p = self.params
        t_row = self._threshold_memory(m, nf_t, ce)
        lw, tbits = self.threshold_lane_width, p.threshold_width
        width = max(p.acc_width, tbits) + 2  # dot - t, with dot and t each in range
        for j in range(p.pe):
            word = t_row[j * lw:(j + 1) * lw]
            t = word[:tbits].as_signed()
            start_d = delay(m, ce_pe[j], (-p.cols - t).as_signed(), 1, name=f"start_d{j}")
            start_n = delay(m, ce_pe[j], (p.cols - t).as_signed(), 1, name=f"start_n{j}")
            inv_next = delay(m, ce_pe[j], word[-1], 1, name=f"inv_next{j}")
            inv = Signal(name=f"inv{j}")
            d = Signal(signed(width), name=f"dot_t{j}")  # dot - t
            n = Signal(signed(width), name=f"neg_t{j}")  # -dot - t
            with m.If(ce_pe[j] & v_c):
                m.d.sync += [d.eq(Mux(first_c, start_d, d) + (counts[j] << 1)),
                             n.eq(Mux(first_c, start_n, n) - (counts[j] << 1))]
                with m.If(first_c):
                    m.d.sync += inv.eq(inv_next)
            m.d.comb += getattr(lanes, f"lane{j}").eq(Mux(inv, ~n[-1], ~d[-1]))
        return m

