"""A streaming 3x3 convolution layer on the F(2x2,3x3) tile engine, or on the direct 3x3
engine with the same interface (``engine=direct``, the baseline; SPEC section 3).

The image streams in raster order, one value a beat; a line buffer (one memory, each word the
three rows above one column) keeps the rows above the current one, a shift register per row
keeps the last four columns, and every second column of every second row cuts a 4x4 tile
(stride 2) for the engine. The engine computes ``parallel`` output channels of each tile at
once; with more filters than that, a tile buffer replays each tile once a group of filters
(a fold). The 2x2 output tiles of every channel go into two output buffers (the
tiles' top rows and bottom rows, double-buffered by tile row) and are read out in raster
order, channels innermost.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import delay
from .fixed import round_offset, saturate
from .lfsr import LFSR
from .ram import NO_RW_CHECK, READ_LATENCY, registered_read
from .skid import skid_output
from .winograd import DirectConv3x3, WinogradF23x23, field_name, output_lanes

__all__ = ["Conv2dLayer"]


def _step(m, counter, flag, size, when):
    """``counter`` through ``0 .. size - 1`` when ``when``; ``flag`` (a register, reset to
    ``size == 1``, with the counter at 0) says it is at ``size - 1``, set a step ahead, so
    that what the wrap decides starts from a flip-flop, not a compare."""
    with m.If(when):
        m.d.sync += [counter.eq(Mux(flag, 0, counter + 1)),
                     flag.eq(Mux(flag, size == 1, counter == size - 2))]


class Conv2dLayer(wiring.Component):
    """``H x W x C`` image in, ``Ho x Wo x K`` feature maps out, ``K`` filters of 3x3xC.

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
    o : Out(stream.Signature(StructLayout({"y": signed(result_width), "last": 1})))
        The feature maps in raster order, channels innermost: beat ``(y * Wo + x) * K + k``
        is output channel ``k`` at ``(y, x)``; ``last`` marks each frame's last value.
    f_lane, f_addr, f_data, f_en : In
        Filter memory write port: filter ``k``'s words for channel ``c`` at ``f_addr = (k //
        parallel) * C + c`` of lane ``f_lane = k % parallel``: the engine's filter words
        (``U' = G' g G'^T``, 16 words, for ``filter_transform="offline"``; ``g``, 9 words, for
        ``onchip`` and the direct engine), row-major, word ``i`` in bits ``[i * fw, (i + 1) *
        fw)`` (:meth:`~lowbit.golden.winograd.Conv2dParams.filter_loads`).
    b_addr, b_data, b_en : In (``bias=yes``)
        Bias memory write port: channel ``k``'s bias (``output_width`` bits) at ``b_addr =
        k``, added before the requantizer's shift.

    Latency and throughput
    ----------------------
    One input value a cycle, plus one cycle for each padding value the layer makes itself, or
    one output value a cycle, whichever takes longer: :attr:`cycles_per_frame` when the
    output is never stalled and the engine keeps up (at most four folds). The engine takes a
    tile's ``C`` beats every ``2C`` cycles on every second row and idles the rest of the
    time: a fold of two fills the ``2C`` cycles, and with three or four the tile buffer
    (:attr:`tile_buffer_tiles`) holds the tiles the engine has not reached by the end of a
    tile row until the row without tiles that follows.

    Pipeline registers: the line buffer and the filter memory are read through
    :func:`lowbit.hw.ram.registered_read` (the read port's register, then a read-data
    register), so the column shift registers, the tile and the engine's input transform start
    from registers, not from a RAM's data output (the line buffer's read through the input
    transform was the critical path, 88.9 MHz at 64 x 64 x 3 on the ECP5-85F). The beat's
    value, place and flags wait :data:`~lowbit.hw.ram.READ_LATENCY` cycles for the reads.
    The line buffer is written back in that stage, ``READ_LATENCY`` beats behind its read: the
    read of a word never meets its own write while the buffer is deeper than
    ``READ_LATENCY`` words (it is at least 4). With folds, the tile buffer and the filter
    memory are read the same way in front of the engine. The output buffers are read through
    ``registered_read`` too, then a register for the lane's value, then the skid register
    (:func:`~lowbit.hw.skid.skid_output`) that keeps ``o.ready`` off the read counters.
    """

    def __init__(self, params):
        self.params = params
        p = params
        self.engine_params = p.engine_params
        self._fw = p.filter_word_width
        self._fwords = p.filter_words
        #: Channels an engine output beat carries (the Winograd engine's output transforms,
        #: :func:`~lowbit.hw.winograd.output_lanes`; all the lanes for the direct engine),
        #: and the beats a tile takes (``filters / out_lanes``, each an output buffer word).
        self.out_lanes = (output_lanes(p.lanes, p.channels) if p.engine == "winograd"
                          else p.lanes)
        self.out_beats = p.filters // self.out_lanes
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"x": signed(p.data_width)}))),
            "o": Out(stream.Signature(data.StructLayout({"y": signed(p.result_width),
                                                          "last": 1}))),
            "f_lane": In(max(1, (p.lanes - 1).bit_length())),
            "f_addr": In(max(1, (p.folds * p.channels - 1).bit_length())),
            "f_data": In(self._fwords * self._fw),
            "f_en": In(1),
            **({"b_addr": In(max(1, (p.filters - 1).bit_length())),
                "b_data": In(p.output_width), "b_en": In(1)} if p.bias else {}),
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
        """Cycles a frame takes with the input always valid and the output always ready: one
        a value of the virtual image in, one a value out (``Ho x Wo x K``), or the engine's
        ``F x C`` a tile, whichever is most. Exact with up to four folds (the engine then
        never bounds it); with more, the engine's count is a lower bound, a few cycles under
        the measured period."""
        p = self.params
        hp, wp = self.virtual_shape
        ho, wo = p.output_shape
        th, tw = p.tiles
        return max(hp * wp * p.channels, ho * wo * p.filters, th * tw * p.folds * p.channels)

    @property
    def line_buffer_words(self):
        """Depth of the line buffers (each word holds the three rows above)."""
        return self.virtual_shape[1] * self.params.channels

    @property
    def tile_buffer_tiles(self):
        """Tiles the fold buffer holds: none without folds, two with two folds (a tile every
        ``2C`` cycles on a tile row, the engine's pace), and with more half a tile row and
        two: a tile row's tiles come every ``2C`` cycles and the engine takes ``F x C`` a
        tile, so with up to four folds the engine finishes the row's tiles during the row
        without tiles that follows."""
        folds = self.params.folds
        if folds == 1:
            return 0
        return 2 if folds == 2 else (self.params.tiles[1] + 1) // 2 + 2

    @property
    def output_buffer_words(self):
        """Depth of each output buffer: two tile rows of :attr:`out_beats` words a tile."""
        return 2 * self.params.tiles[1] * self.out_beats

    @property
    def widths(self):
        p = self.params
        hp, wp = self.virtual_shape
        return {**dict(p.stage_widths), "virtual_height": hp, "virtual_width": wp,
                "tiles_high": p.tiles[0], "tiles_wide": p.tiles[1],
                "line_buffer_words": self.line_buffer_words,
                "output_buffer_words": self.output_buffer_words,
                "cycles_per_frame": self.cycles_per_frame, "lanes": p.lanes,
                "folds": p.folds, "tile_buffer_tiles": self.tile_buffer_tiles,
                "output_transforms": (self.out_lanes if p.engine == "winograd" else 0),
                "filter_words": self._fwords, "filter_word_width": self._fw}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        engine = WinogradF23x23 if p.engine == "winograd" else DirectConv3x3
        m.submodules.engine = eng = engine(self.engine_params, lanes=p.lanes)
        filters = self._filter_memory(m)
        if p.folds == 1:
            space = eng.i.ready
            front = self._front(m, space)
            f_row = registered_read(m, filters, front["ch"], front["fce"], name="filters")
            self._feed(m, eng, front["valid"], front["taps"], f_row, front["first"],
                       front["last"])
        else:
            self._replay(m, eng, filters)
        if not p.out_width:
            self._back(m, eng, self.o)
            return m
        raw = stream.Signature(data.StructLayout(
            {"y": signed(p.output_width), "last": 1,
             **({"b": signed(p.output_width)} if p.bias else {})})).create()
        self._back(m, eng, raw)
        self._requantize(m, raw)
        return m

    def _filter_memory(self, m):
        """The filters, ``folds x C`` words of every lane's filter words, one lane written at
        a time (a write enable a lane)."""
        p = self.params
        lane_bits = self._fwords * self._fw
        m.submodules.filters = filters = memory.Memory(
            shape=lane_bits * p.lanes, depth=max(p.folds * p.channels, 2), init=[],
            attrs=NO_RW_CHECK)
        port = filters.write_port(granularity=lane_bits)
        m.d.comb += [port.addr.eq(self.f_addr),
                     port.data.eq(Cat(*[self.f_data] * p.lanes)),
                     port.en.eq(Cat(*[self.f_en & (self.f_lane == j)
                                      for j in range(p.lanes)]))]
        return filters

    def _feed(self, m, eng, valid, taps, f_row, first, last):
        """The engine's input: the tile ``taps`` (4x4), every lane's filter words from the
        filter memory's row ``f_row``, the channel flags."""
        pl = eng.i.payload
        m.d.comb += [eng.i.valid.eq(valid), pl.first.eq(first), pl.last.eq(last)]
        for r in range(4):
            for c in range(4):
                m.d.comb += getattr(pl, f"d{4 * r + c}").eq(taps[r][c])
        lane_bits = self._fwords * self._fw
        for j in range(self.params.lanes):
            for k in range(self._fwords):
                lo = j * lane_bits + k * self._fw
                m.d.comb += getattr(pl, field_name("f", k, j)).eq(
                    f_row[lo:lo + self._fw].as_signed())

    def _replay(self, m, eng, filters):
        """Folds: the tiles through a buffer of :attr:`tile_buffer_tiles` tiles, each
        replayed ``folds`` times with the next group of filters (filter address ``f * C +
        c``, a counter).

        The front end writes a tile's ``C`` beats into the next free slot; the reader sends
        the full slots to the engine in order, one beat a cycle while the engine takes them,
        through :func:`~lowbit.hw.ram.registered_read` (tile and filter words together). A
        slot is free again once its last beat of the last fold is read."""
        p = self.params
        c_n, folds, wd = p.channels, p.folds, p.data_width
        slots = self.tile_buffer_tiles
        depth = slots * c_n
        space = Signal()
        front = self._front(m, space)
        m.submodules.tile_buf = buf = memory.Memory(shape=16 * wd, depth=depth, init=[],
                                                    attrs=NO_RW_CHECK)
        wport = buf.write_port()
        wptr = Signal(range(depth))
        wptr_last = Signal(init=depth == 1)
        held = Signal(range(slots + 1))  # full slots
        # `space` (held != slots) is a register, set from held's steps; `write` a LUT of
        # three registers, not through the front end's enable: the front end's tile flags
        # through `fce` into the write pointer's wrap were the layer's critical path (direct
        # 8-bit, C = K = 16, 4 lanes: 108.64 MHz, 7.08 of 9.21 ns routing; bench/conv2d-layers).
        write = Signal()
        m.d.comb += [write.eq(front["valid"] & space), wport.addr.eq(wptr),
                     wport.en.eq(write),
                     wport.data.eq(Cat(*[v for row in front["taps"] for v in row]))]
        _step(m, wptr, wptr_last, depth, write)

        ce = eng.i.ready
        rptr = Signal(range(depth))
        rbase = Signal(range(depth))
        c = Signal(range(max(c_n, 2)))
        last_c = Signal(init=c_n == 1)
        f = Signal(range(max(folds, 2)))
        last_f = Signal(init=folds == 1)
        faddr = Signal(range(folds * c_n))
        issue = Signal()
        m.d.comb += issue.eq(ce & (held != 0))
        _step(m, c, last_c, c_n, issue)
        _step(m, f, last_f, folds, issue & last_c)
        with m.If(issue):
            m.d.sync += faddr.eq(Mux(last_c & last_f, 0, faddr + 1))
            with m.If(last_c & last_f):
                after = Mux(rptr == depth - 1, 0, rptr + 1)
                m.d.sync += [rbase.eq(after), rptr.eq(after)]
            with m.Elif(last_c):
                m.d.sync += rptr.eq(rbase)
            with m.Else():
                m.d.sync += rptr.eq(rptr + 1)
        filled, freed = write & front["last"], issue & last_c & last_f
        m.d.sync += held.eq(held + filled - freed)
        space_r = Signal(init=1, name="space")
        with m.If(filled & ~freed):
            m.d.sync += space_r.eq(held != slots - 1)
        with m.Elif(freed & ~filled):
            m.d.sync += space_r.eq(1)
        m.d.comb += space.eq(space_r)
        tile = registered_read(m, buf, rptr, ce, name="tile_buf")
        f_row = registered_read(m, filters, faddr, ce, name="filters")
        taps = [[tile[(4 * r + k) * wd:(4 * r + k + 1) * wd].as_signed() for k in range(4)]
                for r in range(4)]
        self._feed(m, eng, delay(m, ce, issue, READ_LATENCY, name="rp_valid",
                                 reset_less=False),
                   taps, f_row, delay(m, ce, c == 0, READ_LATENCY, name="rp_first"),
                   delay(m, ce, last_c, READ_LATENCY, name="rp_last"))

    def _requantize(self, m, raw):
        """``raw`` (the exact outputs) through the requantizer onto ``o`` (SPEC section 8).

        Two register stages, advancing together when ``o`` takes a value or is empty: the
        biased value ``raw.y + raw.b`` (the channel's bias, read with the value); then the
        rounding offset's add, the shift, the saturation and ReLU into ``o``'s registers.
        Stochastic rounding draws one sample of the layer's LFSR an output value, in stream
        order, as it enters the second stage.
        The saturator's overflow flag (SPEC section 2) is not an output: a layer's values
        saturate silently, as the golden requantizer's do.
        """
        p = self.params
        ce = Signal()
        m.d.comb += [ce.eq(~self.o.valid | self.o.ready), raw.ready.eq(ce)]
        x = Signal(signed(p.output_width + 1), name="rq_x")
        x_valid, x_last = Signal(name="rq_valid"), Signal(name="rq_last")
        bias = raw.payload.b if p.bias else 0
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

    def _front(self, m, space):
        """Virtual raster counters, line buffers, column shift registers, tiles: returns the
        stage-1 tile (``valid``, ``taps`` 4x4, the channel flags ``first`` and ``last``), the
        front end's enable ``fce`` and the stage-0 channel counter ``ch`` (the filter
        memory's read address without folds). The front end advances unless its tile is
        valid and there is no ``space`` for it."""
        p = self.params
        c_n, wd = p.channels, p.data_width
        hp, wp = self.virtual_shape
        pad = self.pad

        fce = Signal()
        tile_valid = Signal()
        m.d.comb += fce.eq(space | ~tile_valid)

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

        m.d.comb += tile_valid.eq(valid1 & emit1)
        return {"valid": tile_valid, "taps": taps, "first": first1, "last": last1, "fce": fce,
                "ch": ch}

    def _back(self, m, eng, out):
        """The engine's 2x2 output tiles of every channel back to raster order, channels
        innermost, onto stream ``out`` (with each value's bias, ``b``, when the layer has
        one).

        Writer: each engine output beat (:attr:`out_lanes` channels of one tile x 4 values,
        :attr:`out_beats` beats a tile) is one word of each output buffer at the next address,
        the top row's two pixels in ``top``, the bottom row's in ``bot``; a tile row takes
        ``tiles_wide x out_beats`` words, and the two halves of each buffer take alternate
        tile rows. A tile row starts only in a free half.

        Reader: one value a cycle, the tile row's top row (a tile once all its beats are
        written), then its bottom row (all written by then), then the half is free. The read
        address is a register stepped by one, or reloaded with the tile's first word for its
        second pixel or the row's first for the bottom row: no adder in front of the
        buffers."""
        p = self.params
        ho, wo = p.output_shape
        th, tw = p.tiles
        ow, lanes, folds, k_n = p.output_width, self.out_lanes, self.out_beats, p.filters
        half = tw * folds
        depth = 2 * half
        words = [memory.Memory(shape=2 * lanes * ow, depth=depth, init=[], attrs=NO_RW_CHECK)
                 for _ in range(2)]
        m.submodules.out_top, m.submodules.out_bottom = words

        # Writer. The flags are registers set a step ahead: as compares on the counters, the
        # path through the reader's issue into its counters was the layer's critical path
        # (122.04 MHz, direct, C = K = 16, 4 lanes, ECP5-85F; bench/conv2d-layers).
        wa = Signal(range(depth))
        wa_last_half = Signal(init=half == 1)   # wa is a half's last word
        wf = Signal(range(max(folds, 2)))
        wf_last = Signal(init=folds == 1)
        w_first = Signal(init=1)      # wa is a tile row's first word
        free_rows = Signal(range(3), init=2)
        rows_free = Signal(init=1)    # free_rows != 0
        ready_tiles = Signal(range(depth + 1))  # written, their top row not yet started
        avail = Signal()              # ready_tiles != 0
        take = Signal()
        m.d.comb += [eng.o.ready.eq(~w_first | rows_free),
                     take.eq(eng.o.valid & eng.o.ready)]
        for mem, (a, b) in zip(words, ((0, 1), (2, 3))):
            port = mem.write_port()
            m.d.comb += [port.addr.eq(wa), port.en.eq(take),
                         port.data.eq(Cat(*[getattr(eng.o.payload, field_name("y", k, j))
                                            for k in (a, b) for j in range(lanes)]))]
        with m.If(take):
            m.d.sync += [wa.eq(Mux(wa_last_half & (wa != half - 1), 0, wa + 1)),
                         wa_last_half.eq(Mux(wa_last_half, half == 1,
                                             (wa == half - 2) | (wa == depth - 2))),
                         w_first.eq(wa_last_half)]
        _step(m, wf, wf_last, folds, take)

        # Reader.
        ce = Signal()
        top = Signal(init=1)          # reading the tile row's top row
        x = Signal(range(max(wo, 2)))
        x_last = Signal(init=wo == 1)
        lane = Signal(range(max(lanes, 2)))
        lane_last = Signal(init=lanes == 1)
        fold = Signal(range(max(folds, 2)))
        fold_last = Signal(init=folds == 1)
        chan = Signal(range(max(k_n, 2)))
        tr = Signal(range(max(th, 2)))
        tr_last = Signal(init=th == 1)
        at_start = Signal(init=1)     # the next value is the first of a tile's top row
        ra = Signal(range(depth))
        tile_addr = Signal(range(depth))
        row_base = Signal(range(depth))
        pixel_end = lane_last & fold_last
        has_bottom = ~tr_last | Const(ho % 2 == 0)
        frame_last = tr_last & ~(top & has_bottom) & x_last
        issue = Signal()
        row_done = Signal()
        m.d.comb += [issue.eq(ce & (~at_start | avail)),
                     row_done.eq(issue & pixel_end & x_last & ~(top & has_bottom))]
        def count(counter, nonzero, up, down):
            """``counter`` up and down a step; ``nonzero`` (``counter != 0``) from the
            counter's current value and the steps, not from the sum (the sum then the compare
            was the layer's critical path on the UP5K, 22.1 ns, 45.22 MHz)."""
            m.d.sync += counter.eq(counter + up - down)
            with m.If(up & ~down):
                m.d.sync += nonzero.eq(1)
            with m.Elif(down & ~up):
                m.d.sync += nonzero.eq(counter != 1)

        count(ready_tiles, avail, take & wf_last, issue & at_start)
        count(free_rows, rows_free, row_done, take & w_first)
        _step(m, lane, lane_last, lanes, issue)
        _step(m, fold, fold_last, folds, issue & lane_last)
        _step(m, x, x_last, wo, issue & pixel_end)
        _step(m, tr, tr_last, th, row_done)
        with m.If(issue):
            m.d.sync += [chan.eq(Mux(pixel_end, 0, chan + 1)), at_start.eq(0)]
            with m.If(lane_last & ~fold_last):
                m.d.sync += ra.eq(ra + 1)
            with m.If(pixel_end):
                with m.If(~x_last & ~x[0]):   # the tile's second pixel: its words again
                    m.d.sync += ra.eq(tile_addr)
                with m.Elif(~x_last):          # the next tile
                    m.d.sync += [ra.eq(ra + 1), tile_addr.eq(ra + 1),
                                 at_start.eq(top)]
                with m.Elif(top & has_bottom):  # the row's end: its bottom row
                    m.d.sync += [top.eq(0), ra.eq(row_base), tile_addr.eq(row_base)]
                with m.Else():                 # the tile row's end: the other half
                    other = Mux(row_base == 0, half, 0)
                    m.d.sync += [top.eq(1), ra.eq(other), tile_addr.eq(other),
                                 row_base.eq(other), at_start.eq(1)]

        def later(value, name, reset_less=True):
            return delay(m, ce, value, READ_LATENCY, name=name, reset_less=reset_less)

        valid_d = later(issue, "rd_valid", reset_less=False)
        top_d, right_d, lane_d = later(top, "rd_top"), later(x[0], "rd_right"), later(lane,
                                                                                     "rd_lane")
        last_d = later(frame_last & pixel_end, "rd_last")
        data_top, data_bot = (registered_read(m, mem, ra, ce, name=n)
                              for mem, n in zip(words, ("out_top", "out_bottom")))
        row = Mux(top_d, data_top, data_bot)
        pixel = Mux(right_d, row[lanes * ow:], row[:lanes * ow])
        value = Signal(signed(ow), name="rd_value")
        m.d.comb += value.eq(pixel.word_select(lane_d, ow).as_signed())
        fields = [(delay(m, ce, value, 1, name="rd_y"), out.payload.y),
                  (delay(m, ce, last_d, 1, name="rd_last_q"), out.payload.last)]
        if p.bias:
            m.submodules.biases = biases = memory.Memory(shape=ow, depth=max(k_n, 2), init=[],
                                                         attrs=NO_RW_CHECK)
            bw = biases.write_port()
            m.d.comb += [bw.addr.eq(self.b_addr), bw.data.eq(self.b_data), bw.en.eq(self.b_en)]
            bias = registered_read(m, biases, chan, ce, name="biases")
            fields.append((delay(m, ce, bias.as_signed(), 1, name="rd_b"), out.payload.b))
        out_valid = delay(m, ce, valid_d, 1, name="rd_out_valid", reset_less=False)
        (ce_r,), _ = skid_output(m, out, out_valid, valid_d, fields, copies=("back_ce",),
                                 name="out")
        m.d.comb += ce.eq(ce_r)
