"""Winograd F(2x2, 3x3) tile engine and its direct 3x3 baseline (Lavin & Gray 2016; SPEC 3).

Both take one 4x4 input tile of one channel per cycle with its filter, accumulate over the
``channels`` beats up to ``last``, and give one 2x2 output tile: the same stream interface
and throughput, so every comparison between them is like for like. A tile's sum starts
after the previous tile's ``last`` beat (``first`` frames the stream but the engines do not
need it; a reset clears a sum left unfinished).

With ``lanes`` (the conv layer's ``parallel``) an engine computes several output channels from
each tile: the input transform (Winograd) or the tile's registers (direct) are built once and
shared, and each lane has its own filter words, multipliers and accumulators. The Winograd
engine's output transforms are shared too: a lane needs one every ``C`` beats, so one
transform takes up to ``C`` lanes' sums in turn (:func:`output_lanes`). The standalone units
have one lane.
"""

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.winograd_matrices import A_T, B_T, G_SCALED
from .arith import delay, split_multiply
from .skid import skid_output

__all__ = ["WinogradF23", "WinogradF23x23", "DirectConv3x3", "field_name", "output_lanes"]


def _lin(coeffs, values):
    """``sum(c * v)`` for small integer constants (0, +-1, +-2): adds and shifts only."""
    terms = []
    for c, v in zip(coeffs, values):
        c = int(c)
        if c == 0:
            continue
        mag = v if abs(c) == 1 else (v << (abs(c).bit_length() - 1))
        assert abs(c) in (1, 2)
        terms.append((c > 0, mag))
    assert terms
    pos = [t for s, t in terms if s]
    neg = [t for s, t in terms if not s]
    total = pos[0] if pos else -neg.pop(0)
    for t in pos[1:]:
        total = total + t
    for t in neg:
        total = total - t
    return total


def _sandwich(m, left, x, right_t, width1, width2, name, between=None):
    """``left @ x @ right_t.T`` with integer constant matrices, each pass in a signal of
    its exact worst-case width (``width1`` after the first pass, ``width2`` after both).
    ``between``: a function applied to each first-pass value (a register stage), or None."""
    rows, inner = len(left), len(x[0])
    first = [[Signal(signed(width1), name=f"{name}_p{i}{j}") for j in range(inner)]
             for i in range(rows)]
    for i in range(rows):
        for j in range(inner):
            m.d.comb += first[i][j].eq(_lin(left[i], [x[k][j] for k in range(len(x))]))
    if between is not None:
        first = [[between(v) for v in row] for row in first]
    out = [[Signal(signed(width2), name=f"{name}_{i}{j}") for j in range(len(right_t))]
           for i in range(rows)]
    for i in range(rows):
        for j in range(len(right_t)):
            m.d.comb += out[i][j].eq(_lin(right_t[j], first[i]))
    return out


def field_name(prefix, k, lane=0):
    """A tile engine's payload field: word ``k`` of lane ``lane`` (``f``: filter, ``y``:
    output); lane 0's fields keep the one-lane names (``f3``, ``y0``), lane ``j``'s add
    ``_j`` (``f3_1``)."""
    return f"{prefix}{k}" if lane == 0 else f"{prefix}{k}_{lane}"


