"""Register copies kept apart through synthesis (:mod:`lowbit.hw.keep`, the flows'
``KEEP_HIERARCHY`` and ``FLATTEN`` steps): copies of a register in kept submodules survive
Yosys as separate flip-flops in one flat netlist, and Yosys merges them without the step (so
the test can fail); the P2S converter's word register has a clock enable per slice. Also the
cost model's block RAM counts against Yosys's mapping of the engine and of single memories."""

import collections
import json
import re
from dataclasses import replace

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import memory
from lowbit.boards.flow import FLATTEN, KEEP_HIERARCHY
from lowbit.boards.toolchain import check_tools, run_tool, tool_env_var, toolchain_env
from lowbit.gen.fit import _ecp5_blocks, _ice40_blocks, bram_blocks, copy_ffs, lutram_units
from lowbit.golden.bitserial import BitSerialParams, P2SParams
from lowbit.hw.bitserial import P2S, SLICE_BITS
from lowbit.hw.build import generated
from lowbit.hw.keep import add_kept, register_copies
from lowbit.hw.matmul import BitSerialMatmul, broadcast_groups
from lowbit.hw.ports import discard
from lowbit.hw.ram import BLOCK_RAM, NO_RW_CHECK, registered_read

pytestmark = [pytest.mark.synth, pytest.mark.bitserial]


def _yosys(tmp_path, component, ports, commands, family="ecp5"):
    """Yosys's modules (JSON) for ``component`` after ``commands`` (between reading the RTLIL
    and writing the JSON)."""
    (tmp_path / "t.il").write_text(rtlil.convert(component, ports=ports, name="t",
                                                 emit_src=False))
    env = toolchain_env(check_tools(family))
    script = "; ".join(["read_rtlil t.il", *commands, "write_json t.json"])
    run_tool([env[tool_env_var("yosys")], "-q", "-p", script], cwd=tmp_path, env=env,
             console=tmp_path / "yosys.console", check=True)
    return json.loads((tmp_path / "t.json").read_text())["modules"]


def _cells(tmp_path, component, ports, keep, family="ecp5"):
    modules = _yosys(tmp_path, component, ports,
                     [KEEP_HIERARCHY if keep else "", f"synth_{family} -top t", FLATTEN],
                     family)
    # One flat module: nothing but library cells under the top.
    assert not any("keep_" in name for name in modules), list(modules)
    return modules["t"]["cells"]


class _Copy(Elaboratable):
    def __init__(self):
        self.d, self.q = Signal(), Signal(64)

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.sync += en.eq(self.d)  # the same register in every copy
        with m.If(en):
            m.d.sync += self.q.eq(self.q + 1)
        return m


class _Copies(Elaboratable):
    def __init__(self):
        self.d, self.q = Signal(), Signal(64 * 4)

    def elaborate(self, platform):
        m = Module()
        for n in range(4):
            c = add_kept(m, f"copy{n}", _Copy())
            m.d.comb += [c.d.eq(self.d), self.q[64 * n:64 * (n + 1)].eq(c.q)]
        return m


def test_p2s_word_register_enable_per_slice(tmp_path):
    p2s = P2S(P2SParams(elements=96, max_width=8))  # 768 bits: 3 slices of 256
    assert len(p2s.slices) == 3
    cells = _cells(tmp_path, p2s, None, keep=True)
    by_enable = collections.Counter(tuple(c["connections"]["CE"]) for c in cells.values()
                                    if c["type"] == "TRELLIS_FF")
    assert sum(by_enable.values()) >= 768
    # Each slice's word bits share one enable of their own (with at most a few state bits
    # of that slice's copy, as Yosys groups them): no enable steers two slices.
    largest = sorted(by_enable.values())[-3:]
    assert all(SLICE_BITS <= n <= SLICE_BITS + 8 for n in largest), largest


