"""A streaming 3x3 convolution layer on the F(2x2,3x3) tile engine, or on the direct 3x3
engine with the same interface (``engine=direct``, the baseline; SPEC section 3).

The image streams in raster order, one value a beat; a line buffer (one memory, each word the
three rows above one column) keeps the rows above the current one, a shift register per row
keeps the last four columns, and every second
column of every second row cuts a 4x4 tile (stride 2) for the engine. The 2x2 output tiles
are put back into raster order: the top row goes straight out, the bottom row waits in an
output line buffer until the tile row is done.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import delay
from .fixed import round_offset, saturate
from .lfsr import LFSR
from .ram import NO_RW_CHECK, READ_LATENCY, registered_read
from .winograd import DirectConv3x3, WinogradF23x23

__all__ = ["Conv2dLayer"]


class Conv2dLayer(wiring.Component):
    """``H x W x C`` image in, ``Ho x Wo`` output feature map out, one 3x3xC filter.

    The layer works on a virtual image of ``Hp x Wp`` (:attr:`virtual_shape`): the real
    image at offset ``(1, 1)`` for ``padding="same"`` (``(0, 0)`` for ``valid``) and zeros
    around it, extended so that the output tiles cover an odd-sized output (the extra row or
    column is dropped on the way out). The zeros are made here, never sent.

    Parameters
    ----------
    params : lowbit.golden.winograd.Conv2dParams

    Members
    -------
    i : In(stream.Signature(StructLayout({"x": signed(data_width)})))
        The image in raster order, channels innermost: beat ``(y * W + x) * C + c`` is
        ``image[c, y, x]``. Frames follow each other with no gap or marker.
    o : Out(stream.Signature(StructLayout({"y": signed(output_width), "last": 1})))
        The output feature map in raster order; ``last`` marks each frame's last pixel.
    f_addr, f_data, f_en : In
        Filter memory write port, one word per channel ``c``: the engine's filter words
        (``U' = G' g_c G'^T``, 16 words, for ``filter_transform="offline"``; ``g_c``, 9 words,
        for ``onchip`` and the direct engine), row-major, word ``k`` in bits
        ``[k * fw, (k + 1) * fw)``.

    Latency and throughput
    ----------------------
    One input value a cycle, plus one cycle for each padding value the layer makes itself:
    :attr:`cycles_per_frame` when the output is never stalled. The engine takes a tile every
    second value of every second row, so it idles three quarters of the time; the layer is
    bound by the input stream, not by the multipliers.

    Pipeline registers: the line buffer and the filter memory are read through
    :func:`lowbit.hw.ram.registered_read` (the read port's register, then a read-data
    register), so the column shift registers, the tile and the engine's input transform start
    from registers, not from a RAM's data output (the line buffer's read through the input
    transform was the critical path, 88.9 MHz at 64 x 64 x 3 on the ECP5-85F). The beat's
    value, place and flags wait :data:`~lowbit.hw.ram.READ_LATENCY` cycles for the reads.
    The line buffer is written back in that stage, ``READ_LATENCY`` beats behind its read: the
    read of a word never meets its own write while the buffer is deeper than
    ``READ_LATENCY`` words (it is at least 4).
    """

    def __init__(self, params):
        self.params = params
        p = params
        self.engine_params = p.engine_params
        self._fw = p.filter_word_width
        self._fwords = p.filter_words
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"x": signed(p.data_width)}))),
            "o": Out(stream.Signature(data.StructLayout({"y": signed(p.result_width),
                                                          "last": 1}))),
            "f_addr": In(max(1, (p.channels - 1).bit_length())),
            "f_data": In(self._fwords * self._fw),
            "f_en": In(1),
            **({"bias": In(signed(p.output_width))} if p.bias else {}),
        })

    @property
    def virtual_shape(self):
        """``(Hp, Wp)``: the zero-padded image whose 4x4 tiles at stride 2 cover the output."""
        th, tw = self.params.tiles
        return 2 * th + 2, 2 * tw + 2

    @property
    def pad(self):
        return 1 if self.params.padding == "same" else 0

    @property
    def cycles_per_frame(self):
        """Cycles a frame takes with the input always valid and the output always ready."""
        hp, wp = self.virtual_shape
        return hp * wp * self.params.channels

    @property
    def line_buffer_words(self):
        """Depth of the line buffers (each word holds the three rows above)."""
        return self.virtual_shape[1] * self.params.channels

    @property
    def widths(self):
        p = self.params
        hp, wp = self.virtual_shape
        return {**dict(p.stage_widths), "virtual_height": hp, "virtual_width": wp,
                "tiles_high": p.tiles[0], "tiles_wide": p.tiles[1],
                "line_buffer_words": self.line_buffer_words,
                "cycles_per_frame": self.cycles_per_frame,
                "filter_words": self._fwords, "filter_word_width": self._fw}

    def elaborate(self, platform):
        m = Module()
        engine = WinogradF23x23 if self.params.engine == "winograd" else DirectConv3x3
        m.submodules.engine = eng = engine(self.engine_params)
        self._front(m, eng)
        if not self.params.out_width:
            self._back(m, eng, self.o)
            return m
        raw = stream.Signature(data.StructLayout(
            {"y": signed(self.params.output_width), "last": 1})).create()
        self._back(m, eng, raw)
        self._requantize(m, raw)
        return m

    def _requantize(self, m, raw):
        """``raw`` (the exact outputs) through the requantizer onto ``o`` (SPEC section 8).

        Two register stages, advancing together when ``o`` takes a value or is empty: the
        biased value ``raw.y + bias``; then the rounding offset's add, the shift, the
        saturation and ReLU into ``o``'s registers. Stochastic rounding draws one sample of
        the layer's LFSR an output value, in stream order, as it enters the second stage.
        The saturator's overflow flag (SPEC section 2) is not an output: a layer's values
        saturate silently, as the golden requantizer's do.
        """
        p = self.params
        ce = Signal()
        m.d.comb += [ce.eq(~self.o.valid | self.o.ready), raw.ready.eq(ce)]
        x = Signal(signed(p.output_width + 1), name="rq_x")
        x_valid, x_last = Signal(name="rq_valid"), Signal(name="rq_last")
        bias = self.bias if p.bias else 0
        with m.If(ce):
            m.d.sync += [x.eq(raw.payload.y + bias), x_valid.eq(raw.valid),
                         x_last.eq(raw.payload.last)]
        d = p.shift
        r = None
        if p.rounding == "stochastic" and d > 0:
            m.submodules.rq_lfsr = lfsr = LFSR(p.lfsr)
            m.d.comb += lfsr.en.eq(ce & x_valid)
            r = lfsr.sample
        offset = round_offset(x, d, p.rounding, r, min(p.r_bits, d))
        total = x if offset is None else x + offset
        y, _ = saturate((total >> d).as_signed(), p.out_width)
        if p.relu:
            y = Mux(y < 0, 0, y)
        with m.If(ce):
            m.d.sync += [self.o.valid.eq(x_valid), self.o.payload.y.eq(y),
                         self.o.payload.last.eq(x_last)]

    def _front(self, m, eng):
        """Virtual raster counters, line buffers, column shift registers, tiles."""
        p = self.params
        c_n, wd = p.channels, p.data_width
        hp, wp = self.virtual_shape
        pad = self.pad

        # fce: the front end advances unless a tile waits for the engine.
        fce = Signal()
        tile_valid = Signal()
        m.d.comb += fce.eq(eng.i.ready | ~tile_valid)

        vr = Signal(range(hp))
        vc = Signal(range(wp))
        ch = Signal(range(max(c_n, 2)))  # never 0 bits wide: no [-1:0] vectors in Verilog
        addr = Signal(range(wp * c_n))
        # The counters' wrap flags and the row's and column's padding are registers, each
        # set from its counter's current value a step ahead (when the counter moves): with
        # them as compares on the counters, the path through `beat` into the column
        # counter's reset was the layer's critical path at C = 16 on the ECP5-85F (121.85
        # MHz at 8 bits, 8.21 ns, 6.29 of it routing; bench/conv2d-engines).
        def ahead(name, first, moves, step):
            """A flag register about a counter's current value: ``first`` at reset; when the
            counter ``moves``, ``step``, the flag for its next value computed from the
            current one."""
            flag = Signal(init=int(first), name=name)
            with m.If(moves):
                m.d.sync += flag.eq(step)
            return flag

        def outside(v, size):
            """Whether position ``v`` (a constant or a counter's next value) is padding."""
            return (v >= pad + size) | (v < pad) if pad else v >= pad + size

        beat = Signal()
        move_c = Signal()
        move_r = Signal()
        last_ch = ahead("last_ch", c_n == 1, beat,
                        Mux(ch == c_n - 1, c_n == 1, ch == c_n - 2) if c_n > 1 else 1)
        last_col = ahead("last_col", wp == 1, move_c,
                         Mux(vc == wp - 1, wp == 1, vc == wp - 2) if wp > 1 else 1)
        last_row = ahead("last_row", hp == 1, move_r,
                         Mux(vr == hp - 1, hp == 1, vr == hp - 2) if hp > 1 else 1)
        col_pad = ahead("col_pad", outside(0, p.width), move_c,
                        Mux(vc == wp - 1, outside(0, p.width),
                            outside(vc + 1, p.width)))
        row_pad = ahead("row_pad", outside(0, p.height), move_r,
                        Mux(vr == hp - 1, outside(0, p.height),
                            outside(vr + 1, p.height)))
        is_pad = Signal()
        m.d.comb += [is_pad.eq(col_pad | row_pad),
                     beat.eq(fce & (is_pad | self.i.valid)),
                     self.i.ready.eq(fce & ~is_pad),
                     move_c.eq(beat & last_ch), move_r.eq(beat & last_ch & last_col)]
        with m.If(beat):
            m.d.sync += [ch.eq(Mux(last_ch, 0, ch + 1)),
                         addr.eq(Mux(last_ch & last_col, 0, addr + 1))]
            with m.If(last_ch):
                m.d.sync += vc.eq(Mux(last_col, 0, vc + 1))
                with m.If(last_col):
                    m.d.sync += vr.eq(Mux(last_row, 0, vr + 1))

        # Stage 1, READ_LATENCY cycles on: the value (or a made zero), its place, and what
        # the memories read for it.
        def reg(value, name, reset_less=True):
            return delay(m, fce, value, READ_LATENCY, name=name, reset_less=reset_less)

        valid1 = reg(beat, "valid1", reset_less=False)
        x1 = reg(Mux(is_pad, 0, self.i.payload.x), "x1")
        emit1 = reg((vr >= 3) & vr[0] & (vc >= 3) & vc[0], "emit1")
        first1 = reg(ch == 0, "first1")
        last1 = reg(last_ch, "last1")
        addr1 = reg(addr, "addr1")

        # Line buffers: word a holds rows r-1, r-2, r-3 at column/channel a; each pass shifts
        # the word down one row and puts the new value on top.
        assert wp * c_n > READ_LATENCY, "a line buffer read would meet its own write"
        m.submodules.lines = lines = memory.Memory(shape=3 * wd, depth=wp * c_n, init=[],
                                                   attrs=NO_RW_CHECK)
        above = registered_read(m, lines, addr, fce, name="lines")
        lw = lines.write_port()
        m.d.comb += [lw.addr.eq(addr1), lw.en.eq(fce & valid1),
                     lw.data.eq(Cat(x1, above[:2 * wd]))]
        column = [above[2 * wd:3 * wd].as_signed(), above[wd:2 * wd].as_signed(),
                  above[:wd].as_signed(), x1]  # rows r-3 .. r

        # Column shift registers: 3C deep, so taps 0, C, 2C, 3C are one channel's last
        # four columns.
        taps = []
        for r, value in enumerate(column):
            chain = [Signal(signed(wd), name=f"sr{r}_{n}") for n in range(3 * c_n)]
            with m.If(fce & valid1):
                m.d.sync += chain[0].eq(value)
                for n in range(1, 3 * c_n):
                    m.d.sync += chain[n].eq(chain[n - 1])
            taps.append([chain[3 * c_n - 1], chain[2 * c_n - 1], chain[c_n - 1], value])

        # Filter memory, read with the channel number so the words arrive with the tile.
        # The filters are loaded between frames, never while the layer reads them.
        m.submodules.filters = filters = memory.Memory(
            shape=self._fwords * self._fw, depth=max(c_n, 2), init=[], attrs=NO_RW_CHECK)
        fw_port = filters.write_port()
        m.d.comb += [fw_port.addr.eq(self.f_addr), fw_port.data.eq(self.f_data),
                     fw_port.en.eq(self.f_en)]
        f_row = registered_read(m, filters, ch, fce, name="filters")

        m.d.comb += [tile_valid.eq(valid1 & emit1), eng.i.valid.eq(tile_valid)]
        pl = eng.i.payload
        for r in range(4):
            for c in range(4):
                m.d.comb += getattr(pl, f"d{4 * r + c}").eq(taps[r][c])
        for k in range(self._fwords):
            word = f_row[k * self._fw:(k + 1) * self._fw].as_signed()
            m.d.comb += getattr(pl, f"f{k}").eq(word)
        m.d.comb += [pl.first.eq(first1), pl.last.eq(last1)]

    def _back(self, m, eng, out):
        """2x2 output tiles back to raster order, onto stream ``out``."""
        p = self.params
        ho, wo = p.output_shape
        th, tw = p.tiles
        ow = p.output_width
        tr = Signal(range(max(th, 2)))
        tc = Signal(range(max(tw, 2)))
        sub = Signal()      # which pixel of the tile's top row is on the output
        bottom = Signal()   # sending the bottom row of a tile row from the buffer
        j = Signal(range(max(wo, 2)))  # pixel of the bottom row being sent
        # (j >> 1) + 1, the buffer word read next, as a register stepped with j: the adder in
        # front of the buffer's read address was the layer's critical path (134.4 MHz at the
        # board default on the ECP5-85F, 7.44 ns from j into the read data register).
        j_next_word = Signal(range(max(wo, 2) // 2 + 2))
        last_tr, last_tc = tr == th - 1, tc == tw - 1
        # The last tile of a row has a second column unless Wo is odd; the last tile row has
        # a bottom row unless Ho is odd.
        two_cols = ~last_tc | Const(wo % 2 == 0)
        has_bottom = ~last_tr | Const(ho % 2 == 0)

        # The bottom rows wait here; the read port sees this cycle's write, so the first word
        # (read while the last tile of the row is written) is right even with one tile a row.
        m.submodules.bottom_buf = buf = memory.Memory(shape=2 * ow, depth=max(tw, 2), init=[])
        bw = buf.write_port()
        br = buf.read_port(transparent_for=[bw])
        # A one-tile holding register between the engine and the output: a tile's top row
        # takes two output cycles, and without it the engine (and with it the input) would
        # stall for the second one whenever the next tile is already on its way.
        hold_valid = Signal()
        y = [Signal(signed(ow), name=f"hold_y{k}", reset_less=True) for k in range(4)]
        m.d.comb += [bw.addr.eq(tc), bw.data.eq(Cat(y[2], y[3]))]
        done_tile = sub | ~two_cols
        release = Signal()
        m.d.comb += [release.eq(~bottom & hold_valid & out.ready & done_tile),
                     eng.o.ready.eq(~hold_valid | release)]
        with m.If(eng.o.valid & eng.o.ready):
            m.d.sync += [hold_valid.eq(1)]
            m.d.sync += [r.eq(getattr(eng.o.payload, f"y{k}")) for k, r in enumerate(y)]
        with m.Elif(release):
            m.d.sync += hold_valid.eq(0)
        with m.If(~bottom):
            m.d.comb += [out.valid.eq(hold_valid),
                         out.payload.y.eq(Mux(sub, y[1], y[0])),
                         out.payload.last.eq(last_tr & ~has_bottom & last_tc & done_tile),
                         bw.en.eq(release),
                         br.addr.eq(0), br.en.eq(1)]
            with m.If(out.valid & out.ready):
                m.d.sync += sub.eq(~done_tile)
                with m.If(done_tile):
                    m.d.sync += tc.eq(Mux(last_tc, 0, tc + 1))
                    with m.If(last_tc):
                        m.d.sync += [bottom.eq(has_bottom), j.eq(0), j_next_word.eq(1)]
                        with m.If(~has_bottom):
                            m.d.sync += tr.eq(0)
        with m.Else():
            word = br.data
            send = out.ready
            m.d.comb += [out.valid.eq(1),
                         out.payload.y.eq(Mux(j[0], word[ow:], word[:ow]).as_signed()),
                         out.payload.last.eq(last_tr & (j == wo - 1)),
                         br.addr.eq(j_next_word), br.en.eq(send & j[0] & (j != wo - 1))]
            with m.If(send):
                m.d.sync += [j.eq(j + 1), j_next_word.eq(j_next_word + j[0])]
                with m.If(j == wo - 1):
                    m.d.sync += [tr.eq(Mux(last_tr, 0, tr + 1)), bottom.eq(0)]
