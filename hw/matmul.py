"""The bit-serial matrix engine, end to end: P2S loading, the DPU array, C a tile a beat
(BISMO semantics: Umuroglu, Rasnayake and Sjalander, FPL 2018; SPEC section 5).

One run: the ``M`` rows of ``A`` and the ``N`` columns of ``B`` (rows of ``B^T``) arrive on one
input stream as words of ``Dk`` elements; the P2S converter turns each into its bit planes,
which go straight into the operand buffers (with ``operands=planes`` the stream carries the
planes themselves, ``wa`` or ``wb`` words of ``Dk`` bits a chunk, the operands packed at the
run's precision, and a plane register with a skid stands in for the converter), in the
layout of :func:`lowbit.golden.bitserial.lhs_words`. The controller runs the schedule of
:func:`lowbit.golden.bitserial.schedule` over the ``Dm x Dn`` array of dot-product units,
one step a cycle, and ``C`` streams out a ``Dm x Dn`` tile a beat. The run-time
configuration is read from ports.

Loading, computing and readout are three stages that run concurrently on double-buffered
operand and result memories (BISMO's fetch, execute and result stages), so back-to-back runs
keep the array busy: the next run loads while this one computes, and this run's results
leave while the next one computes.
"""

from amaranth.hdl import Array, Cat, Const, Elaboratable, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.bitserial import P2SParams, broadcast_groups
from .arith import delay
from .bitserial import P2S, PlaneInput, shift_negate_accumulate
from .keep import add_kept, register_copies
from .popcount import popcount, tree_latency
from .ram import BLOCK_RAM, NO_RW_CHECK, READ_LATENCY, registered_read
from .skid import skid_output

__all__ = ["BitSerialMatmul", "broadcast_groups"]


def _bits_for(value):
    return max(1, int(value).bit_length())