def output_lanes(lanes, channels):
    """Output transforms of a Winograd engine with ``lanes`` lanes and ``channels`` beats a
    tile, which is also the lanes an output beat carries: the fewest (a divisor of
    ``lanes``) that leave each at most ``channels`` lanes to take in turn, one a cycle, in
    the ``channels`` cycles before the next tile's sums are ready."""
    return next(t for t in range(1, lanes + 1) if lanes % t == 0 and lanes // t <= channels)


class _TileEngine(wiring.Component):
    """Shared stream plumbing: ports, the clock enable, the channel accumulator.

    ``lanes``: output channels computed at once, each with its own filter words (fields
    :func:`field_name`), all from the same input tile. ``out_lanes``: the lanes an output
    beat carries (fields ``y`` of lanes 0 .. ``out_lanes - 1``); with fewer than ``lanes``
    each tile's outputs take ``lanes / out_lanes`` beats, beat ``s`` carrying lanes
    ``s * out_lanes ..`` (:class:`WinogradF23x23`)."""

    def __init__(self, params, filter_words, filter_width, out_width, data_words=16,
                 out_words=4, lanes=1, out_lanes=None):
        self.params = params
        self.lanes = lanes
        self.out_lanes = lanes if out_lanes is None else out_lanes
        p = params
        fields = {f"d{k}": signed(p.data_width) for k in range(data_words)}
        fields.update({field_name("f", k, j): signed(filter_width)
                       for j in range(lanes) for k in range(filter_words)})
        fields.update({"first": 1, "last": 1})
        super().__init__({
            "i": In(stream.Signature(data.StructLayout(fields))),
            "o": Out(stream.Signature(data.StructLayout(
                {field_name("y", k, j): signed(out_width)
                 for j in range(self.out_lanes) for k in range(out_words)}))),
        })

    #: Stages beyond the first three that this engine has: ``pipeline`` 4 and 5 add a
    #: register inside an adder tree (see each engine) where the engine has one.
    deep_stages = ()

    @property
    def latency(self):
        """The channel accumulator plus the stages ``pipeline`` adds."""
        p = self.params.pipeline
        return 1 + min(p, 3) + sum(1 for k in self.deep_stages if p >= k)

    @property
    def widths(self):
        """Every stage's width (exact worst case, from the golden interval arithmetic)."""
        p = self.params
        if hasattr(p, "stage_widths"):
            return dict(p.stage_widths)
        return {"product": p.product_width, "output": p.output_width}

    def _enable(self, m):
        """The pipeline's enable, also ``i.ready``: a register behind the skid register on
        ``o`` (:meth:`_output`), which ``o.ready`` does not reach. (As the LUT
        ``o.ready | ~o.valid``, the path from the conv layer's output holding register
        through the engine's enable into the line buffer's read address was the layer's
        critical path: 144.8 MHz at the board default on the ECP5-85F, 5.42 of 6.90 ns
        routing.)"""
        ce = Signal()
        m.d.comb += self.i.ready.eq(ce)
        return ce

    def _output(self, m, ce, done, cycles, values):
        """``o`` from ``done`` (the accumulator's flag, from :meth:`_accumulate`: the register
        and what it loads) delayed ``cycles`` registers and the last stage's ``values`` (lane
        by lane: y0, y1, ... of lane 0, then lane 1's), through the skid register that drives
        ``ce``."""
        done, feed = done
        per = len(values) // self.out_lanes
        chain = [done]
        for k in range(cycles):
            chain.append(delay(m, ce, chain[-1], 1, name=f"valid3_{k}", reset_less=False))
        feed = chain[-2] if cycles else feed
        (ce_r,), _ = skid_output(m, self.o, chain[-1], feed,
                                 [(v, getattr(self.o.payload, field_name("y", k % per, k // per)))
                                  for k, v in enumerate(values)],
                                 copies=("engine_ce",), name="o")
        m.d.comb += ce.eq(ce_r)

    def _front(self, m):
        ce = self._enable(m)
        pl = self.i.payload
        d = [[getattr(pl, f"d{4 * r + c}") for c in range(4)] for r in range(4)]
        return ce, d

    @staticmethod
    def _control(m, ce, ctl, cycles, stage):
        """Delay the (valid, first, last) flags by ``cycles`` registers (stage ``stage``)."""
        valid, first, last = ctl
        return (delay(m, ce, valid, cycles, name=f"valid{stage}", reset_less=False),
                delay(m, ce, first, cycles, name=f"first{stage}"),
                delay(m, ce, last, cycles, name=f"last{stage}"))

    def _accumulate(self, m, ce, terms, width, valid, first, last):
        """Sum ``terms`` over the channel beats; returns ``(sums, (done, feed))``: the
        finished sums, the last-beat flag register and what it loads when the pipeline
        advances.

        A running sum a term, cleared by the tile's last beat (the flip-flops' synchronous
        reset) as its total goes into the finished sum's register: no multiplexer between
        the adder and either register. (With ``first`` choosing the term or the sum, that
        multiplexer took a LUT a bit: a Winograd lane at 8 bits and C = 16 went from 1,084 to
        686 LUT4 on the ECP5 without it; docs/numbers.md has the command.) ``first`` stays
        in the stream's framing: a tile's first beat adds to a sum its predecessor's last
        beat cleared."""
        del first
        run = [Signal(signed(width), name=f"run{k}") for k in range(len(terms))]
        acc = [Signal(signed(width), name=f"acc{k}", reset_less=True)
               for k in range(len(terms))]
        done = Signal()
        feed = valid & last
        ends = Signal()
        m.d.comb += ends.eq(ce & feed)
        with m.If(ce):
            m.d.sync += done.eq(feed)
        for r, a, t in zip(run, acc, terms):
            total = r + t
            with m.If(ends):
                m.d.sync += [r.eq(0), a.eq(total)]
            with m.Elif(ce & valid):
                m.d.sync += r.eq(total)
        return acc, (done, feed)


class WinogradF23(_TileEngine):
    """1-D F(2,3): 4 inputs, a 3-tap filter, 2 outputs, 4 multiplies per channel (direct: 6).

    Parameters
    ----------
    params : lowbit.golden.winograd.Winograd1DParams

    Members
    -------
    i : In(stream.Signature(StructLayout({"d0".."d3", "f0"..: ..., "first", "last"})))
        Four inputs of one channel and ``U' = G' g`` (4 words, offline) or ``g`` (3, onchip).
    o : Out(stream.Signature(StructLayout({"y0", "y1"})))
        ``y = (A^T sum over channels of U' * V) >> 1``.

    Pipeline registers (``pipeline``): 1 the transformed inputs and filter (on ECP5 the
    multipliers' input registers), 2 the products (their output registers), 3 the outputs,
    4 a second product register, in the fabric: from the MULT18X18D's output into the
    accumulator was the critical path at 3 (126.8 MHz on the ECP5-85F, 7.88 ns).
    """

    deep_stages = (4,)

    def __init__(self, params):
        offline = params.filter_transform == "offline"
        super().__init__(params, 4 if offline else 3, params.filter_word_width,
                         params.output_width, data_words=4, out_words=2)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        w = p.stage_widths
        ce = self._enable(m)
        pl = self.i.payload
        d = [getattr(pl, f"d{k}") for k in range(4)]
        v = []
        for k in range(4):
            s = Signal(signed(w["input_transform"]), name=f"v{k}")
            m.d.comb += s.eq(_lin(B_T[k], d))
            v.append(s)
        if p.filter_transform == "offline":
            u = [getattr(pl, f"f{k}") for k in range(4)]
        else:
            g = [getattr(pl, f"f{k}") for k in range(3)]
            u = []
            for k in range(4):
                s = Signal(signed(w["filter_transform"]), name=f"u{k}")
                m.d.comb += s.eq(_lin(G_SCALED[k], g))
                u.append(s)
        st1, st2, st3, st4 = (int(p.pipeline >= k) for k in (1, 2, 3, 4))
        v = [delay(m, ce, x, st1, name="v_q") for x in v]
        u = [delay(m, ce, x, st1, name="u_q") for x in u]
        ctl = self._control(m, ce, (self.i.valid, pl.first, pl.last), st1, 1)
        prods = []
        for k in range(4):
            s = Signal(signed(w["product"]), name=f"m{k}")
            m.d.comb += s.eq(u[k] * v[k])
            prods.append(delay(m, ce, s, st2 + st4, name=f"m{k}_q"))
        ctl = self._control(m, ce, ctl, st2 + st4, 2)
        acc, done = self._accumulate(m, ce, prods, w["channel_sum"], *ctl)
        outs = []
        for k in range(2):
            y = Signal(signed(w["output_transform"]), name=f"yt{k}")
            m.d.comb += y.eq(_lin(A_T[k], acc))
            outs.append(delay(m, ce, y >> 1, st3, name=f"y{k}_q"))
        self._output(m, ce, done, st3, outs)
        return m


class WinogradF23x23(_TileEngine):
    """F(2x2, 3x3): 16 multiplies per channel for a 2x2 output tile (direct: 36).

    Parameters
    ----------
    params : lowbit.golden.winograd.Winograd2DParams

    Members
    -------
    i : In(stream.Signature(StructLayout({"d0".."d15": signed(Wd), "f0"..: ..., "first", "last"})))
        A 4x4 tile (row-major) of one channel and its filter: ``U' = G' g G'^T`` (16 words,
        offline) or ``g`` (9 words, ``filter_transform = "onchip"``).
    o : Out(stream.Signature(StructLayout({"y0".."y3": signed(output_width)})))
        ``Y = (A^T (sum over channels of U' * V) A) >> 2``, row-major, after ``last``.

    Every stage is a signal exactly as wide as its worst case (golden interval arithmetic).

    Pipeline registers (``pipeline``): 1 the transformed tile and filter (on ECP5 the
    multipliers' input registers), 2 the products (their output registers), 3 the outputs;
    4 between the two passes of the output transform, 5 between the two passes of the input
    (and on-chip filter) transform. The output transform was the critical path at 3 (102.6
    MHz on the ECP5-85F, from the accumulators through both passes to the output register).
    6 splits each product in two (:func:`~lowbit.hw.arith.split_multiply`: the partial
    products registered, then their sum), for multiplies in LUTs, as on the UP5K, where the
    whole multiply in one cycle was the critical path at 5 (43.4 MHz, 4-bit data); on a DSP
    target it takes two multipliers a product.

    With lanes, 5 also puts two registers in the fabric: one on the transformed tile (and
    each lane's filter words) ahead of the multipliers' input registers, one on each product
    after their output registers. Each transformed value feeds a multiplier in every lane,
    and from the second pass's adders to four lanes' DSP blocks was the critical path at 5
    (ECP5-85F, C = K = 16, four lanes, 4-bit: 130.01 MHz, 7.69 ns, 6.12 of it routing;
    bench/conv2d-layers); with that register alone, a DSP block's output into its running
    sum became the path at the same speed (130.24 MHz, 7.68 ns, 5.70 routing), as it was at
    8 bits (138.77 MHz). With output transforms shared (:func:`output_lanes`) the lanes'
    sums pass a multiplexer and a register (:meth:`_take_turns`).
    """

    deep_stages = (4, 5, 6)

    def __init__(self, params, lanes=1):
        offline = params.filter_transform == "offline"
        super().__init__(params, 16 if offline else 9, params.filter_word_width,
                         params.output_width, lanes=lanes,
                         out_lanes=output_lanes(lanes, params.channels))

    @property
    def _fanout_stage(self):
        """1 with fabric registers on the tile in front of the lanes' multipliers and on
        the products behind them."""
        return int(self.lanes > 1 and self.params.pipeline >= 5)

    @property
    def latency(self):
        """To the first output beat: the channel accumulator, the stages ``pipeline`` adds,
        and with lanes the two fabric registers and the turns' register."""
        fan = self._fanout_stage
        split = self.params.pipeline >= 6   # the split multiply registers its products
        return super().latency + fan + (0 if split else fan) + int(self.out_lanes < self.lanes)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        w = p.stage_widths
        ce, d = self._front(m)
        pl = self.i.payload
        st4, st5, st6 = (int(p.pipeline >= k) for k in (4, 5, 6))

        def mid_in(x):
            return delay(m, ce, x, st5, name="vp_q")

        # The input transform, once for every lane.
        v = _sandwich(m, B_T, d, B_T, w["input_transform_pass1"], w["input_transform"], "v",
                      between=mid_in)
        stage1 = p.pipeline >= 1
        fan = self._fanout_stage
        v = [delay(m, ce, x, fan + int(stage1), name="v_q") for row in v for x in row]
        ctl = self._control(m, ce, (self.i.valid, pl.first, pl.last),
                            int(stage1) + st5 + fan, 1)

        prods = []
        for j in range(self.lanes):
            if p.filter_transform == "offline":
                u = [[mid_in(getattr(pl, field_name("f", 4 * r + c, j))) for c in range(4)]
                     for r in range(4)]
            else:
                g = [[getattr(pl, field_name("f", 3 * r + c, j)) for c in range(3)]
                     for r in range(3)]
                u = _sandwich(m, G_SCALED, g, G_SCALED, w["filter_transform_pass1"],
                              w["filter_transform"], f"u{j}", between=mid_in)
            u = [delay(m, ce, x, fan + int(stage1), name=f"u{j}_q") for row in u for x in row]
            for k in range(16):
                if st6:
                    prods.append(split_multiply(m, ce, u[k], v[k], w["product"],
                                                name=f"m{j}_{k}"))
                    continue
                s = Signal(signed(w["product"]), name=f"m{j}_{k}")
                m.d.comb += s.eq(u[k] * v[k])
                prods.append(delay(m, ce, s, int(p.pipeline >= 2) + fan, name=f"m{j}_{k}_q"))
        ctl = self._control(m, ce, ctl, int(p.pipeline >= 2) + st6 + (0 if st6 else fan), 2)

        acc, done = self._accumulate(m, ce, prods, w["channel_sum"], *ctl)
        sums, done = self._take_turns(m, ce, acc, done, w["channel_sum"])
        outs = []
        for t in range(self.out_lanes):
            lane = sums[16 * t:16 * t + 16]
            grid = [lane[4 * r:4 * r + 4] for r in range(4)]
            y = _sandwich(m, A_T, grid, A_T, w["output_transform_pass1"],
                          w["output_transform"], f"y{t}",
                          between=lambda x: delay(m, ce, x, st4, name="yp_q"))
            outs += [delay(m, ce, (x >> 2), int(p.pipeline >= 3), name="y_q")
                     for row in y for x in row]
        self._output(m, ce, done, int(p.pipeline >= 3) + st4, outs)
        return m

    def _take_turns(self, m, ce, acc, done, width):
        """The lanes' finished sums (16 a lane) onto the :attr:`out_lanes` output
        transforms, ``S = lanes / out_lanes`` lanes each in turn: transform ``t`` takes lane
        ``s * out_lanes + t`` in the ``s``-th cycle after the sums are ready, through a
        multiplexer and a register (the multiplexer is not in front of the transform's adders).
        The sums hold until the next tile's last beat, at least ``C >= S`` cycles later.
        Returns the transforms' inputs and their (valid flag, what it loads) pair for
        :meth:`_output`: with turns, one register later than the accumulator's.

        A lane's output transform (24 adders, 25 bits wide at 8-bit C = 16) was idle ``C -
        1`` cycles in ``C``; the multiplexer costs less than the adders it saves: the 8-bit
        C = K = 16 layer with four lanes went from 3,360 LUT4 and 1,671 CCU2C to 2,234 and
        1,206 in Yosys's synth_ecp5 (the command in docs/numbers.md)."""
        per = self.lanes // self.out_lanes
        if per == 1:
            return acc, done
        flag, feed = done
        sel = Signal(range(per))
        sel_last = Signal()
        turn = Signal()               # the selected lane's sums are finished
        turn_feed = feed | (turn & ~sel_last)
        with m.If(ce):
            m.d.sync += turn.eq(turn_feed)
            with m.If(turn):
                m.d.sync += [sel.eq(Mux(sel_last, 0, sel + 1)),
                             sel_last.eq(~sel_last & (sel == per - 2))]
        del flag  # the turn flag replaces it: set by the same last beat
        picked = []
        for t in range(self.out_lanes):
            for k in range(16):
                opts = Array(acc[16 * (s * self.out_lanes + t) + k] for s in range(per))
                v = Signal(signed(width), name=f"pick{t}_{k}")
                m.d.comb += v.eq(opts[sel])
                picked.append(delay(m, ce, v, 1, name=f"pick{t}_{k}_q"))
        valid = Signal()
        with m.If(ce):
            m.d.sync += valid.eq(turn)
        return picked, (valid, turn)


class DirectConv3x3(_TileEngine):
    """The baseline: the same tiles, filters (``g``, 9 words) and outputs, 36 multiplies.

    Parameters
    ----------
    params : lowbit.golden.winograd.Direct3x3Params

    Pipeline registers (``pipeline``): 1 the tile and filter (on ECP5 the multipliers' input
    registers), 2 the products (their output registers), 3 the outputs, 4 the three row sums
    of each output's nine products, 5 each output's sum of its rows (before the channel
    accumulator), 6 a second product register, in the fabric (the 36 multipliers spread over
    the DSP columns: at 5 the route from a MULT18X18D's output to its row's adder took 3.9 of
    7.46 ns, 134.0 MHz on the ECP5-85F). At 3 the nine products' sum and the accumulator
    were the critical path (71.8 MHz on the ECP5-85F with the products in the multipliers'
    output registers: 9.5 of its 13.9 ns are routing from the DSP blocks to one adder tree);
    at 4 the rows' sum and the accumulator (118.7 MHz, 8.43 ns, bench/unit-timing).
    """

    deep_stages = (4, 5, 6)

    def __init__(self, params, lanes=1):
        super().__init__(params, 9, params.weight_width, params.output_width, lanes=lanes)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        ce, d = self._front(m)
        pl = self.i.payload
        st4, st5, st6 = (int(p.pipeline >= k) for k in (4, 5, 6))
        d = [[delay(m, ce, x, int(p.pipeline >= 1), name="d_q") for x in row] for row in d]
        ctl = self._control(m, ce, (self.i.valid, pl.first, pl.last), int(p.pipeline >= 1), 1)
        sums = []
        for lane in range(self.lanes):
            g = [[delay(m, ce, getattr(pl, field_name("f", 3 * r + c, lane)),
                        int(p.pipeline >= 1), name=f"g{lane}_q") for c in range(3)]
                 for r in range(3)]
            for i in range(2):
                for j in range(2):
                    prods = []
                    for a in range(3):
                        for b in range(3):
                            s = Signal(signed(p.product_width), name=f"p{lane}_{i}{j}_{a}{b}")
                            m.d.comb += s.eq(d[i + a][j + b] * g[a][b])
                            prods.append(delay(m, ce, s, int(p.pipeline >= 2) + st6,
                                               name="p_q"))
                    rows = []
                    for a in range(3):
                        row = Signal(signed(p.output_width), name=f"r{lane}_{i}{j}_{a}")
                        m.d.comb += row.eq(prods[3 * a] + prods[3 * a + 1] + prods[3 * a + 2])
                        rows.append(delay(m, ce, row, st4, name=f"r{lane}_{i}{j}_{a}_q"))
                    total = Signal(signed(p.output_width), name=f"s{lane}_{i}{j}")
                    m.d.comb += total.eq(rows[0] + rows[1] + rows[2])
                    sums.append(delay(m, ce, total, st5, name=f"s{lane}_{i}{j}_q"))
        ctl = self._control(m, ce, ctl, int(p.pipeline >= 2) + st4 + st5 + st6, 2)
        acc, done = self._accumulate(m, ce, sums, p.output_width, *ctl)
        outs = [delay(m, ce, a, int(p.pipeline >= 3), name="y_q") for a in acc]
        self._output(m, ce, done, int(p.pipeline >= 3), outs)
        return m