class _WordCopies(Elaboratable):
    """Three copies of an 8-bit register (as the bit-serial engine's ``bcast_fanout``)."""

    def __init__(self):
        self.d, self.q = Signal(8), Signal(8 * 3)

    def elaborate(self, platform):
        m = Module()
        copies = register_copies(m, "w", self.d, 3, reset_less=True)
        for n, q in enumerate(copies):
            m.d.comb += self.q[8 * n:8 * (n + 1)].eq(q)
        return m


#: (component, flip-flops with the copies kept, without): 4 x 64 counter bits and 4 enable
#: registers (1 merged); 3 copies of an 8-bit word (1 merged).
COPIES = {"enables": (_Copies, 4 * 64 + 4, 4 * 64 + 1), "words": (_WordCopies, 3 * 8, 8)}


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("case", list(COPIES))
def test_register_copies_survive_only_when_kept(tmp_path, case, keep):
    make, kept, merged = COPIES[case]
    top = make()
    cells = _cells(tmp_path, top, [top.d, top.q], keep)
    ffs = sum(c["type"] == "TRELLIS_FF" for c in cells.values())
    assert ffs == (kept if keep else merged)


#: A kept copy in the engine's Verilog: an operand broadcast register (a_bcast, b_bcast) or
#: the loader's plane register of a bank (wr_a_plane, wr_b_plane).
_KEPT_COPY = re.compile(r"module \\lowbit_bitserial\.keep_(a|b|wr)_(bcast|[ab]_plane)")

# bcast_fanout F on a 3 x 8 x 5 array: (F, copies of each A word, of each B word). An A word
# reaches the 5 DPUs of its row, a B word the 3 of its column.
FANOUTS = [(0, 0, 0), (1, 5, 3), (2, 3, 2), (4, 2, 1), (5, 1, 1)]


@pytest.mark.parametrize("fanout,a_copies,b_copies", FANOUTS,
                         ids=[f"fanout{f}" for f, _, _ in FANOUTS])
def test_broadcast_copies_per_group(tmp_path, fanout, a_copies, b_copies):
    """The engine's kept broadcast registers: ceil(dn / F) copies of each A word's and
    ceil(dm / F) of each B word's, and the loader's plane register once a bank (none kept
    apart with F = 0, one register a word)."""
    params = BitSerialParams(dm=3, dn=5, dk=8, max_m=6, max_k=16, max_n=10,
                             bcast_fanout=fanout)
    gen_dir, _ = generated("bitserial", params)
    text = (gen_dir / "lowbit_bitserial.v").read_text()
    kept = collections.Counter(
        hit[1] for hit in map(_KEPT_COPY.match, text.splitlines()) if hit)
    # With copies, each bank (3 rows of A, 5 columns of B) has its plane register too.
    planes = 3 + 5 if fanout else 0
    assert kept == collections.Counter(a=3 * a_copies, b=5 * b_copies, wr=planes), kept
    # The cost model's count of the flip-flops the copies add (broadcast and plane registers,
    # Dk bits each, and with a memory a bank the address registers' copies): the register
    # bits of the design before any optimisation, against F = 0's.
    base = _register_bits(tmp_path, replace(params, bcast_fanout=0))
    assert copy_ffs(params) == _register_bits(tmp_path, params) - base
    # An added broadcast stage (a register a word before the copies, or before the one
    # broadcast register with F = 0).
    staged = replace(params, bcast_stages=2)
    assert copy_ffs(staged) == _register_bits(tmp_path, staged) - base
    # With the DPUs' input registers too (one kept copy of each DPU's two words).
    inputs = replace(params, dpu_inputs=True)
    text = (generated("bitserial", inputs)[0] / "lowbit_bitserial.v").read_text()
    assert len(re.findall(r"^module \\lowbit_bitserial\.keep_dpu\d+_\d+_in0 ", text,
                          re.MULTILINE)) == 3 * 5
    assert copy_ffs(inputs) == _register_bits(tmp_path, inputs) - base
    # With B's copies chained down the columns (the rows of copy g late by g: 0, 1, 2 at
    # F = 1; 0, 0, 1 at F = 2), A's along the rows (the columns late by 0..4 at F = 1;
    # 0, 0, 1, 1, 2 at F = 2; a result memory a row and column group), and both.
    if fanout:
        for flows in (dict(b_flow="systolic"), dict(a_flow="systolic"),
                      dict(a_flow="systolic", b_flow="systolic")):
            chained = replace(params, **flows)
            assert copy_ffs(chained) == _register_bits(tmp_path, chained) - base, flows


