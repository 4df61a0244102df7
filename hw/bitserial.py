"""Bit-serial dot-product unit and parallel-to-serial converter (BISMO; SPEC section 5).

Umuroglu, Rasnayake and Sjalander, "BISMO: A Scalable Bit-Serial Matrix Multiplication
Overlay for Reconfigurable Computing", FPL 2018. The arithmetic and the bit orders are those of
:mod:`lowbit.golden.bitserial`.
"""

from amaranth.hdl import Cat, Const, Elaboratable, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import delay
from .keep import add_kept, register_copies
from .popcount import popcount, tree_latency

__all__ = ["DotProductUnit", "P2S", "SLICE_BITS", "shift_negate_accumulate"]


def shift_negate_accumulate(m, ce, count, shift, negate, first, valid, *, acc_width, max_shift,
                            name="acc", register_term=False):
    """The DPU's accumulate step, shared by :class:`DotProductUnit` and the matrix engine:
    ``acc = (first ? 0 : acc) + (negate ? -1 : +1) * (count << shift)`` in ``acc_width`` bits of
    two's complement (it wraps), when ``ce & valid``. Returns ``acc`` (reset to 0).

    Only the low ``acc_width`` bits of the term matter and the shift never exceeds
    ``max_shift``, so the shifter is no wider than ``min(acc_width, len(count) + max_shift)``;
    ``-t = ~t + 1`` makes the negation an XOR and the adder's carry-in, not a second adder.

    With ``register_term`` the shifted, conditionally inverted term is registered before the
    adder (one more cycle: ``first``, ``valid`` and the carry-in are delayed to meet it), so
    the barrel shifter and the accumulator's carry chain are in different cycles.
    """
    shifted = Signal(min(acc_width, len(count) + max_shift), name=f"{name}_shifted")
    m.d.comb += shifted.eq(count << shift if max_shift else count)
    ext = Signal(acc_width, name=f"{name}_ext")
    term = Signal(acc_width, name=f"{name}_term")
    m.d.comb += [ext.eq(shifted), term.eq(Mux(negate, ~ext, ext))]
    if register_term:
        term = delay(m, ce, term, 1, name=f"{name}_term_r")
        negate = delay(m, ce, negate, 1, name=f"{name}_negate_r")
        first = delay(m, ce, first, 1, name=f"{name}_first_r")
        valid = delay(m, ce, valid, 1, name=f"{name}_valid_r", reset_less=False)
    acc = Signal(signed(acc_width), name=name)
    with m.If(ce & valid):
        m.d.sync += acc.eq(Mux(first, 0, acc) + term + negate)
    return acc


