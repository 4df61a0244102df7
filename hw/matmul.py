"""The bit-serial matrix engine, end to end: P2S loading, the DPU array, row-major results
(BISMO semantics: Umuroglu, Rasnayake and Sjalander, FPL 2018; SPEC section 5).

One run: the ``M`` rows of ``A`` and the ``N`` columns of ``B`` (rows of ``B^T``) arrive on one
input stream as words of ``Dk`` elements; the P2S converter turns each into its bit planes,
which go straight into the operand buffers (:func:`lowbit.golden.bitserial.lhs_words`
layout). The controller then runs the schedule of :func:`lowbit.golden.bitserial.schedule`
over the ``Dm x Dn`` array of dot-product units, one step a cycle, and finally ``C``
streams out in row-major order. The run-time configuration is read from ports.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.bitserial import P2SParams
from .arith import delay
from .bitserial import P2S, shift_negate_accumulate
from .popcount import popcount_tree, tree_latency

__all__ = ["BitSerialMatmul"]


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
    i : In(stream.Signature(StructLayout({"data": Dk * W})))
        ``m * k_chunks`` words of ``A`` (row by row, chunk by chunk), then ``n * k_chunks``
        words of ``B^T``; element ``t`` of a word at bits ``[t W, (t + 1) W)``, ``W =
        max(max_wa, max_wb)``, only the low ``wa`` (``wb``) bits used.
    o : Out(stream.Signature(StructLayout({"c": signed(acc), "last": 1})))
        ``C`` row-major, ``last`` on its final element.
    busy : Out(1)
        High from the first operand word until the last result has left.

    The configuration is sampled when a run's first operand word reaches the converter (the
    engine is idle and the word waits at the converter's output); the ports may change for the
    next run as soon as that run's first word is offered.

    Latency and throughput
    ----------------------
    Loading takes ``wa`` cycles per word of ``A`` and ``wb`` per word of ``B`` (P2S keeps
    the bit rate), computing ``m_tiles n_tiles wa wb k_chunks`` cycles
    (:meth:`~lowbit.golden.bitserial.BitSerialParams.cycles`) plus :attr:`latency` to drain,
    and the results one a cycle.

    Pipeline
    --------
    Laid out as BISMO's execute stage (Umuroglu et al., FPL 2018, section III): each register
    is in the design, because Yosys does not retime for ECP5 or iCE40.

    - Address registers: the load write address and the operand read addresses are
      registers stepped with the loop counters (+1, a copy of a saved base, or 0), so no
      ``tile + plane + k`` adder sits in front of a memory port.
    - The read port's own register (the block RAM's, or a flip-flop after LUT RAM).
    - A read-data register right after the memory. Yosys 0.70 cannot put it into the ECP5
      DP16KD's output register (its map sets ``REGMODE`` to ``NOREG``), so it is a fabric
      register; it takes the block RAM's 5.5 ns clock-to-data off the popcount path.
    - A broadcast register, from which each operand word fans out to the ``Dn`` (``Dm``) DPUs
      of its row (column), so the wires across the array have a cycle to themselves.
    - In each DPU: AND, the popcount tree with a register every ``spacing`` levels, then the
      shift/negate accumulator. The step flags (valid, first, last, final, negate, shift,
      result address) are delayed by the same number of registers.
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
            "i": In(stream.Signature(data.StructLayout({"data": p.dk * self.elem_width}))),
            "o": Out(stream.Signature(data.StructLayout({"c": signed(p.accumulator_width),
                                                         "last": 1}))),
            "busy": Out(1),
        })

    # Registers from a schedule step's counters to its operands at the DPUs: the read port,
    # the read-data register, the broadcast register.
    _operand_stages = 3

    @property
    def latency(self):
        """Cycles from the last schedule step to its tile in the result buffer: the operand
        read, the read-data and broadcast registers, the popcount tree, the accumulator, the
        result write."""
        return self._operand_stages + tree_latency(self.params.dk, self.params.spacing) + 2

    @property
    def widths(self):
        p = self.params
        return {"acc": p.accumulator_width, "element": self.elem_width,
                "lhs_depth": p.lhs_depth, "rhs_depth": p.rhs_depth,
                "result_depth": p.result_depth, "lhs_width": p.lhs_width,
                "rhs_width": p.rhs_width, "result_width": p.result_width,
                "peak_binary_ops_per_cycle": p.peak_binary_ops_per_cycle}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        # Phases of a run, one-hot.
        load_a, load_b, compute, drain, readout = (Signal(name=n) for n in (
            "load_a", "load_b", "compute", "drain", "readout"))
        idle = ~(load_a | load_b | compute | drain | readout)
        m.d.comb += self.busy.eq(~idle | self.o.valid)

        m.submodules.lhs = lhs = memory.Memory(shape=p.lhs_width, depth=max(p.lhs_depth, 2),
                                               init=[])
        m.submodules.rhs = rhs = memory.Memory(shape=p.rhs_width, depth=max(p.rhs_depth, 2),
                                               init=[])
        m.submodules.res = res = memory.Memory(shape=p.result_width,
                                               depth=max(p.result_depth, 2), init=[])
        m_tiles = Signal(range(p.m_tiles(p.max_m) + 1))
        n_tiles = Signal(range(p.n_tiles(p.max_n) + 1))
        # The run's configuration, sampled as it starts.
        self.cfg = {name: Signal.like(getattr(self, name), name=f"cfg_{name}")
                    for name in ("wa", "wb", "a_signed", "b_signed", "m", "n", "k_chunks")}
        self._load(m, lhs, rhs, load_a, load_b, compute, idle, m_tiles, n_tiles)
        self._compute(m, lhs, rhs, res, compute, drain, readout, m_tiles, n_tiles)
        self._readout(m, res, readout, n_tiles)
        return m

    # -- Loading: P2S planes straight into the operand buffers. ------------------------------
    def _load(self, m, lhs, rhs, load_a, load_b, compute, idle, m_tiles, n_tiles):
        p = self.params
        m.submodules.p2s = p2s = P2S(self.p2s_params)
        wiring.connect(m, wiring.flipped(self.i), p2s.i)
        cfg = self.cfg
        w = Mux(load_b, cfg["wb"], cfg["wa"])
        m.d.comb += [p2s.w.eq(w), p2s.o.ready.eq(load_a | load_b)]
        with m.If(idle & p2s.o.valid):  # the first word of a run is in the converter
            m.d.sync += load_a.eq(1)
            m.d.sync += [reg.eq(getattr(self, name)) for name, reg in cfg.items()]

        dm_or_dn = Mux(load_b, p.dn, p.dm)
        rows = Mux(load_b, cfg["n"], cfg["m"])
        kc = cfg["k_chunks"]
        plane = Signal(range(max(p.max_wa, p.max_wb) + 1))
        k = Signal.like(self.k_chunks)
        row = Signal(range(max(p.max_m, p.max_n) + 1))
        bank = Signal(range(max(p.dm, p.dn, 2)))
        # The write address tile_base + plane kc + k, kept in a register and stepped with the
        # counters like the read addresses in _compute (no three-term adder before the port).
        tile_base = Signal(range(max(p.lhs_depth, p.rhs_depth) + 1))
        k_base = Signal.like(tile_base)  # tile_base + k: plane 0 of chunk k
        tiles = Signal.like(m_tiles if p.m_tiles(p.max_m) >= p.n_tiles(p.max_n) else n_tiles)
        addr = Signal.like(tile_base)

        for mem, phase, banks in ((lhs, load_a, p.dm), (rhs, load_b, p.dn)):
            wp = mem.write_port(granularity=p.dk)
            m.d.comb += [wp.addr.eq(addr), wp.data.eq(p2s.o.payload.plane.replicate(banks)),
                         wp.en.eq(Mux(p2s.o.valid & phase, Const(1, banks) << bank, 0))]

        last_plane = plane == w - 1
        last_k = k == kc - 1
        last_bank = bank == dm_or_dn - 1
        last_row = row == rows - 1
        with m.If(p2s.o.valid & (load_a | load_b)):
            m.d.sync += [plane.eq(plane + 1), addr.eq(addr + kc)]
            with m.If(last_plane):
                m.d.sync += [plane.eq(0), k.eq(k + 1), addr.eq(k_base + 1),
                             k_base.eq(k_base + 1)]
                with m.If(last_k):
                    # The next row of the tile (another bank) starts at the tile's start.
                    m.d.sync += [k.eq(0), bank.eq(bank + 1), row.eq(row + 1),
                                 addr.eq(tile_base), k_base.eq(tile_base)]
                    with m.If(bank == 0):
                        m.d.sync += tiles.eq(tiles + 1)
                    with m.If(last_bank):
                        # The next tile starts right after this one's last word.
                        m.d.sync += [bank.eq(0), tile_base.eq(addr + 1), addr.eq(addr + 1),
                                     k_base.eq(addr + 1)]
                    with m.If(last_row):
                        m.d.sync += [row.eq(0), bank.eq(0), tile_base.eq(0), tiles.eq(0),
                                     addr.eq(0), k_base.eq(0)]
                        with m.If(load_a):
                            m.d.sync += [load_a.eq(0), load_b.eq(1),
                                         m_tiles.eq(tiles + (bank == 0))]
                        with m.Else():
                            m.d.sync += [load_b.eq(0), compute.eq(1),
                                         n_tiles.eq(tiles + (bank == 0))]

    # -- The schedule over the DPU array. ----------------------------------------------------
    def _compute(self, m, lhs, rhs, res, compute, drain, readout, m_tiles, n_tiles):
        p = self.params
        aw = p.accumulator_width
        cfg = self.cfg
        kc = cfg["k_chunks"]
        k = Signal.like(kc)
        i = Signal(range(p.max_wa + 1))
        j = Signal(range(p.max_wb + 1))
        mt = Signal.like(m_tiles)
        nt = Signal.like(n_tiles)
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
        last_k, last_j, last_i = k == kc - 1, j == cfg["wb"] - 1, i == cfg["wa"] - 1
        last_nt, last_mt = nt == n_tiles - 1, mt == m_tiles - 1
        with m.If(compute):
            m.d.sync += [k.eq(k + 1), l_addr.eq(l_addr + 1), r_addr.eq(r_addr + 1)]
            with m.If(last_k):
                # Next plane of B (r_addr + 1 already is), the same plane of A again.
                m.d.sync += [k.eq(0), j.eq(j + 1), l_addr.eq(l_plane)]
                with m.If(last_j):
                    # Next plane of A (l_addr + 1), B from the start of its tile.
                    m.d.sync += [j.eq(0), i.eq(i + 1), l_addr.eq(l_addr + 1),
                                 l_plane.eq(l_addr + 1), r_addr.eq(r_tile)]
                    with m.If(last_i):
                        # Next tile of B (r_addr + 1), A from the start of its tile.
                        m.d.sync += [i.eq(0), nt.eq(nt + 1), l_addr.eq(l_tile),
                                     l_plane.eq(l_tile), r_addr.eq(r_addr + 1),
                                     r_tile.eq(r_addr + 1), c_addr.eq(c_addr + 1)]
                        with m.If(last_nt):
                            # Next tile of A (l_addr + 1), B from the start.
                            m.d.sync += [nt.eq(0), mt.eq(mt + 1), l_addr.eq(l_addr + 1),
                                         l_plane.eq(l_addr + 1), l_tile.eq(l_addr + 1),
                                         r_addr.eq(0), r_tile.eq(0)]
                            with m.If(last_mt):
                                m.d.sync += [mt.eq(0), l_addr.eq(0), l_plane.eq(0),
                                             l_tile.eq(0), c_addr.eq(0),
                                             compute.eq(0), drain.eq(1)]

        # Step flags, computed with the counters and delayed to meet their operand words at
        # the DPUs' accumulators.
        one = Const(1)
        shift_w = max(1, (p.max_wa + p.max_wb - 2).bit_length())
        step = {
            "valid": compute,
            "first": (i == 0) & (j == 0) & (k == 0),
            "last": last_i & last_j & last_k,
            "final": last_i & last_j & last_k & last_nt & last_mt,
            "negate": (cfg["a_signed"] & last_i) ^ (cfg["b_signed"] & last_j),
        }
        shift = Signal(shift_w)
        m.d.comb += shift.eq(i + j)
        # The operand pipeline (BISMO, Umuroglu et al., FPL 2018, section III: registered
        # memory address and data, a broadcast register in front of the array):
        #   step t:     l_addr / r_addr registers -> read port address (no adder)
        #   step t + 1: read data (the block RAM's or LUT RAM's own read register)
        #   step t + 2: `*_data` register right after the read. On ECP5 this is the DP16KD's
        #               output register in spirit, but Yosys 0.70's DP16KD mapping
        #               (techlibs/lattice/brams_16kd.txt) has no output-register option and
        #               sets REGMODE NOREG, so it is a fabric register next to the memory:
        #               the block RAM's 5.5 ns clock-to-data then ends in it.
        #   step t + 3: `*_bcast` register, from which each word fans out to the Dn (Dm)
        #               DPUs of its row (column): the long wires to the array get a cycle
        #               of their own.
        # Then the popcount tree (registered every `spacing` levels) and the accumulator.
        lr, rr = lhs.read_port(), rhs.read_port()
        m.d.comb += [lr.addr.eq(l_addr), rr.addr.eq(r_addr), lr.en.eq(1), rr.en.eq(1)]
        a_bcast = delay(m, one, delay(m, one, lr.data, 1, name="l_data"), 1, name="a_bcast")
        b_bcast = delay(m, one, delay(m, one, rr.data, 1, name="r_data"), 1, name="b_bcast")
        ahead = self._operand_stages + tree_latency(p.dk, p.spacing)
        flags = {name: delay(m, one, v, ahead, name=f"{name}_c",
                             reset_less=name not in ("valid", "final"))
                 for name, v in step.items()}
        shift_c = delay(m, one, shift, ahead, name="shift_c")
        caddr_c = delay(m, one, c_addr, ahead, name="caddr_c")

        accs = []
        for r in range(p.dm):
            for c in range(p.dn):
                a = a_bcast[r * p.dk:(r + 1) * p.dk]
                b = b_bcast[c * p.dk:(c + 1) * p.dk]
                count, _ = popcount_tree(m, one, a & b, p.spacing, name=f"dpu{r}_{c}")
                acc = shift_negate_accumulate(
                    m, one, count, shift_c, flags["negate"], flags["first"], flags["valid"],
                    acc_width=aw, max_shift=p.max_shift, name=f"acc{r}_{c}")
                accs.append(acc)

        # The finished tile goes to the result buffer the cycle after its last step.
        done = delay(m, one, flags["valid"] & flags["last"], 1, name="done", reset_less=False)
        final = delay(m, one, flags["valid"] & flags["final"], 1, name="final_w",
                      reset_less=False)
        caddr_w = delay(m, one, caddr_c, 1, name="caddr_w")
        wp = res.write_port()
        m.d.comb += [wp.addr.eq(caddr_w), wp.data.eq(Cat(*accs)), wp.en.eq(done)]
        with m.If(final):
            m.d.sync += [drain.eq(0), readout.eq(1)]

    # -- C out, row-major. -------------------------------------------------------------------
    def _readout(self, m, res, readout, n_tiles):
        p = self.params
        aw = p.accumulator_width
        ce = Signal()
        m.d.comb += ce.eq(self.o.ready | ~self.o.valid)
        row = Signal(range(p.max_m + 1))
        col = Signal(range(p.max_n + 1))
        rm = Signal(range(max(p.dm, 2)))
        rm_dn = Signal(range(p.dm * p.dn + 1))  # rm * Dn, kept by adding (no multiplier)
        cn = Signal(range(max(p.dn, 2)))
        base = Signal(range(p.result_depth + 1))
        ctile = Signal(range(p.n_tiles(p.max_n) + 1))
        last_col, last_row = col == self.cfg["n"] - 1, row == self.cfg["m"] - 1
        fire = Signal()
        m.d.comb += fire.eq(ce & readout)
        with m.If(fire):
            m.d.sync += [col.eq(col + 1), cn.eq(cn + 1)]
            with m.If(cn == p.dn - 1):
                m.d.sync += [cn.eq(0), ctile.eq(ctile + 1)]
            with m.If(last_col):
                m.d.sync += [col.eq(0), cn.eq(0), ctile.eq(0), row.eq(row + 1), rm.eq(rm + 1),
                             rm_dn.eq(rm_dn + p.dn)]
                with m.If(rm == p.dm - 1):
                    m.d.sync += [rm.eq(0), rm_dn.eq(0), base.eq(base + n_tiles)]
                with m.If(last_row):
                    m.d.sync += [row.eq(0), rm.eq(0), rm_dn.eq(0), base.eq(0), readout.eq(0)]
        rp = res.read_port()
        m.d.comb += [rp.addr.eq(base + ctile), rp.en.eq(ce)]

        def reg(value, name, reset_less=True):
            return delay(m, ce, value, 1, name=name, reset_less=reset_less)

        valid = reg(fire, "o_valid", reset_less=False)
        element = reg(rm_dn + cn, "o_elem")
        last = reg(last_col & last_row, "o_last")
        words = [rp.data[e * aw:(e + 1) * aw].as_signed() for e in range(p.dm * p.dn)]
        value = Signal(signed(aw))
        with m.Switch(element):
            for e, word in enumerate(words[:-1]):
                with m.Case(e):
                    m.d.comb += value.eq(word)
            with m.Default():  # the last element; a full case keeps lint quiet
                m.d.comb += value.eq(words[-1])
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.c.eq(value),
                     self.o.payload.last.eq(last)]