@pytest.mark.parametrize("dm,dn", [(1, 3), (1, 1), (3, 1)])
def test_copy_ffs_with_one_row_or_column(tmp_path, dm, dn):
    """copy_ffs where a side has one bank (with one row, one result memory and no readout
    address copy, unless A flows along the row); and with B down the columns
    (b_flow="systolic": the copies chained, the rows' delays), and A along the rows
    (a_flow="systolic": the columns' delays, a result memory a column group)."""
    params = BitSerialParams(dm=dm, dn=dn, dk=8, max_m=6, max_k=16, max_n=10, bcast_fanout=2)
    base = _register_bits(tmp_path, replace(params, bcast_fanout=0))
    for p in (params, replace(params, dpu_inputs=True), replace(params, bcast_stages=3),
              replace(params, b_flow="systolic"),
              replace(params, b_flow="systolic", bcast_stages=2),
              replace(params, a_flow="systolic"),
              replace(params, a_flow="systolic", b_flow="systolic", bcast_stages=2)):
        assert copy_ffs(p) == _register_bits(tmp_path, p) - base, p


@pytest.mark.parametrize("style", ["tree", "packed"])
def test_copy_ffs_counts_top_registers(tmp_path, style):
    """copy_ffs with top_registers: each DPU's added popcount registers and the cycles they
    add to its step flags and to the result address and flags, at Dk = 37 (five levels), with
    copies and B down the columns, and without copies or spacing."""
    for kw in (dict(bcast_fanout=2, b_flow="systolic"), dict(spacing=0)):
        params = BitSerialParams(dm=2, dn=3, dk=37, max_m=6, max_k=40, max_n=10,
                                 popcount=style, **kw)
        base = _register_bits(tmp_path, params)
        for top in (1, 3):
            p = replace(params, top_registers=top)
            assert copy_ffs(p) - copy_ffs(params) == _register_bits(tmp_path, p) - base, p


# (F, the row groups of 5 rows, the column groups of 7 columns): runs as even as possible.
SYSTOLIC_GROUPS = [(1, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6]),
                   (2, [0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2, 3]),
                   (3, [0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 2, 2])]


@pytest.mark.parametrize("fanout,rows,cols", SYSTOLIC_GROUPS,
                         ids=[f"fanout{f}" for f, _, _ in SYSTOLIC_GROUPS])