class DotProductUnit(wiring.Component):
    """AND + popcount over ``dk`` bits per cycle, then shift, negate and accumulate.

    Each accepted beat computes ``term = popcount(a & b) << shift``, negated when ``negate``
    is set, and ``acc = (first ? 0 : acc) + term`` in ``acc_width`` bits of two's complement
    (the register wraps, as :func:`lowbit.golden.bitserial.dpu_step` does). A beat with
    ``last`` set produces one output beat with the accumulator after that beat. This is the
    DPU of BISMO (Umuroglu et al., FPL 2018, section III-B): the engine feeds it bit planes
    ``A_i``, ``B_j`` with ``shift = i + j`` and ``negate = s_i s_j < 0``.

    Parameters
    ----------
    params : lowbit.golden.bitserial.DPUParams
        ``dk`` operand bits, ``max_shift``, ``acc_width``, and the popcount's structure
        (``popcount``) and register stages (``spacing``, ``top_registers``).

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": dk, "b": dk, "shift": shift_width,
                                          "negate": 1, "first": 1, "last": 1})))
        Operand beats. ``shift`` is 0..``max_shift`` (``shift_width =
        max(1, max_shift.bit_length())`` bits; larger values are not allowed). ``first``
        starts a new sum (the accumulator restarts from 0); without a ``first`` the beat adds
        to whatever the accumulator holds (0 after reset), also after a ``last``.
    o : Out(stream.Signature(StructLayout({"acc": signed(acc_width)})))
        The accumulator, once per ``last`` beat.

    Latency and throughput
    ----------------------
    One beat per cycle while ``o.ready`` is high. The result of a ``last`` beat is valid
    :attr:`latency` ``= tree_latency(dk, spacing, top_registers) + 2`` cycles after the edge
    that accepts the beat: the popcount tree's register stages, the shifted and conditionally
    inverted term, then the accumulator. Back-pressure stalls the whole pipeline with one
    global clock enable (``i.ready = o.ready | ~o.valid``).
    Peak: ``2 dk`` binary operations (an AND and an add per bit) per cycle.
    """

    def __init__(self, params):
        self.params = params
        p = params
        self._in = data.StructLayout({"a": p.dk, "b": p.dk, "shift": p.shift_width,
                                      "negate": 1, "first": 1, "last": 1})
        self._out = data.StructLayout({"acc": signed(p.acc_width)})
        super().__init__({
            "i": In(stream.Signature(self._in)),
            "o": Out(stream.Signature(self._out)),
        })

    @property
    def latency(self):
        """Cycles from accepting a ``last`` beat to its result: popcount stages + 2."""
        return tree_latency(self.params.dk, self.params.spacing, self.params.top_registers) + 2

    @property
    def widths(self):
        p = self.params
        return {"dk": p.dk, "popcount": p.popcount_width, "shift": p.shift_width,
                "term": p.term_width, "accumulator": p.acc_width,
                "popcount_stages": tree_latency(p.dk, p.spacing, p.top_registers)}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        aw = p.acc_width
        ce = Signal()
        m.d.comb += [ce.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(ce)]

        pl = self.i.payload
        count, lat = popcount(m, ce, pl.a, p.spacing, p.popcount, mask=pl.b,
                              top_registers=p.top_registers)
        # The controls ride along the tree; only valid needs a reset.
        valid = delay(m, ce, self.i.valid, lat, name="valid", reset_less=False)
        shift = delay(m, ce, pl.shift, lat, name="shift")
        negate = delay(m, ce, pl.negate, lat, name="negate")
        first = delay(m, ce, pl.first, lat, name="first")
        last = delay(m, ce, pl.last, lat + 1, name="last")

        # acc resets to 0: a sum before the first `first` starts from 0. The term is
        # registered: the barrel shifter and the accumulator's carry chain in one cycle were
        # the UP5K's critical path (37.7 MHz at dk=64, acc_width=32, bench/unit-timing),
        # as they were the engine's (hw/matmul.py, ``_acc_stages``).
        acc = shift_negate_accumulate(m, ce, count, shift, negate, first, valid,
                                      acc_width=aw, max_shift=p.max_shift,
                                      register_term=True)
        valid = delay(m, ce, valid, 1, name="valid_t", reset_less=False)
        done = Signal()
        with m.If(ce):
            m.d.sync += done.eq(valid & last)
        m.d.comb += [
            self.o.valid.eq(done),
            self.o.payload.acc.eq(acc),
        ]
        return m


