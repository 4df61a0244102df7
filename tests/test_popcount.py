"""The popcount trees' structure without a simulator: where the register stages stand
(``spacing``, ``top_registers``) and how many flip-flops they hold (``register_bits``, the
cost model's count), read from the generated RTLIL. Their results are checked under cocotb
in tests/test_binary_sim.py and tests/test_bitserial_sim.py."""

import re

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Const, Elaboratable, Module, Signal
from lowbit.hw.popcount import chain_cells, popcount, register_bits, tree_latency


class _Tree(Elaboratable):
    """One popcount for test_top_registers_follow_the_last_levels."""

    def __init__(self, n, spacing, style, top):
        self.n, self.spacing, self.style, self.top = n, spacing, style, top
        self.bits, self.count = Signal(n), Signal(n.bit_length())

    def elaborate(self, platform):
        m = Module()
        count, _ = popcount(m, Const(1), self.bits, self.spacing, self.style,
                            top_registers=self.top)
        m.d.comb += self.count.eq(count)
        return m


@pytest.mark.parametrize("n,spacing,style,top,levels", [
    (256, 2, "packed", 4, {2, 4, 5, 6, 7, 8}), (256, 2, "packed", 0, {2, 4, 6, 8}),
    # Packed trees shallower than the adder tree's 7 and 8 levels (6 and 7 of their own):
    # the stage of the level they lack goes to their highest unregistered adder level.
    (100, 2, "packed", 1, {2, 4, 5, 6}), (100, 2, "packed", 3, {2, 3, 4, 5, 6}),
    (200, 2, "packed", 2, {2, 4, 5, 6, 7}), (200, 2, "packed", 0, {2, 4, 6, 8}),
    (100, 2, "tree", 3, {2, 4, 5, 6, 7}), (32, 2, "tree", 2, {2, 4, 5}),
    (256, 0, "tree", 3, {6, 7, 8}), (256, 0, "packed", 16, {3, 4, 5, 6, 7, 8}),
    (256, 1, "packed", 3, {2, 3, 4, 5, 6, 7, 8, "out"}), (6, 0, "tree", 5, set())])
def test_top_registers_follow_the_last_levels(n, spacing, style, top, levels):
    """The registers stand after every ``spacing``-th level and each of the last ``top``
    (top_registers never adds one after levels 1 and 2): read from the generated RTLIL's
    register names, and their count is tree_latency's."""
    text = _rtlil(n, spacing, style, top)
    found = set(re.findall(r"pc_q(\d+|out)", text))
    assert found == {str(level) for level in levels}
    assert tree_latency(n, spacing, top) == len(levels)


def _rtlil(n, spacing, style, top):
    tree = _Tree(n, spacing, style, top)
    return rtlil.convert(tree, ports=[tree.bits, tree.count])


@pytest.mark.parametrize("style", ["tree", "packed", "chain"])
def test_register_bits_are_the_registers_built(style):
    """The cost model's count of a popcount's flip-flops (register_bits) is the width of the
    $dff cells in the generated RTLIL: a width built as the tree (5) and packed ones,
    shallower packed trees (100, 200), spacing 0 to 2 (1: the packed tree's stage on the
    count) and top_registers up to the whole tree; the chain's guard products carried
    through a stage as their two bits."""
    for n in (2, 5, 13, 61, 100, 200, 256):
        for spacing in (0, 1, 2):
            for top in (0, 1, 3, 16):
                text = _rtlil(n, spacing, style, top)
                dffs = re.findall(r"cell \$dff \S+\n(?:\s+parameter .*\n)*?"
                                  r"\s+parameter \\WIDTH (\d+)", text)
                assert register_bits(n, spacing, style, top) == sum(map(int, dffs)), (
                    n, spacing, top)


class _OfAnd(Elaboratable):
    """A popcount of an expression, ``a & b``, as the bit-serial engine's DPUs take it."""

    def __init__(self, n, style):
        self.n, self.style = n, style
        self.a, self.b, self.count = Signal(n), Signal(n), Signal(n.bit_length())

    def elaborate(self, platform):
        m = Module()
        count, _ = popcount(m, Const(1), self.a & self.b, 0, self.style)
        m.d.comb += self.count.eq(count)
        return m


@pytest.mark.parametrize("style", ["tree", "packed"])
def test_an_expression_is_built_once(style):
    """The trees take ``a & b`` apart bit by bit: the AND is built once, ``n`` bits wide,
    not once for every bit sliced from it (that was ``n`` ANDs of ``n`` bits, and the 4 x 8 x
    1024 engine did not generate)."""
    tree = _OfAnd(64, style)
    text = rtlil.convert(tree, ports=[tree.a, tree.b, tree.count])
    widths = re.findall(r"cell \$and \S+\n(?:\s+parameter \S+ \S+\n)*?\s+parameter "
                        r"\\Y_WIDTH (\d+)", text)
    assert widths.count("64") == 1, widths


@pytest.mark.parametrize("n,spacing,top,levels", [
    (256, 2, 0, {2, 4, 6, 8}), (256, 2, 4, {2, 4, 5, 6, 7, 8}), (100, 1, 0, set(range(1, 8))),
    (13, 0, 2, {3, 4})])
def test_chain_registers_follow_the_last_levels(n, spacing, top, levels):
    """popcount="chain": the stages of popcount_packed's rule on the chain tree's own levels
    (256 bits: 65 level-1 fields, 8 levels, the adder tree's depth; 100: 26 fields, 6 of its
    own, the seventh's stage on its sixth; 13: 4 fields, 3 of 4), as many as tree_latency."""
    text = _rtlil(n, spacing, "chain", top)
    found = set(re.findall(r"pc_q(\d+)", text))
    assert found == {str(level) for level in levels}
    assert tree_latency(n, spacing, top) == len(levels)


def test_chain_takes_the_and_into_its_cells():
    """popcount="chain" of ``a & b`` builds no AND: each product is a pair of a CCU2C's
    inputs, the chains' first and last cells have no carry in or out of their own, and the
    cells hold 2 products (level 1) or a product (a guard) a position where they can."""
    m = Module()
    a, b = Signal(256), Signal(256)
    popcount(m, Const(1), a, 0, "chain", mask=b)
    text = rtlil.convert(m, ports=[a, b])
    assert "$and" not in text
    cells = re.findall(r"cell \\CCU2C", text)
    # Positions (half a cell each), a field k + 1 (its guard and k bits): level 1, 65 fields
    # of 1 + 1; then 32 of 2 + 1, 16 of 3 + 1, 8 of 4 + 1, 4 of 5 + 1, 2 of 6 + 1, 1 of 7 + 1,
    # and the 65th level-1 count added at the last level, 8 + 1: 385 positions. A chain
    # adds its last field's top bit and fills its last cell: at most 12 positions, 1 of them
    # the top bit (11 for level 1's 5 fields, 12 for 3 fields at level 2, ...).
    assert 385 / 2 < len(cells) <= 385 / 2 * 12 / 10, len(cells)


def test_chain_cells_are_the_cells_built():
    """The cost model's count of the chain popcount's CCU2C (chain_cells) is the number of
    CCU2C instances the generated RTLIL has, from one field to many chains a level."""
    for n in (2, 3, 5, 7, 21, 40, 100, 256, 1024):
        m = Module()
        a, b = Signal(n), Signal(n)
        popcount(m, Const(1), a, 2, "chain", mask=b)
        text = rtlil.convert(m, ports=[a, b])
        assert chain_cells(n) == len(re.findall(r"cell \\CCU2C", text)), n