def test_systolic_flows_latency(fanout, rows, cols):
    """Each systolic flow adds its chain's hops after the first to the latency (the last
    DPU's skew, which the result write and `final` wait for): ceil(dm / F) - 1 for B down
    the columns, ceil(dn / F) - 1 for A along the rows."""
    params = BitSerialParams(dm=5, dn=7, dk=8, max_m=6, max_k=16, max_n=10,
                             bcast_fanout=fanout)
    def latency(p):
        engine = BitSerialMatmul(p)
        discard(engine)  # built for its latency alone
        return engine.latency
    base = latency(params)
    for a, b in (("systolic", "broadcast"), ("broadcast", "systolic"),
                 ("systolic", "systolic")):
        p = replace(params, a_flow=a, b_flow=b)
        row_late = rows if b == "systolic" else [0] * 5
        col_late = cols if a == "systolic" else [0] * 7
        want = row_late[-1] + col_late[-1]
        assert want == ((-(-5 // fanout) - 1 if b == "systolic" else 0)
                        + (-(-7 // fanout) - 1 if a == "systolic" else 0))
        assert latency(p) - base == want, (a, b)
        # Every DPU (r, c) works row group + column group cycles late, in a result memory of
        # its row whose DPUs all work in step (a memory a row and column group with A along
        # the rows, else a row).
        assert (p.row_skews, p.col_skews) == (row_late, col_late)
        late = {d: (s, k) for k, (dpus, s) in enumerate(zip(p.result_memories, p.result_skews))
                for d in dpus}
        assert sorted(late) == list(range(5 * 7))
        for r in range(5):
            for c in range(7):
                skew, k = late[r * 7 + c]
                assert skew == row_late[r] + col_late[c], (a, b, r, c)
                assert k == (r * (cols[-1] + 1) + cols[c] if a == "systolic" else r)


def _register_bits(tmp_path, params):
    """Flip-flops of the engine as written: its registers' bits after Yosys's ``proc``, before
    ``opt`` merges any."""
    modules = _yosys(tmp_path, BitSerialMatmul(params), None,
                     ["hierarchy -top t", "proc", "flatten"])
    cells = modules["t"]["cells"].values()
    assert {c["type"] for c in cells if "dff" in c["type"]} <= {"$dff"}
    return sum(int(c["parameters"]["WIDTH"], 2) for c in cells if c["type"] == "$dff")


def test_broadcast_groups():
    """Each copy drives at most F DPUs, a run of neighbours, and every copy drives some."""
    for count in range(1, 65):
        for fanout in range(1, 65):
            of = broadcast_groups(count, fanout)
            sizes = collections.Counter(of)
            assert len(of) == count and of == sorted(of), (count, fanout)
            assert sorted(sizes) == list(range(-(-count // fanout))), (count, fanout)
            assert max(sizes.values()) <= fanout, (count, fanout)
            assert max(sizes.values()) - min(sizes.values()) <= 1, (count, fanout)


#: A small engine whose operand buffers are block RAM on both families (the result buffer, 32
#: words, is LUT RAM on ECP5): 2 rows of A and 3 columns of B, 40 bits a bank.
SPLIT = BitSerialParams(dm=2, dn=3, dk=40, max_m=8, max_k=160, max_n=12, max_wa=4, max_wb=4,
                        bcast_fanout=2)


@pytest.mark.parametrize("family", ["ecp5", "ice40"])
def test_a_memory_a_bank_with_its_own_address(tmp_path, family):
    """With bcast_fanout, each operand bank is a memory of its own whose block RAMs share a
    read address net no other bank's RAMs use (the kept address copies survive synthesis);
    the block RAM count is the cost model's, exactly, on both families."""
    cells = _cells(tmp_path, BitSerialMatmul(SPLIT), None, keep=True, family=family)
    ram, addr = {"ecp5": ("DP16KD", "ADB"), "ice40": ("SB_RAM40_4K", "RADDR")}[family]
    rams = [c for c in cells.values() if c["type"] == ram]
    by_addr = collections.Counter(
        tuple(bit for pin in sorted(c["connections"]) if pin.startswith(addr)
              for bit in c["connections"][pin]) for c in rams)
    # 2 DP16KD (40 of 36 bits) a bank on ECP5; on iCE40 3 SB_RAM40_4K (16 bits) a bank and
    # the result rows' (2 rows of 3 x 17-bit accumulators, 4 RAMs each).
    expected = {"ecp5": [2] * 5, "ice40": [3] * 5 + [4] * 2}[family]
    assert sorted(by_addr.values()) == expected, by_addr
    # The ECP5's result rows (32 words of 51 bits) are cheaper in LUT RAM, as the model says.
    assert len(rams) == bram_blocks(SPLIT, family)


@pytest.mark.parametrize("family,result_ram", [("ecp5", "auto"), ("ecp5", "block"),
                                               ("ice40", "auto")])
def test_result_memories_a_row_and_column_group(tmp_path, family, result_ram):
    """With A along the rows (a_flow="systolic"), a result memory for each row and column
    group ({0, 1} and {2}: 34 and 17 bits a word, 32 words): the block RAMs, and on ECP5 the
    LUT RAM units, are the cost model's, exactly; on ECP5 they are LUT RAM, unless
    ``result_ram="block"``, which puts them in block RAM. (On iCE40 32 words are block RAM
    either way; ``result_ram="block"`` at 4 words is test_ice40_memory_of_four_words.)"""
    params = replace(SPLIT, a_flow="systolic", result_ram=result_ram)
    assert params.result_memories == [[0, 1], [2], [3, 4], [5]]
    assert params.result_skews == [0, 1, 0, 1]
    cells = collections.Counter(
        c["type"] for c in _cells(tmp_path, BitSerialMatmul(params), None, keep=True,
                                  family=family).values())
    ram = {"ecp5": "DP16KD", "ice40": "SB_RAM40_4K"}[family]
    assert cells[ram] == bram_blocks(params, family), cells
    assert cells["TRELLIS_DPR16X4"] == lutram_units(params, family), cells
    if family == "ecp5":
        assert bool(cells["TRELLIS_DPR16X4"]) == (result_ram == "auto"), cells


class _Buffer(Elaboratable):
    """One memory built as the engine builds its buffers (``_memories``): ``NO_RW_CHECK``, a
    write port with ``lanes`` enables, read through :func:`registered_read` with an enable."""

    def __init__(self, depth, width, lanes, block=False):
        self.depth, self.width, self.lanes, self.block = depth, width, lanes, block
        abits = (depth - 1).bit_length()
        self.waddr, self.raddr = Signal(abits), Signal(abits)
        self.wdata, self.wen = Signal(width), Signal(lanes)
        self.ce, self.q = Signal(), Signal(width)

    def ports(self):
        return [self.waddr, self.raddr, self.wdata, self.wen, self.ce, self.q]

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = memory.Memory(shape=self.width, depth=self.depth, init=[],
                                               attrs=BLOCK_RAM if self.block else NO_RW_CHECK)
        wp = mem.write_port(granularity=self.width // self.lanes if self.lanes > 1 else None)
        m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.wen),
                     self.q.eq(registered_read(m, mem, self.raddr, self.ce, name="rd"))]
        return m


#: (depth, width, write lanes, DP16KD or PDPW16KD blocks; 0 = LUT RAM), from Yosys 0.70
#: (2026-12-05). The first three are close calls that Yosys's integer-truncated best cost
#: keeps in LUT RAM; the others cover the byte-lane padding, deep and wide memories.
ECP5_MEMORIES = [(64, 39, 3, 0), (88, 8, 4, 0), (40, 31, 1, 0), (64, 18, 2, 0), (64, 18, 3, 1),
                 (128, 6, 3, 1), (64, 36, 6, 2), (128, 12, 6, 2), (64, 20, 2, 1),
                 (512, 80, 8, 4), (2048, 40, 4, 8), (4096, 20, 2, 6), (512, 2100, 7, 60)]


@pytest.mark.parametrize("depth,width,lanes,blocks", ECP5_MEMORIES)
def test_ecp5_memory_as_yosys_maps_it(tmp_path, depth, width, lanes, blocks):
    """The cost model's choice of block RAM or LUT RAM for one memory (``_ecp5_blocks``)
    against synth_ecp5's memory mapping of it."""
    buf = _Buffer(depth, width, lanes)
    modules = _yosys(tmp_path, buf, buf.ports(), ["synth_ecp5 -top t"])
    types = collections.Counter(c["type"] for c in modules["t"]["cells"].values())
    yosys = sum(n for t, n in types.items() if "DP16KD" in t or "PDPW16KD" in t)
    assert yosys == blocks, types
    if not blocks:
        assert any("DPR16X4" in t for t in types), types
    assert _ecp5_blocks(depth, width, lanes) == yosys


#: (depth, width, write lanes, blocks) with ``ram_style = "block"`` (``result_ram="block"``),
#: from Yosys 0.70 (2026-12-07): memories that are LUT RAM (ECP5_MEMORIES; 32 x 208 is a
#: row's results at 8 x 256 x 8 on the ULX3S) or flip-flops (4 words or fewer) without it.
ECP5_BLOCK_MEMORIES = [(64, 39, 3, 2), (40, 31, 1, 1), (32, 208, 1, 6), (4, 40, 1, 2),
                       (2, 24, 1, 1)]


@pytest.mark.parametrize("depth,width,lanes,blocks", ECP5_BLOCK_MEMORIES)
def test_ecp5_memory_forced_into_block_ram(tmp_path, depth, width, lanes, blocks):
    """``ram_style = "block"``: synth_ecp5 builds the memory from block RAM, as many as
    the cost model counts (``_ecp5_blocks(..., block=True)``), no LUT RAM."""
    assert not _ecp5_blocks(depth, width, lanes)  # LUT RAM or flip-flops without it
    buf = _Buffer(depth, width, lanes, block=True)
    modules = _yosys(tmp_path, buf, buf.ports(), ["synth_ecp5 -top t"])
    types = collections.Counter(c["type"] for c in modules["t"]["cells"].values())
    yosys = sum(n for t, n in types.items() if "DP16KD" in t or "PDPW16KD" in t)
    assert yosys == blocks and not any("DPR16X4" in t for t in types), types
    assert _ecp5_blocks(depth, width, lanes, block=True) == yosys


@pytest.mark.parametrize("block", [False, True])
def test_ice40_memory_of_four_words(tmp_path, block):
    """iCE40: 4 x 40 bits is flip-flops, unless ``ram_style = "block"``: then SB_RAM40_4K,
    as many as the cost model counts (``_ice40_blocks``)."""
    buf = _Buffer(4, 40, 1, block=block)
    modules = _yosys(tmp_path, buf, buf.ports(), ["synth_ice40 -top t"])
    types = collections.Counter(c["type"] for c in modules["t"]["cells"].values())
    assert types["SB_RAM40_4K"] == _ice40_blocks(4, 40, block) == (3 if block else 0), types


@pytest.mark.parametrize("block", [False, True])
@pytest.mark.parametrize("depth,width", [(32, 208), (4, 40)])
def test_gowin_memory_forced_into_block_ram(tmp_path, depth, width, block):
    """Gowin (no cost model): a row's results at 8 x 256 x 8 (32 x 208) and a 4-word memory
    are LUT RAM (RAM16SDP4) without ``ram_style = "block"`` and block RAM (SDPX9B, from
    Yosys 0.70) with it, none of the other."""
    buf = _Buffer(depth, width, 1, block=block)
    modules = _yosys(tmp_path, buf, buf.ports(), ["synth_gowin -top t"], family="gowin")
    types = collections.Counter(c["type"] for c in modules["t"]["cells"].values())
    assert bool(types["SDPX9B"]) == block and bool(types["RAM16SDP4"]) != block, types


def test_a_converter_built_for_its_ports_leaves_nothing_unused(recwarn):
    """The harnesses build a P2S for its ports alone and discard it (lowbit.hw.ports): its
    state copies must not exist before elaboration, or each would warn as an unused
    Elaboratable (an error under pytest)."""
    import gc

    from lowbit.hw.ports import discard

    # (Amaranth warns of unused Elaboratables once something has been elaborated.)
    rtlil.convert(P2S(P2SParams(elements=8, max_width=4)))
    discard(P2S(P2SParams(elements=64, max_width=8)))
    gc.collect()
    assert not [w for w in recwarn if "UnusedElaboratable" in w.category.__name__], \
        [str(w.message) for w in recwarn]