class BitSerialMatmul(wiring.Component):
    """``C = A B`` with run-time precisions and signedness, on a ``Dm x Dn`` array of DPUs.

    Parameters
    ----------
    params : lowbit.golden.bitserial.BitSerialParams

    Members
    -------
    wa, wb : In
        Run-time precisions, 1..max_wa and 1..max_wb.
    a_signed, b_signed : In(1)
        Two's complement (1) or unsigned (0) operands.
    m, n : In
        Rows of ``A`` (1..max_m) and columns of ``B`` (1..max_n).
    k_chunks : In
        ``ceil(K / Dk)``, 1..ceil(max_k / Dk); the last chunk of each row is zero past ``K``.
    keep_b : In(1)
        Weight-resident run: no words of ``B`` follow ``A``; the run multiplies by the ``B``
        of the latest run that loaded one, with that run's ``wb``, ``b_signed``, ``n`` and
        ``k_chunks`` (the ports' values for these are not read). ``A`` must have that run's
        ``K`` (its ``k_chunks`` words a row).
    i : In(stream.Signature(StructLayout({"data": Dk * W})))
        ``m * k_chunks`` words of ``A`` (row by row, chunk by chunk), then, unless ``keep_b``,
        ``n * k_chunks`` words of ``B^T``; element ``t`` of a word at bits ``[t W, (t + 1)
        W)``, ``W = max(max_wa, max_wb)``, only the low ``wa`` (``wb``) bits used.
    o : Out(stream.Signature(StructLayout({"tile": Dm Dn acc, "last": 1})))
        ``C`` a ``Dm x Dn`` tile a beat, tile-major (``for m_tile: for n_tile``), ``last`` on
        the run's final tile; element ``(r, c)`` of a tile, ``C[m_tile Dm + r, n_tile Dn +
        c]``, at bits ``[(r Dn + c) acc, (r Dn + c + 1) acc)`` in two's complement, zero past
        ``M`` and ``N`` (:func:`lowbit.golden.bitserial.result_words`). A whole tile a beat,
        so that the readout keeps up with the array even at 1 x 1 bits (a tile takes ``wa wb
        k_chunks`` >= 1 cycles to compute and one to leave).
    busy : Out(1)
        High while any run is loading, computing, waiting or reading out.

    The configuration of a run is sampled with each of its words as the converter accepts
    the word, and taken from its first word: hold the ports for the whole of a run's words
    (they may change for the next run as soon as its first word is offered).

    Overlap
    -------
    Three stages, each a counter-driven controller, hand runs on through two-entry buffers
    (BISMO's token queues): the **loader** writes a run's planes into one half of the operand
    buffers while the **compute** stage runs the schedule of the previous run on the other
    half; the compute stage writes its tiles into one half of the result buffer while the
    **readout** streams the previous run's ``C`` from the other. Each hand-over reaches the
    next stage through a register (:attr:`handover_latency`, one cycle: the stages are
    apart on the die); a stage starts a run the cycle after it sees it handed on, and only
    into a free half: the loader waits for the compute stage to finish reading an operand
    half, the compute stage for the readout to finish with a result half. ``B`` occupies
    whichever operand half is free when it loads, so a weight-resident run reads the
    resident ``B`` from its half while new ``A`` matrices stream into the other.

    Latency and throughput
    ----------------------
    Loading takes ``wa`` cycles per word of ``A`` and ``wb`` per word of ``B`` (P2S keeps
    the bit rate) plus one cycle to start; computing ``m_tiles n_tiles wa wb k_chunks``
    cycles (:meth:`~lowbit.golden.bitserial.BitSerialParams.cycles`) plus
    :attr:`handover_latency` and one to start, and :attr:`latency` to drain into the result
    buffer; the readout one tile a cycle after
    :attr:`readout_latency`, plus one cycle to start.
    :func:`lowbit.golden.bitserial.overlapped_schedule` gives the cycle of every stage of a
    sequence of runs.

    Pipeline
    --------
    Laid out as BISMO's execute stage (Umuroglu et al., FPL 2018, section III): each register
    is in the design, because Yosys does not retime for ECP5 or iCE40.

    - Control: every loop counter (the schedule's five, the loader's three, the readout's
      two) keeps its last flag in a register (:func:`_loop_counter`), as do the input word
      counter and the converter (its last-plane flag), and the loader's ``loading`` is a
      register of its own, so the logic those flags steer starts at a flip-flop.
    - Address registers: the load write address and the operand read addresses are
      registers stepped with the loop counters (+1, a copy of a saved base, or 0), so no
      ``tile + plane + k`` adder sits in front of a memory port; the buffer half is the top
      address bit. Each read address goes through one more register on its way to the read
      port, so the generator's register drives only its own step logic and the register the
      block RAMs load is free to sit among them. The operand writes (address, data, bank
      enables) are registered too: the enables reach every block RAM of a buffer. With
      ``bcast_fanout``, each operand bank and the results of each row of DPUs (row and column
      group with ``a_flow="systolic"``) are a memory of its own with its own kept copy of
      each address register and enable (:meth:`_memories`).
    - The read port's own register (the block RAM's), then a read-data register
      (:func:`lowbit.hw.ram.registered_read`, with ``no_rw_check``: no bypass logic between
      them). On ECP5 the synthesis flow moves the read-data register into the DP16KD's output
      register (:mod:`lowbit.boards.outreg`), which takes the RAM's 5.5 ns clock-to-data off
      the next path.
    - A broadcast register, from which each operand word fans out to the ``Dn`` (``Dm``) DPUs
      of its row (column), so the wires across the array have a cycle to themselves; with
      ``bcast_stages`` above 1, ``bcast_stages - 1`` registers a word before it (each hop
      from the block RAMs a cycle); with ``dpu_inputs`` each DPU's own input register
      after it. With ``b_flow="systolic"`` a B word's copies instead form a chain down its
      column, a cycle a group of ``bcast_fanout`` rows (the first is the broadcast stage),
      so no B wire reaches past the next group; the rows of group ``g`` then work ``g``
      cycles behind row 0: their A memories' read addresses, their step flags and their
      result memories' write addresses and enables each pass ``g`` more registers
      (:attr:`~lowbit.golden.bitserial.BitSerialParams.row_skews`; the last group's is
      part of :attr:`latency`). With ``a_flow="systolic"`` A's copies likewise form a chain
      along each row, a cycle a group of columns: column group ``g``'s B read addresses
      pass ``g`` more registers, the DPUs of row group ``h`` and column group ``g`` work
      ``h + g`` cycles late, and their results go to a result memory of their own
      (:attr:`~lowbit.golden.bitserial.BitSerialParams.result_memories`) whose write
      address and enable, and step flags, are as late. The loader writes a tile's rows
      into their banks in order (A's, then B's), a cycle each at least, after the compute
      stage's hand-over, so a late row's (column's) last read of a half still comes before
      the loader's first write to that bank (the cycle tests run the loader into the half
      just read).
    - In each DPU: AND, the popcount tree with a register every ``spacing`` levels, a term
      register after the barrel shifter and the negation, then the accumulator (its carry
      chain alone in its cycle). The step flags (valid, first, last, final, negate, shift,
      result address) are delayed by the same number of registers. Those the accumulators
      use (valid, first, negate, shift) go to the broadcast stage in shared registers (with
      ``bcast_fanout``, the last of them a kept copy a result memory's DPUs), then through
      the tree in each DPU's own copy (a submodule kept apart through synthesis,
      :mod:`lowbit.hw.keep`, so no flag register steers the whole array); last, final and
      the result address, used once for the result write, stay in shared registers (with
      ``bcast_fanout``, the write address and enable in a copy a result memory).
    - Loading: the P2S converter keeps a copy of its state per slice of its word register
      (:class:`lowbit.hw.bitserial.P2S`), so no enable steers the whole word.
    - Readout: the read address is a counter (with several result memories, then a kept
      copy of it a memory, a pipeline stage of its own), then the read port's register and
      a read-data register (``registered_read`` again; there is no element multiplexer, the
      beat is the whole tile). The readout advances under one clock enable: a skid register
      on ``o`` takes the tile that ``o`` refuses, so ``o.ready`` steers only the skid's valid flag,
      ``o.payload``'s 2:1 multiplexer between the skid and the read-data register (no added
      latency) and the enable, which is itself a register computed a cycle ahead, in kept
      copies (one for the control, one for the tile-wide registers of each result memory).
    """

    def __init__(self, params):
        self.params = params
        p = params
        self.elem_width = max(p.max_wa, p.max_wb)
        self.p2s_params = P2SParams(elements=p.dk, max_width=self.elem_width)
        super().__init__({
            "wa": In(_bits_for(p.max_wa)),
            "wb": In(_bits_for(p.max_wb)),
            "a_signed": In(1),
            "b_signed": In(1),
            "m": In(_bits_for(p.max_m)),
            "n": In(_bits_for(p.max_n)),
            "k_chunks": In(_bits_for(p.k_chunks(p.max_k))),
            "keep_b": In(1),
            "i": In(stream.Signature(data.StructLayout(
                {"data": p.dk * self.elem_width} if p.operands == "words" else {"plane": p.dk}))),
            "o": Out(stream.Signature(data.StructLayout({"tile": p.result_width,
                                                         "last": 1}))),
            "busy": Out(1),
        })

    @property
    def _operand_stages(self):
        """Registers from a schedule step's counters to its operands at the DPUs: the read
        address register, the read port, the read-data register, ``bcast_stages`` registers
        (``bcast_stages - 1`` a word, then the broadcast register or its copy), and with
        ``dpu_inputs`` the DPU's input register."""
        return 1 + READ_LATENCY + self.params.bcast_stages + self.params.dpu_inputs
    # Registers from the popcount to the accumulator's value: the shifted, negated term
    # (the barrel shifter and the accumulator's carry chain in separate cycles), the
    # accumulator.
    _acc_stages = 2
    @property
    def readout_latency(self):
        """Registers from a readout count to ``o``: with several result memories
        (``bcast_fanout``, :attr:`~lowbit.golden.bitserial.BitSerialParams.result_memories`)
        each one's copy of the read address, then the read port and the
        read-data (output) register."""
        return READ_LATENCY + (1 if len(self.params.result_memories) > 1 else 0)

    @property
    def _skew(self):
        """Cycles the last DPU works behind the first: with ``b_flow="systolic"`` a B word
        reaches the rows of group ``g`` (``bcast_fanout`` rows each) after ``g + 1``
        registers down its column, so those rows read their A words, and write their
        results, ``g`` cycles late (:attr:`~lowbit.golden.bitserial.BitSerialParams.row_skews`);
        with ``a_flow="systolic"`` the same for A along the rows and the columns' B words
        (:attr:`~lowbit.golden.bitserial.BitSerialParams.col_skews`): the latest of the
        result memories' (:attr:`~lowbit.golden.bitserial.BitSerialParams.result_skews`)."""
        return max(self.params.result_skews)

    @property
    def latency(self):
        """Cycles from the last schedule step to its tile in the result buffer: the read
        address register, the operand read and the registers to the DPUs
        (:attr:`_operand_stages`), the popcount tree, the term register and the
        accumulator, the result write; with systolic flows the last DPU's skew."""
        p = self.params
        return (self._operand_stages + tree_latency(p.dk, p.spacing, p.top_registers)
                + self._acc_stages + 1 + self._skew)

    @property
    def widths(self):
        p = self.params
        return {"acc": p.accumulator_width, "element": self.elem_width,
                "lhs_depth": p.lhs_depth, "rhs_depth": p.rhs_depth,
                "result_depth": p.result_depth, "lhs_width": p.lhs_width,
                "rhs_width": p.rhs_width, "result_width": p.result_width,
                "buffer_words": p.buffer_words,
                "readout_latency": self.readout_latency,
                "handover_latency": self.handover_latency,
                "peak_binary_ops_per_cycle": p.peak_binary_ops_per_cycle}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        words = p.buffer_words
        # With bcast_fanout, a memory per bank (row of A, column of B, the results of a DPU row
        # or, with a_flow="systolic", row and column group), each with its own address
        # registers: see _memories.
        lhs = self._memories(m, "lhs", p.dm, p.dk, words["lhs"])
        rhs = self._memories(m, "rhs", p.dn, p.dk, words["rhs"])
        res = self._memories(m, "res", p.dpus, p.accumulator_width, words["result"],
                             p.result_memories, block=p.result_ram == "block")
        s = _State(p, self)
        self._handover(m, s)
        self._load(m, s, lhs, rhs)
        self._compute(m, s, lhs, rhs, res)
        self._readout(m, s, res)
        m.d.comb += self.busy.eq(s.p2s_busy | s.loading | s.full[0] | s.full[1] | s.computing
                                 | s.rclaim[0] | s.rclaim[1] | s.r_busy
                                 | Cat(ev for ev, _ in s.late.values()).any())
        return m

    #: Cycles from a stage's hand-over event to the stage it concerns seeing it: what the
    #: design builds (one register, :meth:`_handover`), published in the manifest for the
    #: golden schedule; not a setting (the loop counts' registers in :meth:`_compute` rely
    #: on at least one).
    handover_latency = 1

    @staticmethod
    def _handover(m, s):
        """The three hand-over events (the loader fills an entry, the compute stage empties
        it, the readout frees a result half), each through a register with the entry or half
        it concerns before the other stage sees it (`s.late`): the stages are apart on the
        die, and each event's wire gets a cycle of its own. The shared state each event
        changes (`full`, `rclaim`) changes with the late event, so that both stages see it
        change in the same cycle. (Seen at once, the readout's last fire through `freed` and
        `half_claimed`'s next value into `start`, 74 rows away, was the critical path at
        8 x 256 x 8 on the ECP5-85F: 9.30 ns, 7.81 of it routing, bench/bitserial-fanout
        critical-path-8x256x8-fanout2-startreg.txt.)"""
        for name, half in (("filled", s.ld_half), ("freed", s.rs), ("emptied", s.cp_entry)):
            ev_d, half_d = s.late[name]
            m.d.sync += [ev_d.eq(getattr(s, name)), half_d.eq(half)]
        filled, fh = s.late["filled"]
        emptied, eh = s.late["emptied"]
        freed, rh = s.late["freed"]
        with m.If(filled):
            _put(m, s.full, fh, 1)
        with m.If(emptied):
            _put(m, s.full, eh, 0)
        with m.If(freed):
            _put(m, s.rclaim, rh, 0)

    def _memories(self, m, name, banks, bank_width, depth, groups=None, block=False):
        """A buffer of ``banks`` banks of ``bank_width`` bits: one memory (``name``) holding
        them all, or with ``bcast_fanout`` one a bank (``name0``, ``name1``, ...). Returns
        the list of memories.

        A memory is one read address and one write address for all its block RAMs: at
        8 x 256 x 8 on the ECP5-85F, A's read-address register reaching the 116 DP16KD
        across the die was the critical path (9.12 ns, 8.39 of it routing,
        bench/bitserial-fanout). With a memory a bank, each has its own copy of every
        address register, beside its bank's block RAMs and DPUs. The cost is block RAMs
        rounded up a bank: ``ceil(Dk / 36)`` DP16KD a bank at 512 words rather than
        ``ceil(banks Dk / 36)`` in all (:func:`lowbit.gen.fit.bram_blocks`).

        ``groups``, the banks of each memory in order, instead: the result buffer's
        (:attr:`~lowbit.golden.bitserial.BitSerialParams.result_memories`); ``block``: each
        memory carries ``ram_style = "block"``, so Yosys builds it from block RAM whatever
        its depth (``result_ram="block"``)."""
        # No stage reads a buffer half while another writes it (the hand-over through the
        # run entries and result halves sees to that), so Yosys need not build logic for a
        # read and a write of one address in one cycle (hw.ram.NO_RW_CHECK).
        if groups is None:
            groups = ([[k] for k in range(banks)] if self.params.bcast_fanout
                      else [list(range(banks))])
        count = len(groups)
        mems = []
        for k, group in enumerate(groups):
            mem = memory.Memory(shape=bank_width * len(group), depth=depth, init=[],
                                attrs=BLOCK_RAM if block else NO_RW_CHECK)
            m.submodules[f"{name}{k}" if count > 1 else name] = mem
            mems.append(mem)
        return mems

    @staticmethod
    def _addr_copies(m, name, next_value, count, *, reset_less=True):
        """A register for each of ``count`` memories (:meth:`_memories`) or other groups of
        loads (an address, or `computing`): one register, or kept copies
        (:func:`lowbit.hw.keep.register_copies`) for several."""
        if count == 1:
            return [delay(m, Const(1), next_value, 1, name=name, reset_less=reset_less)]
        return register_copies(m, name, next_value, count, reset_less=reset_less)

    # -- Loading: P2S planes straight into one half of the operand buffers. -------------------
    def _load(self, m, s, lhs, rhs):
        p = self.params
        # The converter, or with operands=planes the plane input (a plane register and a
        # skid) that stands in for it.
        converter = P2S if p.operands == "words" else PlaneInput
        m.submodules.p2s = p2s = converter(self.p2s_params)
        wiring.connect(m, wiring.flipped(self.i), p2s.i)
        # The configuration rides with the word in the converter (`word_cfg`: that of the
        # word whose plane is on its output), and with it the loop counts the loader's
        # counters start from, as `(n - 1, n == 1, n == 2)` made from the ports (`word_t`):
        # with `m - 1` made after the converter, the carried `m` into the row counter was the
        # critical path at 2 x 256 x 2 on the ECP5-85F in 2 of 3 seeds (5.54, 5.90 ns,
        # bench/bitserial-fanout run `2x256x2-skid-sp1-fanout1`).
        fields = [(name, getattr(self, name)) for name in s.CFG]
        for name in s.COUNTS:
            fields += [(f"{name}_t{n}", value)
                       for n, value in enumerate(_triple(getattr(self, name)))]
        carried = p2s.carry(Cat(*(value for _, value in fields)))
        word, at = {}, 0
        for name, value in fields:
            word[name] = carried[at:at + len(value)]
            at += len(value)
        word_cfg = {name: word[name] for name in s.CFG}
        word_t = {name: tuple(word[f"{name}_t{n}"] for n in range(3)) for name in s.COUNTS}
        m.d.comb += s.p2s_busy.eq(p2s.o.valid)

        # Which matrix each word belongs to, counted as the converter accepts it, so that it
        # takes the word's precision with the word (wa for A, wb for B): the converter then
        # keeps its last-plane flag in a register, off the path to its word register's
        # enable. The ports hold the run's configuration for all of its words.
        # Each word's wrap flags (the last chunk of a row, the last row of a matrix) are
        # registers computed with the previous accept, so that the accept (a handshake from
        # the loader's state) is the counters' enable and little else; only a run's first
        # word compares with the ports, which may change between runs.
        in_b = Signal()
        # For the next word (unless in_first): the chunks of its row after it (`in_k_v` less
        # its offset) and the rows of its matrix after its row (`in_row_v` less its offset; it
        # was `in_row_rem`), counted down, each with its
        # compare with 1 in a flip-flop, so the next wrap flags are multiplexers of single
        # bits. (Counted up and compared with the ports, `in_row + 2 == m` was the critical
        # path at 2 x 256 x 2 on the ECP5-85F: 6.06 ns, bench/bitserial-fanout.)
        # Each count is held as `v - off`, off 1 or 2 (`*_off2`): a load takes a port as it is
        # (`m`, `n`, the chunk count) and sets the offset, so no subtraction of a port sits in
        # front of the register. (As `m - 2` and `m - 1`, the harness's `m` port through the
        # subtraction into `in_row_rem` was the critical path at 2 x 256 x 2 on the ECP5-85F
        # with --lut-mapping delay in 2 of 3 seeds, 5.54 and 5.40 ns, bench/bitserial-fanout
        # run `2x256x2-delaymap-sp1-fanout1`.)
        in_k_v = Signal.like(self.k_chunks)
        in_row_v = Signal(range(max(p.max_m, p.max_n) + 1))
        in_k_off2, in_row_off2 = Signal(), Signal()
        in_k_rem_one, in_row_rem_one = Signal(), Signal()
        # `v - off == 2`, for the flag of the next count down.
        in_k_rem_two = Mux(in_k_off2, in_k_v == 4, in_k_v == 3)
        in_row_rem_two = Mux(in_row_off2, in_row_v == 4, in_row_v == 3)
        # The latest B's k_chunks (a resident run's A has it) and its compares with 1, 2, 3.
        in_kc = Signal.like(self.k_chunks, init=1)
        in_kc_is = [Signal(init=v == 1, name=f"in_kc_is{v}") for v in (1, 2, 3)]
        in_first = Signal(init=1)  # the next word is a run's first (A's, row 0, chunk 0)
        k_last, row_last = Signal(), Signal()  # for the next word, unless in_first
        # k_last & row_last: the next word is its matrix's last (one flag in front of the
        # matrix switch: with both, in_b's enable was a UP5K critical path on the way from
        # 44.4 to 50.2 MHz, bench/unit-timing).
        both_last = Signal()
        k_last_n, row_last_n = Signal(), Signal()  # their next values
        kc = Mux(self.keep_b, in_kc, self.k_chunks)
        kc_one, kc_two, kc_three = (Mux(self.keep_b, reg, self.k_chunks == v)
                                    for v, reg in zip((1, 2, 3), in_kc_is))
        k_wrap = Mux(in_first, kc_one, k_last)
        row_wrap = Mux(in_first, self.m == 1, row_last)
        matrix_wrap = Mux(in_first, kc_one & (self.m == 1), both_last)
        accept = p2s.word_accept
        m.d.comb += [p2s.w.eq(Mux(in_b, self.wb, self.wa)), k_last_n.eq(k_last),
                     row_last_n.eq(row_last)]
        m.d.sync += [k_last.eq(k_last_n), row_last.eq(row_last_n),
                     both_last.eq(k_last_n & row_last_n)]
        with m.If(accept):
            m.d.sync += in_first.eq(0)
            with m.If(~self.keep_b):
                m.d.sync += [in_kc.eq(self.k_chunks)]
                m.d.sync += [reg.eq(self.k_chunks == v) for v, reg in zip((1, 2, 3), in_kc_is)]
            with m.If(in_first):
                # A run's first word: row 0 of A's m rows (m - 1 after it).
                m.d.sync += [in_row_v.eq(self.m), in_row_off2.eq(0),
                             in_row_rem_one.eq(self.m == 2)]
            with m.If(~k_wrap):  # the next chunk of the same row
                with m.If(in_first):  # kc - 2 chunks after the next
                    m.d.sync += [in_k_v.eq(kc), in_k_off2.eq(1), in_k_rem_one.eq(kc_three)]
                with m.Else():
                    m.d.sync += [in_k_v.eq(in_k_v - 1), in_k_rem_one.eq(in_k_rem_two)]
                m.d.comb += [k_last_n.eq(Mux(in_first, kc_two, in_k_rem_one)),
                             row_last_n.eq(row_wrap)]
            with m.Else():  # chunk 0 of the next row: kc - 1 chunks after it
                m.d.sync += [in_k_v.eq(kc), in_k_off2.eq(0), in_k_rem_one.eq(kc_two)]
                m.d.comb += k_last_n.eq(kc_one)
                with m.If(row_wrap):  # row 0 of B (unless a run's first word follows)
                    m.d.sync += [in_row_v.eq(self.n), in_row_off2.eq(0),
                                 in_row_rem_one.eq(self.n == 2)]
                    m.d.comb += row_last_n.eq(self.n == 1)
                with m.Elif(in_first):  # row 1 of A next: m - 2 rows after it
                    m.d.sync += [in_row_v.eq(self.m), in_row_off2.eq(1),
                                 in_row_rem_one.eq(self.m == 3)]
                    m.d.comb += row_last_n.eq(self.m == 2)
                with m.Else():
                    m.d.sync += [in_row_v.eq(in_row_v - 1), in_row_rem_one.eq(in_row_rem_two)]
                    m.d.comb += row_last_n.eq(in_row_rem_one)
        with m.If(accept & matrix_wrap):  # (k_wrap & row_wrap)
            m.d.sync += in_b.eq(~in_b & ~self.keep_b)
            with m.If(in_b | self.keep_b):
                m.d.sync += in_first.eq(1)

        cfg = s.ld  # the loading run's configuration
        load_a = Signal()
        load_b = Signal()
        # s.loading (load_a | load_b) is a register of its own: the converter's o.ready.
        # Each of the converter's state copies takes its own kept copy of it: the one
        # register reaching all of them and their 256-bit word slices across the die was the
        # critical path at 4x256x4 on the ECP5-85F (7.54 ns, 6.55 of it routing, 132.5 MHz).
        m.d.comb += p2s.o.ready.eq(s.loading)
        half = s.ld_half  # the operand half this run's A goes to (and the entry it fills)
        b_half = s.b_half  # the half holding the latest B
        run_start = Signal()
        to_b = Signal()  # the last word of A is written, B follows
        # ~full[half] as a flip-flop of its own, kept equal to it from the events that change
        # it (below), so that `run_start` is one gate from three registers. As a lookup by
        # `half`, it was on the critical path at 2 x 256 x 2 on the ECP5-85F with
        # bcast_fanout=1 in all three seeds: `loading` (o.ready) or the plane register's valid
        # through `loading`'s next value into its ready copies (which took that one net
        # then), 5.71 to 6.19 ns, bench/bitserial-fanout.
        half_free = Signal(name="ld_half_free", init=1)
        # The loop counts as triples (see word_t): the latest B's k_chunks (reset like
        # b_cfg's to 1), and the loading run's k_chunks and n.
        b_kc_t, ld_kc_t, ld_n_t = (
            _triple_regs(cfg[name], f"{prefix}_{name}")
            for prefix, name in (("b", "k_chunks"), ("ld", "k_chunks"), ("ld", "n")))
        first_kc_t = tuple(Mux(word_cfg["keep_b"], b, w)
                           for b, w in zip(b_kc_t, word_t["k_chunks"]))
        emptied, emptied_half = s.late["emptied"]
        m.d.comb += run_start.eq(~s.loading & p2s.o.valid & half_free)
        with m.If(run_start):
            # A run's first word is in the converter and its half is free: start it.
            m.d.sync += load_a.eq(1)
            for name in s.CFG:
                m.d.sync += cfg[name].eq(word_cfg[name])
            # (B's counts serve a run that loads B: the word's, never the resident B's.)
            m.d.sync += [Cat(*ld_kc_t).eq(Cat(*first_kc_t)), Cat(*ld_n_t).eq(Cat(*word_t["n"]))]
            with m.If(word_cfg["keep_b"]):
                for name in s.B_CFG:
                    m.d.sync += cfg[name].eq(s.b_cfg[name])
            with m.Else():
                # A new B: into the half the latest B is not in (no run alive reads it).
                m.d.sync += b_half.eq(~b_half)
                for name in s.B_CFG:
                    m.d.sync += s.b_cfg[name].eq(word_cfg[name])
                m.d.sync += Cat(*b_kc_t).eq(Cat(*word_t["k_chunks"]))

        kc = cfg["k_chunks"]
        # The loops over a matrix's words (chunk k of a row; the row's bank in its tile; the
        # row), restarted for A at the run's start and for B when A is written; their last
        # flags are registers (see _loop_counter), as is the converter's last-plane flag.
        word_done = Signal()
        m.d.comb += word_done.eq(p2s.o.valid & s.loading & p2s.last)
        restart = run_start | to_b
        _, last_k, last_k_next = _loop_counter(
            m, restart, word_done,
            (run_start, first_kc_t, ld_kc_t), kc.shape(), name="ld_k", ahead=True)
        bank, last_bank = _loop_counter(m, restart, word_done & last_k,
                                        (run_start, p.dm, p.dn),
                                        range(max(p.dm, p.dn) + 1), name="ld_bank")
        _, last_row, last_row_next = _loop_counter(
            m, restart, word_done & last_k, (run_start, word_t["m"], ld_n_t),
            range(max(p.max_m, p.max_n) + 1), name="ld_row", ahead=True)
        # The matrix's last word is next (`matrix_last`), and it ends the run (`run_last`:
        # also B's, or A's of a weight-resident run), as flip-flops computed a cycle ahead
        # from the counters' next flags. The run's end (`done`) and the move to B are then one
        # gate from registers: as `last_k & last_row & (load_b | keep_b)` behind the
        # converter's valid they were the UP5K's critical path (44.4 MHz, into `ld_half`).
        final = Signal(name="ld_final")  # the matrix being loaded is the run's last
        final_next = Signal(name="ld_final_next")
        m.d.comb += final_next.eq(final)
        with m.If(run_start):
            m.d.comb += final_next.eq(word_cfg["keep_b"])
        with m.Elif(to_b):
            m.d.comb += final_next.eq(1)
        matrix_last = Signal(name="ld_matrix_last")
        run_last = Signal(name="ld_run_last")
        m.d.sync += [final.eq(final_next), matrix_last.eq(last_k_next & last_row_next),
                     run_last.eq(last_k_next & last_row_next & final_next)]
        # `loading` and each ready copy compute their next value on their own by one rule (a
        # run starts on a valid word with its half free and ends on the last plane of its
        # last word: run_start and word_done & run_last), each from itself and the
        # converter's copy of o.valid beside it (and of the last-plane flag where the
        # converter has copies: P2S's slices; PlaneInput's planes take the control's). With
        # one `loading_next` net for all of them, its LUT sat by the control, and `loading`
        # through three LUTs into it and then into the planes' copy 66 rows away was the
        # critical path at 8 x 256 x 8 with spacing 1 on the ECP5-85F (7.95 ns, 4.54 of it
        # that one net, 125.79 MHz, bench/bitserial-fanout run
        # `8x256x8-planes-packed-fanout2-spacing1-finalflop`).
        def loading_next(ready, valid, last):
            return Mux(ready, ~(valid & last & run_last), valid & half_free)

        m.d.sync += s.loading.eq(loading_next(s.loading, p2s.o.valid, p2s.last))
        ready_nexts = [Signal(name=f"ld_ready{k}_next") for k in range(p2s.ready_count)]
        p2s.ready_copies = register_copies(m, "ld_ready", ready_nexts, p2s.ready_count)
        for nxt, ready, valid, last in zip(ready_nexts, p2s.ready_copies, p2s.valid_copies,
                                           p2s.last_copies):
            m.d.comb += nxt.eq(loading_next(ready, valid, last))
        # The write address tile_base + plane kc + k, kept in a register and stepped with the
        # counters like the read addresses in _compute (no three-term adder before the port).
        tile_base = Signal(range(max(p.lhs_depth, p.rhs_depth) + 1))
        k_base = Signal.like(tile_base)  # tile_base + k: plane 0 of chunk k
        # The tiles begun so far, the current row's included: what the matrix's last word
        # writes, with no `tiles + (bank == 0)` behind the bank counter (that sum into an
        # entry's tile count was the critical path at 2 x 256 x 2 on the ECP5-85F, 5.86 ns,
        # 4.01 of it routing, bench/bitserial-fanout). A row starts a tile at bank 0, so the
        # count steps when the row after a tile's last bank begins.
        tiles = Signal(range(max(p.m_tiles(p.max_m), p.n_tiles(p.max_n)) + 1), init=1,
                       name="ld_tiles")
        addr = Signal.like(tile_base)

        # The writes are registered (address, data, bank enables): the enables reach every
        # block RAM of a buffer, and from the loader's state through the bank decode that
        # was the longest path (7.4 ns of routing at 4 x 256 x 4 on the ECP5-85F). A plane
        # is written the cycle after the loader takes it; the compute stage first reads a
        # half three cycles after the loader hands it on, so it sees every write.
        if not p.bcast_fanout:
            plane = delay(m, Const(1), p2s.o.payload.plane, 1, name="wr_plane")
        for name, mems, phase, banks, top, bits in (
                ("wr_a", lhs, load_a, p.dm, half, s.lhs_bits),
                ("wr_b", rhs, load_b, p.dn, b_half, s.rhs_bits)):
            en = Signal(banks, name=f"{name}_en")
            m.d.sync += en.eq(Mux(p2s.o.valid & phase, Const(1, banks) << bank, 0))
            waddrs = self._addr_copies(m, f"{name}_addr", Cat(addr[:bits], top), len(mems))
            if p.bcast_fanout:
                # A kept copy of the plane register for each bank (row of A, column of B):
                # with the broadcast registers in copies, one plane register reaching every
                # bank's block RAMs across the die became the critical path at 8 x 256 x 4
                # on the ECP5-85F (8.55 of 9.30 ns routing, bench/bitserial-fanout).
                data_in = Cat(*register_copies(m, f"{name}_plane", p2s.o.payload.plane,
                                               banks, reset_less=True))
            else:
                data_in = plane.replicate(banks)
            per = banks // len(mems)
            for k, (mem, waddr) in enumerate(zip(mems, waddrs)):
                wp = mem.write_port(granularity=p.dk)
                m.d.comb += [wp.addr.eq(waddr),
                             wp.data.eq(data_in[k * per * p.dk:(k + 1) * per * p.dk]),
                             wp.en.eq(en[k * per:(k + 1) * per])]

        with m.If(p2s.o.valid & s.loading):
            m.d.sync += addr.eq(addr + kc)
            with m.If(p2s.last):
                m.d.sync += [addr.eq(k_base + 1), k_base.eq(k_base + 1)]
                with m.If(last_k):
                    # The next row of the tile (another bank) starts at the tile's start.
                    m.d.sync += [addr.eq(tile_base), k_base.eq(tile_base)]
                    with m.If(last_bank):
                        # The next tile starts right after this one's last word.
                        m.d.sync += [tile_base.eq(addr + 1), addr.eq(addr + 1),
                                     k_base.eq(addr + 1), tiles.eq(tiles + 1)]
                    with m.If(last_row):
                        m.d.sync += [tile_base.eq(0), tiles.eq(1), addr.eq(0), k_base.eq(0)]

        # The matrix's last word: A's tile count, or B's; then B, or the run's end.
        with m.If(word_done & matrix_last):
            with m.If(load_a):
                _put(m, s.ent_mt, half, tiles)
            with m.Else():
                m.d.sync += s.b_nt.eq(tiles)
        m.d.comb += to_b.eq(word_done & matrix_last & ~final)
        with m.If(to_b):
            m.d.sync += [load_a.eq(0), load_b.eq(1)]
        with m.If(word_done & run_last):
            # Hand the run to the compute stage; the next run goes to ~half.
            m.d.sync += [load_a.eq(0), load_b.eq(0), half.eq(~half),
                         half_free.eq(~s.full[~half] | (emptied & (emptied_half != half)))]
            m.d.comb += s.filled.eq(1)
            _put(m, s.ent_b, half, b_half)
            for name in s.RUN_CFG:
                _put(m, s.ent_cfg[name], half, cfg[name])
            with m.If(load_a):
                _put(m, s.ent_nt, half, s.b_nt)
            with m.Else():
                _put(m, s.ent_nt, half, tiles)
        with m.Else():  # only the compute stage changes full[half] meanwhile
            m.d.sync += half_free.eq(half_free | (emptied & (emptied_half == half)))

    # -- The schedule over the DPU array. ----------------------------------------------------
    def _compute(self, m, s, lhs, rhs, res):
        p = self.params
        cfg = s.cp  # the computing run's signedness (its counts live in the loop counters)
        # Operand addresses, kept in registers and stepped with the counters (BISMO's address
        # generators: a register plus a step, no adder in front of the read port). The read
        # address of step (mt, nt, i, j, k) is l_addr = l_tile + l_plane + k and r_addr =
        # r_tile + r_plane + k; each base below is where the address returns to when the
        # counter under it wraps, and every move is +1, a copy or 0.
        l_addr = Signal(range(p.lhs_depth + 1))
        l_plane = Signal.like(l_addr)  # l_tile + i kc: the start of A's plane i
        l_tile = Signal.like(l_addr)  # mt wa kc: the start of A's tile mt
        r_addr = Signal(range(p.rhs_depth + 1))
        r_tile = Signal.like(r_addr)  # nt wb kc: the start of B's tile nt
        c_addr = Signal(range(max(p.result_depth, 2)))  # the result tile (mt, nt)
        l_half, r_half, c_half = Signal(), Signal(), Signal()
        # `computing` and its next value: with bcast_fanout, kept copies of the register (see
        # below), so that the control, the address generators and the step flags each have one
        # beside them.
        computing_next = Signal(name="computing_next")
        computing = s.computing  # the control's copy
        cs, rw = s.cp_entry, s.cp_res  # the entry computed, the result half written
        # full[cs] and rclaim[rw] as flip-flops of their own (`entry_full`, `half_claimed`),
        # kept equal to them from the events that change them, so that `start`'s next value
        # is a few gates from registers. As a lookup by cs and rw it fanned out to every counter's
        # enable from two multiplexers (the UP5K's critical path, 40.2 MHz at 2x32x2).
        # `start` (~computing & entry_full & ~half_claimed) is a flip-flop too, computed a
        # cycle ahead from the three registers' next values (below): it drives every loop
        # counter's load and the run's configuration. (It wrote the readout's entries too;
        # a copy of `end` does that now, below.)
        # As a gate, nextpnr placed it among those loads, 63 rows from `half_claimed`, and
        # `half_claimed` -> `start` -> `half_claimed` was the critical path at 8 x 256 x 8 on
        # the ECP5-85F (10.29 ns, 8.89 of it routing, 97.22 MHz; bench/bitserial-fanout
        # critical-path-8x256x8-fanout2-ctlcopies.txt).
        # With bcast_fanout, `start` is two kept copies of one register: the control's
        # (`half_claimed`'s and `computing`'s next values, the result half's claim) and one
        # for the far loads (the five loop counters, the run's configuration and operand
        # halves). With one register driving both, nextpnr placed it among the far loads, 38
        # rows from `half_claimed`, and `start` -> `half_claimed` / `entry_full` -> `start`
        # was the critical path at 8 x 256 x 8, spacing 1, on the ECP5-85F (7.61 ns, 6.21 of
        # it routing, 131.44 MHz; bench/bitserial-fanout
        # critical-path-8x256x8-fanout2-spacing1.txt). (`load` also sets the loop counters'
        # next last flags, and through them `end`'s next value, as `start` did.)
        start = Signal(name="start")  # the control's copy
        end = Signal(name="end")  # the run's last step
        entry_full = Signal(name="entry_full")
        half_claimed = Signal(name="half_claimed")
        entry_full_next = Signal(name="entry_full_next")
        half_claimed_next = Signal(name="half_claimed_next")
        (filled, fh), (freed, rh) = s.late["filled"], s.late["freed"]
        with m.If(end):  # the next run's entry and result half: ~cs, ~rw
            m.d.comb += [entry_full_next.eq(s.full[~cs] | (filled & (fh != cs))),
                         half_claimed_next.eq(s.rclaim[~rw] & ~(freed & (rh != rw)))]
        with m.Else():
            m.d.comb += [entry_full_next.eq(entry_full | (filled & (fh == cs))),
                         half_claimed_next.eq((half_claimed | start)
                                              & ~(freed & (rh == rw)))]
        m.d.sync += [entry_full.eq(entry_full_next), half_claimed.eq(half_claimed_next)]
        starts = self._addr_copies(m, "start",
                                   ~computing_next & entry_full_next & ~half_claimed_next,
                                   2 if p.bcast_fanout else 1, reset_less=False)
        load = starts[-1]  # the far loads' copy
        m.d.comb += [start.eq(starts[0]), computing_next.eq(computing)]
        with m.If(start):
            # Start the next loaded run (its operand half was filled, its result half free).
            m.d.comb += computing_next.eq(1)
            _put(m, s.rclaim, rw, 1)
        with m.If(load):
            m.d.sync += [l_half.eq(cs), r_half.eq(s.ent_b[cs]),
                         c_half.eq(rw)]
            for name, reg in cfg.items():
                m.d.sync += reg.eq(s.ent_cfg[name][cs])
        # The loop counters, innermost first, each with its last flag in a register (no
        # compare or subtraction between a counter and the address and step logic).
        # Each count is a choice between the two entries by `cs` (_loop_counter's `(sel, a,
        # b)`): the subtraction and compares are made on each entry's registers, and `cs`
        # meets only the multiplexer. (With the entry looked up first, `cp_entry` through
        # the lookup and the subtraction into `mt_left` was the critical path at 2 x 256 x 2
        # on the ECP5-85F, 5.87 ns, bench/bitserial-fanout.)
        # The subtraction and compares are themselves registers (`*_as_top`, `*_is1`, `*_is2`)
        # that follow their entry a cycle behind: the loader writes an entry no later than
        # the cycle it hands the run on, the compute stage sees that a cycle late
        # (handover_latency) and `start` is a register after that, so they hold the entry's
        # values when `start` reads them. (With the compares after the entry registers,
        # `cp_entry` through `mt == 1`'s choice and the five loops' next last flags into
        # `end` was the critical path at 2 x 256 x 2, 6.0 ns, bench/bitserial-fanout.)
        entries = {**{name: s.ent_cfg[name] for name in ("k_chunks", "wb", "wa")},
                   "nt": s.ent_nt, "mt": s.ent_mt}
        count = {name: (cs, _triple_behind(m, e[1]), _triple_behind(m, e[0]))
                 for name, e in entries.items()}
        # The loops' cumulative last flags (`kj` = last_k & last_j, `kji`, `kjin`, `kjinm` the
        # run's last step) as flip-flops computed a cycle ahead from the counters' next
        # flags: each loop's advance and each address move below is then one gate from
        # registers. (With the ANDs of the flags in front of them, the outer counters'
        # enables were a UP5K critical path on that way, at 2 x 32 x 2.)
        k, last_k, k_next = _loop_counter(m, load, computing, count["k_chunks"],
                                          self.k_chunks.shape(), name="k", ahead=True)
        kj, kji, kjin, kjinm = (Signal(name=n) for n in ("last_kj", "last_kji", "last_kjin",
                                                          "last_kjinm"))
        j, last_j, j_next = _loop_counter(m, load, computing & last_k, count["wb"],
                                          self.wb.shape(), name="j", ahead=True)
        i, last_i, i_next = _loop_counter(m, load, computing & kj, count["wa"],
                                          self.wa.shape(), name="i", ahead=True)
        nt, last_nt, nt_next = _loop_counter(m, load, computing & kji, count["nt"],
                                             s.nt_range, name="nt", ahead=True)
        mt, last_mt, mt_next = _loop_counter(m, load, computing & kjin, count["mt"],
                                             s.mt_range, name="mt", ahead=True)
        kjinm_next = Signal(name="last_kjinm_next")
        m.d.comb += kjinm_next.eq(k_next & j_next & i_next & nt_next & mt_next)
        m.d.sync += [kj.eq(k_next & j_next), kji.eq(k_next & j_next & i_next),
                     kjin.eq(k_next & j_next & i_next & nt_next), kjinm.eq(kjinm_next)]
        # The run's last step (`computing & kjinm`): its operand half is free after this read,
        # its entry goes back to the loader. A flip-flop computed a cycle ahead, so that
        # `half_claimed`, `entry_full`, `cs`, `rw` and `computing` itself are one gate from
        # registers.
        # With bcast_fanout, a kept copy of it writes the readout's view of the run (its tile
        # counts, read when the result half is full, `latency` cycles after `end`), so that
        # neither `end` nor `start` has loads in the readout.
        ends = self._addr_copies(m, "end", computing_next & kjinm_next,
                                 2 if p.bcast_fanout else 1, reset_less=False)
        m.d.comb += end.eq(ends[0])
        with m.If(ends[-1]):
            # (The entry stays the run's until the loader sees it emptied, after `end`.)
            _put(m, s.res_mt, rw, s.ent_mt[cs])
            _put(m, s.res_nt, rw, s.ent_nt[cs])
        with m.If(end):
            m.d.comb += [computing_next.eq(0), s.emptied.eq(1)]
            m.d.sync += [cs.eq(~cs), rw.eq(~rw)]
        # The copies of `computing`: with bcast_fanout one for the control above (start, end,
        # the loop counters), one for the address generators below, one for the step flags.
        # (With one register driving all three, nextpnr placed it 35 rows from `end` and
        # `end` 40 rows from `half_claimed`: `computing` -> `end` -> `half_claimed` was the
        # critical path at 8 x 256 x 8 on the ECP5-85F, 8.94 ns, 7.54 of it routing,
        # bench/bitserial-fanout critical-path-8x256x8-fanout2.txt.)
        copies = self._addr_copies(m, "computing", computing_next, 3 if p.bcast_fanout else 1,
                                   reset_less=False)
        m.d.comb += computing.eq(copies[0])
        gen_computing, step_computing = copies[-2:] if p.bcast_fanout else copies * 2
        # The address generators. Each move overrides the one before it (kj implies last_k,
        # and so on).
        with m.If(gen_computing):
            m.d.sync += [l_addr.eq(l_addr + 1), r_addr.eq(r_addr + 1)]
        with m.If(gen_computing & last_k):
            # Next plane of B (r_addr + 1 already is), the same plane of A again.
            m.d.sync += l_addr.eq(l_plane)
        with m.If(gen_computing & kj):
            # Next plane of A (l_addr + 1), B from the start of its tile.
            m.d.sync += [l_addr.eq(l_addr + 1), l_plane.eq(l_addr + 1), r_addr.eq(r_tile)]
        with m.If(gen_computing & kji):
            # Next tile of B (r_addr + 1), A from the start of its tile.
            m.d.sync += [l_addr.eq(l_tile), l_plane.eq(l_tile), r_addr.eq(r_addr + 1),
                         r_tile.eq(r_addr + 1), c_addr.eq(c_addr + 1)]
        with m.If(gen_computing & kjin):
            # Next tile of A (l_addr + 1), B from the start.
            m.d.sync += [l_addr.eq(l_addr + 1), l_plane.eq(l_addr + 1),
                         l_tile.eq(l_addr + 1), r_addr.eq(0), r_tile.eq(0)]
        with m.If(gen_computing & kjinm):
            m.d.sync += [l_addr.eq(0), l_plane.eq(0), l_tile.eq(0), c_addr.eq(0)]

        # Step flags, computed with the counters and delayed to meet their operand words at
        # the DPUs' accumulators.
        one = Const(1)
        shift_w = max(1, (p.max_wa + p.max_wb - 2).bit_length())
        step = {
            "valid": step_computing,
            "first": (i == 0) & (j == 0) & (k == 0),
            "last": kji,
            "final": kjinm,
            "negate": (cfg["a_signed"] & last_i) ^ (cfg["b_signed"] & last_j),
        }
        shift = Signal(shift_w)
        m.d.comb += shift.eq(i + j)
        # The operand pipeline (BISMO, Umuroglu et al., FPL 2018, section III: registered
        # memory address and data, a broadcast register in front of the array):
        #   step t:     l_addr / r_addr, the address generators (+1, a copy or 0)
        #   step t + 1: `*_raddr`, a copy of the address with no logic after it but the
        #               read port. The generator's register feeds its own +1 adder and
        #               multiplexers; when it also drove the block RAMs, nextpnr placed it
        #               among them, 16 columns from its adder, and that loop was the
        #               critical path (7.04 ns, 4.79 of it routing, at 4 x 256 x 4 on the
        #               ECP5-85F: bench/bitserial-fanout/critical-paths.txt).
        #   step t + 2: the read port's register (the block RAM's own)
        #   step t + 3: `*_data` read-data register (hw.ram.registered_read); on ECP5 the
        #               synthesis flow moves it into the DP16KD's output register
        #               (boards/outreg.py), which takes the RAM's 5.5 ns clock-to-data off
        #               the path to the broadcast register (0.9 ns with it).
        #   step t + 4: with bcast_stages S > 1, `*_pre` registers, a word each, to t + 2 + S
        #               (each hop from the block RAMs a cycle of its own); then
        #   step t + 3 + S: `*_bcast` register, from which each word fans out to the Dn (Dm)
        #               DPUs of its row (column): the long wires to the array get a cycle
        #               of their own.
        # Then the popcount tree (registered every `spacing` levels), the term register and
        # the accumulator.
        # With bcast_fanout, `*_raddr` is a kept copy a bank (_memories).
        # Row r's A read address goes through row_skews[r] more registers (b_flow="systolic";
        # else 0): its A word meets the B words that reach row r that many registers down
        # the columns. Column c's B read address likewise col_skews[c] (a_flow="systolic").
        row_skews, col_skews = p.row_skews, p.col_skews

        def bank_delays(side, raddrs):
            skews = row_skews if side == "l" else col_skews
            return [delay(m, one, raddr, skews[k], name=f"{side}_raddr{k}_skew")
                    for k, raddr in enumerate(raddrs)]
        l_data, r_data = (
            Cat(*(registered_read(m, mem, raddr, name=f"{side}{k}" if len(mems) > 1 else side)
                  for k, (mem, raddr) in enumerate(zip(mems, bank_delays(side, self._addr_copies(
                      m, f"{side}_raddr", Cat(gen[:bits], gen_half), len(mems)))))))
            for side, mems, gen, gen_half, bits in (("l", lhs, l_addr, l_half, s.lhs_bits),
                                                    ("r", rhs, r_addr, r_half, s.rhs_bits)))
        # With bcast_stages > 1, a register a word before the broadcast register (or its
        # copies) for each added stage: each hop from the block RAMs to the DPUs has a cycle.
        l_data, r_data = (delay(m, one, data_, p.bcast_stages - 1, name=f"{side}_pre",
                                reset_less=True)
                          for side, data_ in (("a", l_data), ("b", r_data)))
        if p.bcast_fanout:
            # Copies of each word's broadcast register, each beside the group of at most
            # `bcast_fanout` DPUs it drives: the route to the copies (from the read-data
            # register, or the last `*_pre` one) is a whole cycle with no logic after it.
            # (One register a word reaching the 8 DPUs of its column was the critical path
            # at 8x256x4 on the ECP5-85F: 8.77 ns, 7.30 of it routing.)
            a_of, b_of = (broadcast_groups(p.dn, p.bcast_fanout),
                          broadcast_groups(p.dm, p.bcast_fanout))

            def word_copies(side, data_, count, flow):
                # Each word's copies: side by side (broadcast), or with a systolic flow a
                # chain along its row (A) or down its column (B), the first group's
                # register loading the word (the broadcast stage), each next group's from
                # the one before, a cycle later.
                words = []
                for w in range(len(data_) // p.dk):
                    word = data_[w * p.dk:(w + 1) * p.dk]
                    if flow != "systolic":
                        words.append(register_copies(m, f"{side}_bcast{w}_", word, count,
                                                     reset_less=True))
                        continue
                    chain = []
                    for g in range(count):
                        word = delay(m, one, word, 1, name=f"{side}_sys{w}_{g}")
                        chain.append(word)
                    words.append(chain)
                return words
            a_copies = word_copies("a", l_data, a_of[-1] + 1, p.a_flow)
            b_copies = word_copies("b", r_data, b_of[-1] + 1, p.b_flow)

            def operands(r, c):
                return a_copies[r][a_of[c]], b_copies[c][b_of[r]]
        else:
            a_bcast = delay(m, one, l_data, 1, name="a_bcast")
            b_bcast = delay(m, one, r_data, 1, name="b_bcast")

            def operands(r, c):
                return (a_bcast[r * p.dk:(r + 1) * p.dk], b_bcast[c * p.dk:(c + 1) * p.dk])
        ahead = self._operand_stages + tree_latency(p.dk, p.spacing, p.top_registers)
        flags = {name: delay(m, one, step[name], ahead, name=f"{name}_c",
                             reset_less=name == "last")
                 for name in ("valid", "last", "final")}
        caddr = Signal(s.res_bits + 1)
        m.d.comb += caddr.eq(Cat(c_addr[:s.res_bits], c_half))
        caddr_c = delay(m, one, caddr, ahead, name="caddr_c")
        # The step flags at the DPUs' operands (the broadcast registers, or with dpu_inputs
        # the DPUs' input registers); each DPU delays its own copy through its popcount tree
        # (_StepFlags). With bcast_fanout, the last register before the DPUs is a kept copy
        # for the DPUs of each result memory (as the operands' broadcast registers are
        # copied), so that no flag register drives all Dm Dn DPUs across the die.
        step["shift"] = shift

        # A copy for the DPUs of each result memory: a row's (a row and group of columns with
        # a_flow="systolic"), all of them without F; each DPU's copy index; how late each
        # group works.
        groups, group_skews = p.result_memories, p.result_skews
        group_of = {dpu: g for g, dpus in enumerate(groups) for dpu in dpus}

        def at_operands(name):  # a register for each group of DPUs
            reset_less = name != "valid"
            copies = self._addr_copies(
                m, f"{name}_b_row", delay(m, one, step[name], self._operand_stages - 1,
                                          name=f"{name}_b", reset_less=reset_less),
                len(groups), reset_less=reset_less)
            # Each group's, as many cycles late as its operands.
            return [delay(m, one, copy, group_skews[g], name=f"{name}_b_skew{g}",
                          reset_less=reset_less)
                    for g, copy in enumerate(copies)]
        at_bcast = {name: at_operands(name) for name in ("valid", "first", "negate", "shift")}
        accs = []
        for r in range(p.dm):
            for c in range(p.dn):
                a, b = operands(r, c)
                if p.dpu_inputs:
                    # The DPU's input register (BISMO's), one kept copy a DPU: the DPUs of a
                    # group load the same value, which Yosys would otherwise merge.
                    ab, = register_copies(m, f"dpu{r}_{c}_in", Cat(a, b), 1, reset_less=True)
                    a, b = ab[:p.dk], ab[p.dk:]
                count, lat = popcount(m, one, a, p.spacing, p.popcount, mask=b,
                                      top_registers=p.top_registers, name=f"dpu{r}_{c}")
                fl = add_kept(m, f"flags{r}_{c}", _StepFlags(shift_w, lat))
                m.d.comb += [fl.i[name].eq(at_bcast[name][group_of[r * p.dn + c]])
                             for name in at_bcast]
                accs.append(shift_negate_accumulate(
                    m, one, count, fl.o["shift"], fl.o["negate"], fl.o["first"],
                    fl.o["valid"], acc_width=p.accumulator_width, max_shift=p.max_shift,
                    name=f"acc{r}_{c}", register_term=self._acc_stages == 2))

        # The finished tile goes to the result buffer the cycle after its last step is in
        # the accumulators; after a run's final tile, its result half goes to the readout.
        # The write address and enable: with bcast_fanout a copy for each result memory
        # (_memories), the last of their registers.
        before = self._acc_stages - 1
        waddrs = self._addr_copies(m, "caddr_w", delay(m, one, caddr_c, before, name="caddr_wc"),
                                   len(res))
        wens = self._addr_copies(m, "done", delay(m, one, flags["valid"] & flags["last"],
                                                  before, name="done_c", reset_less=False),
                                 len(res), reset_less=False)
        final = delay(m, one, flags["valid"] & flags["final"], self._acc_stages + self._skew,
                      name="final_w", reset_less=False)
        # Each memory's results (a row's, or a row and column group's), as late as its DPUs
        # work (group_skews; one memory: 0).
        waddrs = [delay(m, one, w, group_skews[k], name=f"caddr_w_skew{k}")
                  for k, w in enumerate(waddrs)]
        wens = [delay(m, one, w, group_skews[k], name=f"done_skew{k}", reset_less=False)
                for k, w in enumerate(wens)]
        for mem, dpus, waddr, wen in zip(res, groups, waddrs, wens):
            wp = mem.write_port()
            m.d.comb += [wp.addr.eq(waddr), wp.data.eq(Cat(*(accs[d] for d in dpus))),
                         wp.en.eq(wen)]
        # The half from a write address as late as `final`: the first of the latest memories.
        last = group_skews.index(self._skew)
        m.d.comb += [s.rset.eq(final), s.rset_half.eq(waddrs[last][-1])]
        with m.If(s.rset):
            _put(m, s.rfull, s.rset_half, 1)

    # -- C out, a tile a beat, from one half of the result buffer. ----------------------------
    def _readout(self, m, s, res):
        # The readout pipeline advances (ce: the control; ce_datas: the result memories' read
        # ports and the tile registers): kept copies of one register (see the skid below).
        ce = Signal()
        rs = s.rs  # the half read out
        reading = Signal()
        addr = Signal(s.res_bits)  # mt n_tiles + nt, counted
        begin = Signal()
        # rfull[rs] as a flip-flop of its own (`o_half_full`), kept equal to it from the
        # events that change it, so that `begin` is one gate from registers. (As a lookup by
        # `rs`, `rs` through it and `begin` into the last flags' next values was the critical
        # path at 2 x 256 x 2 on the ECP5-85F, 6.08 ns with nextpnr's default seed.)
        half_full = Signal(name="o_half_full")
        m.d.comb += begin.eq(~reading & half_full)
        with m.If(begin):
            m.d.sync += reading.eq(1)
        fire = Signal()
        m.d.comb += fire.eq(ce & reading)
        # The tile loops keep their last flags in registers (_loop_counter), so that the
        # output's handshake (ce) is the counters' enable and little else. Their counts are
        # a choice between the two result halves' by `rs`, each as registers a cycle behind
        # the half's tile counts (_triple_behind): those are written with the run's `end`,
        # its last tile at least the operand and tree stages later. (With the count looked
        # up by `rs` and `- 1` after it, a half's tile count into the counter's `left` was
        # the critical path at 2 x 256 x 2 on the ECP5-85F in 2 of 3 seeds with
        # --placer-heap-timingweight 40, 5.58 and 5.55 ns, bench/nextpnr-options.)
        _, last_nt, nt_next = _loop_counter(
            m, begin, fire, (rs, _triple_behind(m, s.res_nt[1]), _triple_behind(m, s.res_nt[0])),
            s.nt_range, name="o_nt", ahead=True)
        _, last_mt, mt_next = _loop_counter(
            m, begin, fire & last_nt,
            (rs, _triple_behind(m, s.res_mt[1]), _triple_behind(m, s.res_mt[0])),
            s.mt_range, name="o_mt", ahead=True)
        # The half's last tile (last_nt & last_mt) as a flip-flop of its own, computed a
        # cycle ahead from the flags' next values, so that the half's end (`reading`, the
        # address, the half read) is one gate from registers. (As the AND of the two flags,
        # `last_o_mt` through it and two LUTs into `reading`, 45 rows away, was the critical
        # path at 8 x 256 x 8 on the ECP5-85F, 8.48 ns, 7.25 of it routing; bench/
        # bitserial-fanout critical-path-8x256x8-fanout2-spacing1-startcopy.txt.)
        final = Signal(name="o_final")
        m.d.sync += final.eq(nt_next & mt_next)
        # The read address (addr, rs) is a counter: no adder before the port. With several
        # result memories (_memories), each has its own kept copy of it, loaded with the
        # counter's next value.
        addr_next, rs_next = Signal.like(addr, name="o_addr_next"), Signal(name="rs_next")
        m.d.comb += [addr_next.eq(addr), rs_next.eq(rs)]
        m.d.sync += [addr.eq(addr_next), rs.eq(rs_next)]
        set_here = s.rset & (s.rset_half == rs)  # the compute stage fills half rs
        m.d.sync += half_full.eq(half_full | set_here)
        with m.If(fire):
            m.d.comb += addr_next.eq(addr + 1)
            with m.If(final):
                # The half is read (its last tile is on its way): back to the compute stage.
                m.d.comb += [addr_next.eq(0), rs_next.eq(~rs), s.freed.eq(1)]
                m.d.sync += [reading.eq(0), half_full.eq(s.rfull[~rs] | (s.rset & ~set_here))]
                _put(m, s.rfull, rs, 0)
        # The read port's register, then a read-data register (hw.ram.registered_read), then
        # the skid below; with several memories each has its own copy of the enable.
        data_copies = ([f"readout_ce_data{k}" for k in range(len(res))] if len(res) > 1
                       else ["readout_ce_data"])
        ce_datas = [Signal(name=name) for name in data_copies]
        if len(res) == 1:
            raddrs = [Cat(addr, rs)]
        else:
            # Each result memory's copy of the read address is a pipeline stage of its own,
            # loaded from the counter under its memory's copy of the enable: the counter's
            # flags and next value stay beside the counter, and the wire to each copy has a
            # cycle with only the copy's hold multiplexer on it. (As copies of the counter's
            # next value, the tile counter's last flag through the readout's logic into a
            # copy 22 rows away was the critical path at 8 x 256 x 8 on the ECP5-85F,
            # 8.68 ns, 7.44 of it routing, bench/bitserial-fanout
            # critical-path-8x256x8-fanout2-handover.txt.)
            raddr_d = [Signal(len(addr) + 1, name=f"o_raddr_d{k}") for k in range(len(res))]
            raddrs = register_copies(m, "o_raddr", raddr_d, len(res))
            m.d.comb += [d.eq(Mux(ce_d, Cat(addr, rs), q))
                         for d, q, ce_d in zip(raddr_d, raddrs, ce_datas)]
        tile = Cat(*(registered_read(m, mem, raddr, ce_d, name=f"o_tile{k}" if len(res) > 1
                                     else "o_tile")
                     for k, (mem, raddr, ce_d) in enumerate(zip(res, raddrs, ce_datas))))
        stages = [fire]
        for k in range(self.readout_latency):
            stages.append(delay(m, ce, stages[-1], 1, name=f"o_valid{k}", reset_less=False))
        last = delay(m, ce, final, self.readout_latency, name="o_last")
        # A skid register on o (hw.skid): o.ready reaches only the skid's valid flag, the
        # output multiplexer and the enable registers, not the loop counters, the result
        # memories' enables or the tile-wide registers. Kept copies of the enable: one for
        # the control, one for each result memory's read port and tile registers.
        out_valid = stages[-1]
        (ce_r, *ce_data_r), skid_valid = skid_output(
            m, self.o, out_valid, stages[-2],
            [(tile, self.o.payload.tile), (last, self.o.payload.last)],
            copies=("readout_ce", *data_copies), name="o")
        m.d.comb += [ce.eq(ce_r), s.r_busy.eq(Cat(*stages[1:], skid_valid).any())]
        m.d.comb += [mine.eq(theirs) for mine, theirs in zip(ce_datas, ce_data_r)]


class _StepFlags(Elaboratable):
    """One DPU's copy of the step flags, delayed through its popcount tree: a submodule kept
    apart through synthesis (:mod:`lowbit.hw.keep`), so that each copy's registers steer
    one accumulator rather than the whole array. The flags arrive from the broadcast-stage
    registers (one load per DPU). Only the flags are kept apart: the popcount tree and the
    accumulator stay in the engine's module, where Yosys maps them in fewer LUTs (a DPU of
    256 bits kept whole took 839 LUT4 and 142 PFUMX on ECP5 against about 706 LUT4)."""

    def __init__(self, shift_w, latency):
        self.latency = latency
        self.i = {name: Signal(name=name) for name in ("valid", "first", "negate")}
        self.i["shift"] = Signal(shift_w, name="shift")
        self.o = {name: Signal.like(v, name=f"{name}_o") for name, v in self.i.items()}

    def elaborate(self, platform):
        m = Module()
        for name, v in self.i.items():
            m.d.comb += self.o[name].eq(delay(m, Const(1), v, self.latency, name=name,
                                              reset_less=name != "valid"))
        return m


def _loop_counter(m, start, advance, first_count, shape, *, name, ahead=False):
    """A loop counter ``0 .. n - 1`` with its last flag (``counter == n - 1``) in a register.

    ``start`` begins a loop of ``n = first_count`` (>= 1) steps, ``n - 1`` kept in a register
    for the restart; ``advance`` steps the counter (``shape`` holds ``n``), back to 0 after
    its last value. ``start`` takes precedence. ``first_count`` may be a choice
    ``(sel, a, b)``: ``n = a`` if ``sel`` else ``b``, with ``a - 1``, ``b - 1`` and their
    compares with 1 made before the choice, so that a late ``sel`` (the loader's run start)
    meets only a multiplexer on its way to the registers (with the subtraction after the
    choice, that was the critical path, 7.63 ns at 4x256x4 on the ECP5-85F); ``a`` and ``b``
    may also be triples ``(n - 1, n == 1, n == 2)`` the caller has made. Returns
    ``(counter, last)``; ``last`` is a flip-flop, computed a cycle ahead, so the logic that
    the flag steers starts at a register.
    The flag comes from a second, down-counting register (``n - 1`` steps left .. 0), whose
    compare with 1 is itself a register: no adder or compare in front of the flag. (With
    ``counter + 1 == top`` the loader's row counter was the bit-serial engine's critical path
    at 4x256x4 on the ECP5-85F, 6.92 ns, ``bench/bitserial-fanout`` run ``spacing1``.)
    With ``ahead``, returns ``(counter, last, last_next)``: ``last_next`` is the flag's next
    value (combinational), for flags that combine it with others a cycle ahead."""
    top = Signal(shape, name=f"{name}_top")  # n - 1
    counter = Signal(shape, name=name)
    left = Signal(shape, name=f"{name}_left")  # steps left after this one
    last = Signal(name=f"last_{name}")
    # top == 0, top == 1 and left == 1 in flip-flops of their own, each set with the register
    # it describes: the flag's next value is then a multiplexer of single bits, with no
    # compare of a counter on its way (the cumulative flags of the schedule's five loops,
    # `last_kjinm`, were the critical path at 2 x 256 x 2 on the ECP5-85F with spacing=1:
    # 6.63 ns, bench/bitserial-fanout).
    top_zero, top_one, left_one = (Signal(name=f"{name}_{n}", init=n == "top_zero")
                                   for n in ("top_zero", "top_one", "left_one"))
    if isinstance(first_count, tuple):
        sel, a, b = first_count
        if isinstance(a, tuple):  # (n - 1, n == 1, n == 2) of each, made by the caller
            first_top, first_one, first_two = (Mux(sel, x, y) for x, y in zip(a, b))
        else:
            first_top = Mux(sel, a - 1, b - 1)
            first_one, first_two = Mux(sel, a == 1, b == 1), Mux(sel, a == 2, b == 2)
    else:
        first_top, first_one, first_two = first_count - 1, first_count == 1, first_count == 2
    last_next = Signal(name=f"last_{name}_next")
    m.d.comb += last_next.eq(last)
    m.d.sync += last.eq(last_next)
    with m.If(start):
        m.d.sync += [top.eq(first_top), counter.eq(0), left.eq(first_top),
                     top_zero.eq(first_one), top_one.eq(first_two), left_one.eq(first_two)]
        m.d.comb += last_next.eq(first_one)
    with m.Elif(advance):
        with m.If(last):
            m.d.sync += [counter.eq(0), left.eq(top), left_one.eq(top_one)]
            m.d.comb += last_next.eq(top_zero)
        with m.Else():
            m.d.sync += [counter.eq(counter + 1), left.eq(left - 1), left_one.eq(left == 2)]
            m.d.comb += last_next.eq(left_one)
    return (counter, last, last_next) if ahead else (counter, last)


def _triple(count):
    """``(n - 1, n == 1, n == 2)`` of a loop count ``n >= 1``, as :func:`_loop_counter` takes
    it."""
    return (count - 1)[:len(count)], count == 1, count == 2


def _triple_behind(m, entry):
    """Registers holding the :func:`_triple` of ``entry`` a cycle behind it, named after it,
    for a :func:`_loop_counter` that loads from the entry no earlier than two cycles after
    it is written."""
    regs = (Signal.like(entry, name=f"{entry.name}_as_top"), Signal(name=f"{entry.name}_is1"),
            Signal(name=f"{entry.name}_is2"))
    m.d.sync += Cat(*regs).eq(Cat(*_triple(entry)))
    return regs


def _triple_regs(like, name):
    """Registers for a :func:`_triple` of a count shaped ``like``, reset to that of 1."""
    return (Signal.like(like, name=f"{name}_top", init=0), Signal(name=f"{name}_is1", init=1),
            Signal(name=f"{name}_is2"))


def _put(m, entries, index, value):
    """``entries[index] <= value``, an ``if`` an entry rather than an Array on the left (whose
    one-armed case statements Verilator's lint reports as incomplete). Only the entry written
    is assigned, so two stages may write different entries in the same cycle."""
    for e, sig in enumerate(entries):
        with m.If(index == e):
            m.d.sync += sig.eq(value)


class _State:
    """The registers the three stages share: the two run entries (operand halves) and the
    two result halves, with what each stage needs to know of a run."""

    #: Sampled with each word; what a run is.
    CFG = ("wa", "wb", "a_signed", "b_signed", "m", "n", "k_chunks", "keep_b")
    #: What a weight-resident run takes from the run that loaded its B.
    B_CFG = ("wb", "b_signed", "n", "k_chunks")
    #: What the compute stage reads of a run.
    RUN_CFG = ("wa", "wb", "a_signed", "b_signed", "k_chunks")
    #: The loader's loop counts, carried with each word as (n - 1, n == 1, n == 2).
    COUNTS = ("m", "n", "k_chunks")

    def __init__(self, p, unit):
        def like(name, suffix, **kw):
            return Signal.like(getattr(unit, name), name=f"{suffix}_{name}", **kw)

        # Address bits of one half of each buffer (the half is the bit above them).
        bits = p.buffer_addr_bits
        self.lhs_bits, self.rhs_bits, self.res_bits = (
            bits[name] - 1 for name in ("lhs", "rhs", "result"))
        self.mt_range = mt_range = range(p.m_tiles(p.max_m) + 1)
        self.nt_range = nt_range = range(p.n_tiles(p.max_n) + 1)
        self.ld = {name: like(name, "ld") for name in self.CFG}
        self.cp = {name: like(name, "cp") for name in ("a_signed", "b_signed")}
        # The latest B's configuration; reset to a harmless one (a weight-resident run before
        # any B then computes with zeros rather than hanging the loader).
        self.b_cfg = {name: like(name, "b", init=1 if name in ("wb", "n", "k_chunks") else 0)
                      for name in self.B_CFG}
        self.b_nt = Signal(nt_range, name="b_nt", init=1)
        self.b_half = Signal(name="b_half")
        self.ld_half = Signal(name="ld_half")
        self.loading = Signal(name="loading")
        self.p2s_busy = Signal(name="p2s_busy")
        # Two run entries, one per operand half: filled by the loader, emptied by compute.
        self.full = Array(Signal(name=f"full{e}") for e in range(2))
        self.ent_b = Array(Signal(name=f"ent{e}_b_half") for e in range(2))
        self.ent_mt = Array(Signal(mt_range, name=f"ent{e}_mt") for e in range(2))
        self.ent_nt = Array(Signal(nt_range, name=f"ent{e}_nt") for e in range(2))
        self.ent_cfg = {name: Array(like(name, f"ent{e}") for e in range(2))
                        for name in self.RUN_CFG}
        self.cp_entry = Signal(name="cp_entry")
        self.cp_res = Signal(name="cp_res")
        self.computing = Signal(name="computing")
        # The events that change the entries and result halves the compute stage waits for
        # (high for a cycle): the loader fills entry ld_half, the readout frees half rs;
        # `full` and `rclaim` change with their late copies (`late`, below).
        self.filled = Signal(name="ev_filled")
        self.freed = Signal(name="ev_freed")
        # ... and the compute stage hands entry cp_entry back to the loader.
        self.emptied = Signal(name="ev_emptied")
        # Each event as the other stage sees it: a register a cycle later, with the entry or
        # half it concerns (:meth:`BitSerialMatmul._handover`).
        self.late = {name: (Signal(name=f"ev_{name}_d"), Signal(name=f"ev_{name}_half"))
                     for name in ("filled", "freed", "emptied")}
        # Two result halves: claimed by compute when it starts a run, full when the run's
        # last tile is written; `rfull` cleared when the readout has read it, `rclaim` when
        # the compute stage sees that a cycle later (`late["freed"]`).
        self.rclaim = Array(Signal(name=f"rclaim{e}") for e in range(2))
        self.rfull = Array(Signal(name=f"rfull{e}") for e in range(2))
        # The compute stage sets rfull[rset_half] (its run's last tile is written).
        self.rset = Signal(name="ev_rset")
        self.rset_half = Signal(name="ev_rset_half")
        self.r_busy = Signal(name="r_busy")  # results in the readout pipeline
        self.rs = Signal(name="rs")  # the result half the readout reads
        self.res_mt = Array(Signal(mt_range, name=f"res{e}_mt") for e in range(2))
        self.res_nt = Array(Signal(nt_range, name=f"res{e}_nt") for e in range(2))
