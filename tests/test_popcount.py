"""The popcount trees' structure without a simulator: where the register stages stand
(``spacing``, ``top_registers``) and how many flip-flops they hold (``register_bits``, the
cost model's count), read from the generated RTLIL. Their results are checked under cocotb
in tests/test_binary_sim.py and tests/test_bitserial_sim.py."""

import re

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Const, Elaboratable, Module, Signal
from lowbit.hw.popcount import popcount, register_bits, tree_latency


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


@pytest.mark.parametrize("style", ["tree", "packed"])
def test_register_bits_are_the_registers_built(style):
    """The cost model's count of a popcount's flip-flops (register_bits) is the width of the
    $dff cells in the generated RTLIL: a width built as the tree (5) and packed ones,
    shallower packed trees (100, 200), spacing 0 to 2 (1: the packed tree's stage on the
    count) and top_registers up to the whole tree."""
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