class P2S(wiring.Component):
    """Parallel to serial: words of ``E`` elements become ``w`` bit-plane words each.

    For every input word, in order, the output carries planes ``0 .. w-1`` (LSB plane first);
    bit ``e`` of plane ``i`` is bit ``i`` of element ``e`` (:func:`lowbit.golden.bitserial.p2s`).
    Bits ``w .. W-1`` of each element field are ignored, so signed and unsigned elements
    convert alike. The word is held in a shift register, every field shifting right once per
    plane: ``E W`` flip-flops and a 2:1 multiplexer each, no ``W``:1 multiplexers.

    Parameters
    ----------
    params : lowbit.golden.bitserial.P2SParams
        ``elements`` E and ``max_width`` W.

    Members
    -------
    i : In(stream.Signature(StructLayout({"data": E * W})))
        Input words, element ``e`` at bits ``[e W, (e + 1) W)``.
    w : In(range(1, W + 1))
        Run-time precision: planes per word, 1..W, sampled with each word as it is accepted
        (words of different precisions may follow one another); 0 and values above W are not
        allowed (the count of planes is then undefined).
    o : Out(stream.Signature(StructLayout({"plane": E})))
        Plane words, element ``e`` at bit ``e``.
    last : Signal(1), not a port
        High while the plane on ``o`` is its word's last, for a design that contains the
        converter (a register; the bit-serial engine's loader steps its addresses with it).

    Latency and throughput
    ----------------------
    The first plane of a word is valid :attr:`latency` ``= 1`` cycle after the edge that
    accepts the word; plane ``i`` follows ``i`` cycles later without back-pressure. One plane
    per cycle: the next word is accepted in the cycle the last plane of the current one
    leaves, so a word takes exactly ``w`` cycles and the bit rate is the same on both sides
    (``E w`` bits in, ``E w`` bits out), with no bubbles between words. Back-pressure on
    ``o`` holds the current plane; ``i.ready`` is low while a word is being serialized,
    except during its last plane when ``o.ready`` is high.

    Timing
    ------
    The word register (``E W`` flip-flops) is cut into slices of about
    :data:`SLICE_BITS` bits, each in a submodule kept apart through synthesis
    (:mod:`lowbit.hw.keep`) with its own copy of the converter's state (full, plane count,
    last-plane flag, precision): the clock enable of each slice is one gate from its own
    registers and the two handshake inputs (``i.valid``, ``o.ready``), and drives one slice
    rather than the whole word. The copies step in lockstep; one more, with no word bits,
    drives ``i.ready``, ``o.valid`` and :attr:`last`. The last-plane flag is a register,
    set from the word's ``w`` when it is accepted, rather than a compare with ``w`` in front
    of the enable.

    A design that contains the converter and drives ``o.ready`` from a register can give
    each state copy its own copy of that register: :attr:`ready_copies` (set it to
    ``len(slices) + 1`` signals equal to ``o.ready``, the control copy's first), so that one
    net does not reach every slice across the die (the bit-serial engine's loader does).
    """

    def __init__(self, params):
        self.ready_copies = None
        self.params = params
        p = params
        self._in = data.StructLayout({"data": p.in_width})
        self._out = data.StructLayout({"plane": p.out_width})
        super().__init__({
            "i": In(stream.Signature(self._in)),
            "w": In(range(1, p.max_width + 1)),
            "o": Out(stream.Signature(self._out)),
        })
        self.last = Signal(name="last_plane")
        self.word_accept = Signal(name="word_accept")  # i.valid & i.ready
        self._side = self._side_o = None
        # Each state copy's full and last-plane flags (the control's, then a slice's), made
        # here for valid_copies and last_copies; the copies themselves in elaborate.
        self._flags = [(Signal(name="full"), Signal(name="last_plane"))
                       for _ in range(self.ready_count)]

    def carry(self, value):
        """Carry ``value`` (a consumer's ports, sampled as the converter accepts a word) with
        the word; returns a register holding that of the word whose plane is on ``o``. Call
        before elaboration."""
        self._side, self._side_o = _carried(value)
        return self._side_o

    @property
    def latency(self):
        """Cycles from accepting a word to its first plane: 1."""
        return 1

    @property
    def ready_count(self):
        """Copies of ``o.ready`` :attr:`ready_copies` takes: the control copy's, a slice's."""
        return len(self.slices) + 1

    @property
    def valid_copies(self):
        """One signal for each of :attr:`ready_copies`' loads, the state copy's own full flag,
        equal to ``o.valid`` as long as every ready copy equals ``o.ready``: for a consumer
        that computes each ready copy's next value on its own."""
        return [full for full, _ in self._flags]

    @property
    def last_copies(self):
        """As :attr:`valid_copies`, the state copies' last-plane flags (equal to
        :attr:`last`)."""
        return [last for _, last in self._flags]

    @property
    def slices(self):
        """``[(first element, elements)]`` of the word register's slices."""
        p = self.params
        most = max(1, SLICE_BITS // p.max_width)  # elements in at most SLICE_BITS bits
        count = -(-p.elements // most)
        per = -(-p.elements // count)  # as even as whole slices allow
        return [(e, min(per, p.elements - e)) for e in range(0, p.elements, per)]

    @property
    def widths(self):
        p = self.params
        return {"elements": p.elements, "max_width": p.max_width, "in": p.in_width,
                "out": p.out_width, "w": len(self.w), "slices": len(self.slices)}

    def elaborate(self, platform):
        m = Module()
        W = self.params.max_width
        # A copy with no word bits drives the handshake outputs, so that they come from
        # registers next to the logic that uses them rather than from a slice of the word.
        control = add_kept(m, "control", _P2SSlice(0, W, len(self.w), *self._flags[0]))
        m.d.comb += [self.i.ready.eq(control.i_ready), self.o.valid.eq(control.full),
                     self.last.eq(control.last_plane),
                     self.word_accept.eq(self.i.valid & control.i_ready)]
        copies = [control]
        for n, ((first, count), flags) in enumerate(zip(self.slices, self._flags[1:])):
            sl = add_kept(m, f"slice{n}", _P2SSlice(count, W, len(self.w), *flags))
            copies.append(sl)
            m.d.comb += [
                sl.data.eq(self.i.payload.data[first * W:(first + count) * W]),
                self.o.payload.plane[first:first + count].eq(sl.plane),
            ]
        if self.ready_copies is not None and len(self.ready_copies) != len(copies):
            raise ValueError(f"P2S.ready_copies: {len(copies)} signals needed (the control "
                             f"copy and {len(copies) - 1} slices), not "
                             f"{len(self.ready_copies)}")
        for n, sl in enumerate(copies):
            ready = self.o.ready if self.ready_copies is None else self.ready_copies[n]
            m.d.comb += [sl.i_valid.eq(self.i.valid), sl.o_ready.eq(ready), sl.w.eq(self.w)]
        if self._side is not None:  # one word at a time: the word on `o` is the latest
            with m.If(self.word_accept):
                m.d.sync += self._side_o.eq(self._side)
        return m


class PlaneInput(wiring.Component):
    """Bit planes in, bit planes out: what :class:`P2S` gives the bit-serial engine's loader,
    from a stream that already carries the planes (the operands packed at the run's
    precision, ``operands=planes``). A word is ``w`` consecutive planes, ``w`` sampled with
    its first.

    The same members as :class:`P2S` for the loader: ``i`` (``{"plane": E}``), ``w``, ``o``,
    :attr:`last` (a register: the plane on ``o`` is its word's last), :attr:`slices` (none)
    and :attr:`ready_copies` (:attr:`ready_count`, two: copies of the register that is
    ``o.ready``, for the control and for the planes' enables), and
    :attr:`word_accept`, high when a word's first plane is accepted.

    A skid buffer: the plane register (``o``) and a second one behind it (the skid) that
    takes the plane accepted in a cycle when ``o`` holds a plane and is not taken. ``i.ready``
    is a register, high while the skid is empty, and depends on nothing of the consumer's
    but its ``o.ready`` register. Latency 1 (a plane accepted while ``o`` is free or taken
    is on ``o`` the next cycle, as it would be without the skid), a plane a cycle. Against
    the converter it saves the ``E W`` word register and its multiplexers, and the link
    carries ``w`` bits an element instead of ``W``.

    Timing: with one plane register, ``i.ready`` had to be ``~o.valid | o.ready`` a cycle
    ahead, so it took the consumer's next ``o.ready``, the end of the loader's run, deep in
    its control: that was the critical path at 2 x 256 x 2 on the ECP5-85F in 2 of 3 seeds
    (``o.valid`` or the last-plane flag through the loader's ``loading`` to the plane
    register's ready copy, 6.09 and 5.71 ns, 4.62 and 4.24 of it routing,
    ``bench/bitserial-fanout`` run ``2x256x2-tilesin-sp1-fanout1``).
    """

    def __init__(self, params):
        self.ready_copies = None
        self.params = params
        p = params
        layout = data.StructLayout({"plane": p.out_width})
        super().__init__({
            "i": In(stream.Signature(layout)),
            "w": In(range(1, p.max_width + 1)),
            "o": Out(stream.Signature(layout)),
        })
        self.last = Signal(name="last_plane")
        self.word_accept = Signal(name="word_accept")
        self._valid_planes = Signal(name="valid_planes")  # the planes' copy of o.valid
        self._side = self._side_o = None

    def carry(self, value):
        """As :meth:`P2S.carry`, sampled with each word's first plane: ``value`` rides
        with each plane through the skid."""
        self._side, self._side_o = _carried(value)
        return self._side_o

    @property
    def latency(self):
        return 1

    @property
    def slices(self):
        return []

    @property
    def ready_count(self):
        """Copies of ``o.ready`` :attr:`ready_copies` takes: one for the control, one for
        the planes' enables."""
        return 2

    @property
    def valid_copies(self):
        """One signal for each of :attr:`ready_copies`' loads, equal to ``o.valid`` as long as
        every ready copy equals ``o.ready`` (as :attr:`P2S.valid_copies`): ``o.valid`` for
        the control's, the planes' own copy of it for theirs."""
        return [self.o.valid, self._valid_planes]

    @property
    def last_copies(self):
        """As :attr:`P2S.last_copies`: :attr:`last` itself for both (it has no copy: the
        planes' ready copy takes it from the control)."""
        return [self.last] * self.ready_count

    def elaborate(self, platform):
        m = Module()
        W = self.params.max_width
        if self.ready_copies is None or len(self.ready_copies) != self.ready_count:
            raise ValueError(f"PlaneInput needs ready_copies: {self.ready_count} copies of the "
                             f"register that is o.ready (control, planes)")
        ready = self.ready_copies[0]
        # The word's progress: `first` (the next plane is a word's first), `left` (planes of
        # the word after the latest) and `next_last` (left == 1), loaded from the port `w`
        # at a word's first plane and counted down. No register goes back to a constant on
        # a handshake: as an index counter reset to 0 at the word's last plane, the plane
        # register's valid flag reached the counter's synchronous reset, the critical path
        # at 4 x 256 x 4 with popcount=packed on the ECP5-85F (133.46 MHz,
        # bench/bitserial-fanout).
        first = Signal(init=1, name="first_plane")
        left = Signal(range(max(W, 2)), reset_less=True, name="planes_left")
        next_last = Signal(reset_less=True, name="next_last")
        # The skid: its plane, its last-plane flag, and `in_ready` (= its emptiness, `i.ready`).
        skid = Signal.like(self.o.payload.plane, name="skid_plane")
        skid_last = Signal(name="skid_last")
        in_ready = Signal(init=1, name="in_ready")
        load = Signal()
        is_last = Mux(first, self.w == 1, next_last)
        free = ~self.o.valid | ready  # the plane register is empty or taken
        m.d.comb += [self.i.ready.eq(in_ready), load.eq(self.i.valid & in_ready),
                     self.word_accept.eq(load & first)]
        with m.If(load):
            m.d.sync += [first.eq(is_last), left.eq(Mux(first, self.w - 1, left - 1)),
                         next_last.eq(Mux(first, self.w == 2, left == 2))]
        # What rides with the plane (carry): the word's, sampled with its first plane.
        side = self._side if self._side is not None else Const(0, 1)
        side_o = self._side_o if self._side is not None else Signal(1)
        side_word = Signal.like(side_o, name="side_word")  # the latest word's
        skid_side = Signal.like(side_o, name="skid_side")
        side_in = Mux(first, side, side_word)
        with m.If(self.word_accept):
            m.d.sync += side_word.eq(side)
        valid_next, in_ready_next = Signal(), Signal()
        m.d.comb += [valid_next.eq(self.o.valid), in_ready_next.eq(in_ready)]
        m.d.sync += [self.o.valid.eq(valid_next), in_ready.eq(in_ready_next)]
        with m.If(in_ready):
            m.d.sync += [skid_last.eq(is_last), skid_side.eq(side_in)]
        with m.If(free):
            # The plane register: the skid's plane first, else the input's, else empty.
            m.d.comb += [valid_next.eq(~in_ready | self.i.valid), in_ready_next.eq(1)]
            m.d.sync += [self.last.eq(Mux(in_ready, is_last, skid_last)),
                         side_o.eq(Mux(in_ready, side_in, skid_side))]
        with m.Elif(load):
            m.d.comb += in_ready_next.eq(0)  # into the skid
        # The planes (plane register and skid, 2 E bits) steered by copies of their own of
        # `o.valid`, `o.ready` and `i.ready`, so that their enables do not pull the control's
        # registers across the die: with one `free` for both, its LUT sat among the plane
        # register's 256 enables 54 rows from `o.valid`, and `o.valid` through it into
        # `i.ready` was the critical path at 8 x 256 x 8 on the ECP5-85F (8.65 ns, 7.47 of it
        # routing, bench/bitserial-fanout run `8x256x8-planes-packed-fanout2-skid`).
        # The copies' next values are their own logic, from the copies and the input's valid
        # (the same function as the control's): with `in_ready`'s next value one net for
        # both, its LUT sat by the copy among the planes, 31 rows from `in_ready`, and
        # `o.valid` through it into `in_ready` was the critical path at 8 x 256 x 8 (8.22 ns,
        # 7.22 of it routing, run `8x256x8-planes-packed-fanout2-enables`).
        valid_d_next, in_ready_d_next = Signal(), Signal()
        valid_d, = register_copies(m, "plane_valid", valid_d_next, 1)
        in_ready_d, = register_copies(m, "plane_in_ready", in_ready_d_next, 1, init=1)
        m.d.comb += self._valid_planes.eq(valid_d)
        free_d = ~valid_d | self.ready_copies[1]
        m.d.comb += [valid_d_next.eq(Mux(free_d, ~in_ready_d | self.i.valid, valid_d)),
                     in_ready_d_next.eq(free_d | (in_ready_d & ~self.i.valid))]
        # The skid loads whenever it is empty (it then holds nothing valid without a plane).
        with m.If(in_ready_d):
            m.d.sync += skid.eq(self.i.payload.plane)
        with m.If(free_d):
            m.d.sync += self.o.payload.plane.eq(Mux(in_ready_d, self.i.payload.plane, skid))
        return m


def _carried(value):
    """``(value, its register)`` for a converter's :meth:`carry`."""
    value = Value.cast(value)
    return value, Signal(len(value), name="word_side")


#: Bits of the converter's word register steered by one copy of its state (:class:`P2S`).
SLICE_BITS = 256


class _P2SSlice(Elaboratable):
    """``elements`` fields of :class:`P2S`'s word register with a whole copy of its state;
    with ``elements = 0`` the state alone (no ``data``, ``plane`` or word register, so no
    zero-width signal reaches the Verilog). ``full`` and ``last_plane``: the flag registers'
    signals (:attr:`P2S.valid_copies`)."""

    def __init__(self, elements, max_width, w_bits, full, last_plane):
        self.elements, self.max_width = elements, max_width
        self.i_valid, self.o_ready = Signal(), Signal()
        self.w = Signal(w_bits)
        self.data = Signal(elements * max_width) if elements else None
        self.plane = Signal(elements) if elements else None
        self.i_ready, self.full, self.last_plane = Signal(), full, last_plane

    def elaborate(self, platform):
        m = Module()
        E, W = self.elements, self.max_width
        # range(max(W, 2)): a W = 1 converter still gets a 1-bit counter, never a [-1:0] one.
        count = Signal(range(max(W, 2)), reset_less=True)
        w = Signal.like(self.w, reset_less=True)  # the held word's precision
        full, last_plane = self.full, self.last_plane  # last_plane: count + 1 == w
        take = Signal()
        load = Signal()
        m.d.comb += [
            take.eq(full & self.o_ready),
            # Accept while empty, or while the last plane of the current word leaves.
            self.i_ready.eq(~full | (take & last_plane)),
            load.eq(self.i_valid & self.i_ready),
        ]
        with m.If(load):
            m.d.sync += [count.eq(0), full.eq(1), w.eq(self.w), last_plane.eq(self.w == 1)]
        with m.Elif(take):
            with m.If(last_plane):
                m.d.sync += full.eq(0)
            with m.Else():
                m.d.sync += [count.eq(count + 1), last_plane.eq(count + 2 == w)]
        if E:
            buf = Signal(E * W, reset_less=True)
            m.d.comb += self.plane.eq(Cat(*(buf[e * W] for e in range(E))))
            shifted = Cat(*(Cat(buf[e * W + 1:(e + 1) * W], Const(0, 1)) for e in range(E))) \
                if W > 1 else buf
            with m.If(load):
                m.d.sync += buf.eq(self.data)
            with m.Elif(take & ~last_plane):
                m.d.sync += buf.eq(shifted)
        return m
