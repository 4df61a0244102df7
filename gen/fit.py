"""``lowbit estimate`` and ``lowbit fit`` for the bit-serial engine: the cost model applied.

``estimate`` predicts LUTs, FFs and carry cells (:mod:`lowbit.boards.costmodel`), counts block
RAMs and LUT RAM from the buffer shapes, and adds them up as nextpnr counts logic cells
(ICESTORM_LC, TRELLIS_COMB). ``fit`` searches array shapes ``Dm x Dk x Dn`` for the largest peak
throughput that fits a LUT budget, the flip-flops and the block RAMs of a board, and (unless
told not to) confirms the choice by synthesis: post-route, it must fit and meet the board
clock, else the next candidate is tried.
"""

import dataclasses
import math

from ..boards import get_board
from ..boards.costmodel import FAMILY_BOARD, load_model
from ..boards.costmodel import estimate as model_estimate
from ..golden.bitserial import MAX_DPU_BITS, BitSerialParams
from ..golden.checks import UsageError
from ..hw.popcount import chain_cells, register_bits, tree_latency

__all__ = ["bram_blocks", "lutram_units", "copy_ffs", "estimate_bitserial", "check_fits_board",
           "fit_bitserial", "default_budget", "DEVICE_SHARE", "DK_CHOICES"]

# Block RAM aspect ratios (depth, width) Yosys can use on iCE40 (SB_RAM40_4K).
_ICE40_MODES = [(256, 16), (512, 8), (1024, 4), (2048, 2)]
DK_CHOICES = (8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
MAX_SIDE = 16

# ECP5 memories as Yosys's memory_libmap describes them (techlibs/lattice lutrams_trellis.txt
# and brams_16kd.txt): (address bits, data widths, byte-enable bits, cost a unit, narrowest
# write width's index), for the block RAM as PDPW16KD (36-bit writes) and DP16KD, and the
# 16 x 4 LUT RAM (TRELLIS_DPR16X4).
_ECP5_PDPW16KD = (14, (1, 2, 4, 9, 18, 36), 9, 128, 5)
_ECP5_DP16KD = (14, (1, 2, 4, 9, 18), 9, 128, 0)
_ECP5_DPR16X4 = (4, (4,), 0, 4, 0)


def _libmap_cost(ram, depth, width, enables):
    """``(cost, units)`` of ``depth`` x ``width`` in ``ram`` as memory_libmap scores it
    (``handle_geom`` in passes/memory/memory_libmap.cc, Yosys 0.70): one write port whose
    ``enables`` write enables each cover ``width / enables`` bits, one synchronous read port,
    no wide ports. Each byte lane starts on a multiple of the RAM's byte width; a memory deeper
    than the RAM costs a read multiplexer (0.5 a bit) and a write demultiplexer (0.5 an
    enable). The cheapest data width wins."""
    abits, dbits, byte, unit_cost, min_write = ram
    lane = -(-width // enables)
    byte_log2 = max(i for i, d in enumerate(dbits) if byte >= d) if byte else len(dbits) - 1
    best = None
    for base, unit in enumerate(dbits):
        if base < min_write and base < byte_log2:
            continue  # too narrow for the write port, and no byte enables to narrow it
        step = byte if byte and byte <= unit else unit
        bits = enables * -(-lane // step) * step  # each enable's lane padded to the step
        mult_a = -(-depth // (1 << (abits - base)))
        units = -(-mult_a * bits // unit)
        cost = (unit_cost * units + 0.5 * (mult_a - 1) * width
                + (0.5 * mult_a * enables if mult_a > 1 else 0))
        if best is None or cost < best[0]:
            best = (cost, units)
    return best


def _buffers(params):
    """``(depth, each memory's width, write enables, block)`` of the left, right and result
    buffers: one memory each, or with ``bcast_fanout`` one a bank
    (:meth:`lowbit.hw.matmul.BitSerialMatmul._memories`; the results' are
    :attr:`~lowbit.golden.bitserial.BitSerialParams.result_memories`); operand banks are
    written one at a time (an enable a bank), results a whole word. ``block``: the memories
    are block RAM whatever Yosys's costs say (``result_ram="block"``)."""
    p = params
    words = p.buffer_words  # both halves of each double buffer
    split = bool(p.bcast_fanout)
    acc = p.accumulator_width
    return [(words["lhs"], [p.dk] * p.dm if split else [p.lhs_width], 1 if split else p.dm,
             False),
            (words["rhs"], [p.dk] * p.dn if split else [p.rhs_width], 1 if split else p.dn,
             False),
            (words["result"], [acc * len(dpus) for dpus in p.result_memories], 1,
             p.result_ram == "block")]


def bram_blocks(params, family):
    """Block RAMs of the three buffers (left and right operands, results).

    iCE40: each memory at the cheapest SB_RAM40_4K aspect ratio; Yosys builds a memory of 4
    words or fewer from flip-flops. ECP5: Yosys's own choice between the DP16KD (as PDPW16KD
    or DP16KD) and LUT RAM, by its costs (:func:`_libmap_cost`); a buffer that is cheaper in
    LUT RAM takes no block RAM. Both are exact for every recorded run
    (``tests/test_costmodel.py``) and checked against live Yosys runs (``tests/test_keep.py``)."""
    total = 0
    for depth, widths, enables, block in _buffers(params):
        for width in widths:
            if family == "ice40":
                total += _ice40_blocks(depth, width, block)
                continue
            total += _ecp5_blocks(depth, width, enables, block)
    return total


def _ice40_blocks(depth, width, block=False):
    """SB_RAM40_4K of one iCE40 memory at the cheapest aspect ratio; 0 for 4 words or fewer,
    which Yosys builds from flip-flops, unless ``block`` (``ram_style = "block"``)."""
    if depth <= 4 and not block:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in _ICE40_MODES)


def _ecp5_blocks(depth, width, enables, block=False):
    """DP16KD blocks of one ECP5 memory, 0 if Yosys puts it in LUT RAM or flip-flops
    (:func:`_ecp5_map`)."""
    kind, units = _ecp5_map(depth, width, enables, block)
    return units if kind == "bram" else 0


def _ecp5_map(depth, width, enables, block=False):
    """``(kind, units)``: what Yosys builds one ECP5 memory from, ``"bram"`` (DP16KD blocks),
    ``"lutram"`` (TRELLIS_DPR16X4 units) or ``"ff"`` (0). As ``MemoryLibMapPass::execute``
    picks: flip-flops (a cost of 1 a bit) first, then each candidate in library order (LUT
    RAM, DP16KD, PDPW16KD), each taken only if it costs less than the best so far, which
    Yosys keeps as an ``int`` (truncated): a tie, or a block RAM cheaper by less than the
    fraction, stays in LUT RAM (depth 64 x 39 bits in 3 lanes: 258.0 against 258.5, LUT
    RAM). ``block`` (``ram_style = "block"``): only the block RAMs are candidates."""
    best, choice = (math.inf, None) if block else (depth * width, ("ff", 0))
    for ram in (_ECP5_DP16KD, _ECP5_PDPW16KD) if block else (
            _ECP5_DPR16X4, _ECP5_DP16KD, _ECP5_PDPW16KD):
        cost, units = _libmap_cost(ram, depth, width, enables)
        if cost < best:
            best, choice = int(cost), ("lutram" if ram is _ECP5_DPR16X4 else "bram", units)
    return choice


def _lutram_memories(params):
    """``(depth, width, units)`` of each buffer memory Yosys puts in LUT RAM on ECP5
    (:func:`_ecp5_map`)."""
    for depth, widths, enables, block in _buffers(params):
        for width in widths:
            kind, units = _ecp5_map(depth, width, enables, block)
            if kind == "lutram":
                yield depth, width, units


def lutram_units(params, family):
    """LUT RAM units of the three buffers: TRELLIS_DPR16X4 (16 words x 4 bits) on ECP5, where
    Yosys finds a buffer cheaper in LUT RAM than in block RAM (:func:`_ecp5_map`); none on
    iCE40, which has no LUT RAM."""
    if family != "ecp5":
        return 0
    return sum(units for _, _, units in _lutram_memories(params))


def _lutram_read_luts(params):
    """LUT4s of the read multiplexers of the buffers in LUT RAM on ECP5: a memory deeper than
    a TRELLIS_DPR16X4 is ``ceil(depth / 16)`` units deep, and each bit read goes through a
    multiplexer of one LUT4 a unit beyond the first, which Yosys counts with the LUT4s.
    Checked at 32 words (two units) only: the 8 x 256 x 8 with the ULX3S sizes, whose result
    memories are 1,664 bits of 32 words, took 34,566 LUT4 with ``result_ram="block"``
    against 36,176 with them in LUT RAM (1,610 fewer; bench/bitserial-fanout runs
    ``8x256x8-planes-packed-fanout2-resblock`` and ``-readycopy``). Deeper memories need
    wider multiplexers (PFUMX, L6MUX21), which this does not count."""
    words = 1 << _ECP5_DPR16X4[0]
    return sum(width * (-(-depth // words) - 1)
               for depth, width, _ in _lutram_memories(params))


def copy_ffs(params):
    """Flip-flops that ``bcast_fanout``, ``bcast_stages``, ``dpu_inputs``, the systolic flows
    and ``top_registers`` add to what the cost model is fitted with (one broadcast register a
    word, none of the others):

    - with ``bcast_fanout``: the broadcast register copies (``ceil(dn / F)`` an A word,
      ``ceil(dm / F)`` a B word, in place of one each), a plane register a bank in place of
      one, and with a memory a bank the address registers' copies (read and write address a
      bank of A and B; the result write address and enable and the readout's enable a result
      memory, one for each row of DPUs, or row and column group with ``a_flow="systolic"``;
      with several result memories, a copy each of the readout's address counter, a stage of
      its own, with the readout's valid and last flags a register longer to match; two more
      copies of the compute stage's ``computing`` and one each of its ``end`` and ``start``;
      the step flags at the broadcast stage in a copy a result memory);
    - with ``bcast_stages`` above 1, the registers before the broadcast stage, one a word a
      stage; with ``dpu_inputs``, the DPUs' input registers;
    - with systolic flows (``a_flow``, ``b_flow``), the rows' and columns' delays (the
      copies are chained, as many);
    - with ``top_registers``, each DPU's added popcount registers
      (:func:`lowbit.hw.popcount.register_bits`) and the cycles they add to its step flags
      and to the result address and flags."""
    p = params
    la, ra, ca = p.buffer_addr_bits.values()
    # The DPUs' input registers and the broadcast stages beyond the first, and the cycle each
    # adds to the step flags (valid, first, negate, shift at the broadcast stage; valid,
    # last, final and the result address).
    shift_w = max(1, (p.max_wa + p.max_wb - 2).bit_length())
    flags = 6 + shift_w + ca
    inputs = ((2 * p.dm * p.dn * p.dk + flags if p.dpu_inputs else 0)
              + (p.bcast_stages - 1) * ((p.dm + p.dn) * p.dk + flags))
    # top_registers: the tree's added registers, and a cycle each of each DPU's step flags
    # (valid, first, negate, shift) and of the result address and flags (valid, last, final).
    stages = (tree_latency(p.dk, p.spacing, p.top_registers)
              - tree_latency(p.dk, p.spacing))
    inputs += (p.dm * p.dn * (register_bits(p.dk, p.spacing, p.popcount, p.top_registers)
                              - register_bits(p.dk, p.spacing, p.popcount)
                              + stages * (3 + shift_w))
               + stages * (3 + ca))
    if not p.bcast_fanout:
        return inputs
    a, b = -(-p.dn // p.bcast_fanout), -(-p.dm // p.bcast_fanout)
    # Systolic flows: the copies in chains (as many); each row's A and each column's B read
    # address, and each result memory's step flags (valid, first, negate, shift) and write
    # address and enable, as many registers late as its DPUs work; the run's final flag the
    # last DPU's.
    late = p.result_skews
    inputs += (sum(p.row_skews) * la + sum(p.col_skews) * ra
               + sum(late) * (3 + shift_w + ca + 1) + max(late))
    # A copy a result memory (one a row, or a row and column group with a_flow="systolic")
    # of its write address and enable, the readout's enable and address, the step flags.
    res = len(p.result_memories)
    return (p.dk * (p.dm * (a - 1) + p.dn * (b - 1) + p.dm + p.dn - 1)
            + 2 * (p.dm - 1) * la + 2 * (p.dn - 1) * ra + (res - 1) * (ca + 1)
            + (res * ca + 2 if res > 1 else 0) + res - 1 + 4 + (res - 1) * (3 + shift_w)
            + inputs)


def _require_model(family):
    if family not in FAMILY_BOARD:
        raise UsageError(f"the bit-serial cost model covers {' and '.join(FAMILY_BOARD)} (fitted "
                         f"to Yosys runs), not {family}; measure with 'lowbit synth' instead")


def engine_logic_cells(board, params, lut, ff, carry, lutram):
    """:meth:`Board.logic_cells` for the bit-serial engine ``params`` from Yosys's counts,
    with the chain popcount's CCU2C (:func:`lowbit.hw.popcount.chain_cells`) at two logic
    cells each, no more: lowbit.boards.carry leaves its chains no cells at their ends, and
    the board's carry share (3 on ECP5) is for Yosys's adders, which have them."""
    chains = (min(carry, params.dm * params.dn * chain_cells(params.dk))
              if params.popcount == "chain" else 0)
    return board.logic_cells(lut, ff, carry - chains, lutram) + 2 * chains


def estimate_bitserial(params, family, model=None):
    """``{"lut", "ff", "carry", "lutram", "cells", "bram", "peak_binary_ops_per_cycle"}``
    predicted for ``family``; ``cells`` is what the LUT budget is checked against, counted as
    nextpnr counts them on the board the model was fitted on
    (:meth:`lowbit.boards.Board.logic_cells`: iCE40 logic cells hold a LUT4 and a flip-flop;
    ECP5's TRELLIS_COMB are the LUT4s plus the sites carry cells and LUT RAM take, two for
    each of the chain popcount's CCU2C, :func:`lowbit.hw.popcount.chain_cells`). On top of
    the fitted model: the flip-flops of :func:`copy_ffs`, and on ECP5 with
    ``result_ram="block"`` the LUT RAM read multiplexers that are gone
    (:func:`_lutram_read_luts`; the model is fitted with ``"auto"``)."""
    _require_model(family)
    est = dict(model_estimate(params, family, model))
    est["ff"] += copy_ffs(params)  # the model is fitted with one register a word
    if family == "ecp5":  # and with result_ram="auto": LUT RAM's read multiplexers in "lut"
        auto = dataclasses.replace(params, result_ram="auto")
        est["lut"] += _lutram_read_luts(params) - _lutram_read_luts(auto)
    lutram = lutram_units(params, family)
    cells = engine_logic_cells(get_board(FAMILY_BOARD[family]), params, est["lut"], est["ff"],
                               est["carry"], lutram)
    return {**est, "lutram": lutram, "cells": cells, "bram": bram_blocks(params, family),
            "peak_binary_ops_per_cycle": params.peak_binary_ops_per_cycle}


#: How far over the device an estimate must be before a design is refused without synthesis:
#: beyond the cost model's largest held-out error (15%), so nothing that might fit is refused.
CERTAIN_OVER = 1.15


def check_fits_board(params, board):
    """Raise UsageError when the cost model says ``params`` cannot fit ``board`` even allowing
    for its error: logic (logic cells: ICESTORM_LC, TRELLIS_COMB) or flip-flops more than 15%
    over the device, or more block RAMs than it has (:func:`bram_blocks`, exact). Families
    without a cost model pass (synthesis tells)."""
    if board.family not in FAMILY_BOARD:
        return None
    est = estimate_bitserial(params, board.family)
    cap = board.capacity
    over = [f"{what} about {est[k]} of {cap[c]}" for k, c, what in (
        ("cells", "lut", board.logic_name),
        ("ff", "ff", "flip-flops")) if est[k] > CERTAIN_OVER * cap[c]]
    if est["bram"] > cap["bram"]:
        over.append(f"block RAMs {est['bram']} of {cap['bram']}")
    if over:
        raise UsageError(
            f"bitserial {params.dm} x {params.dk} x {params.dn} cannot fit the {board.device} "
            f"({board.name}): {', '.join(over)} (cost model); 'lowbit fit bitserial --board "
            f"{board.name}' picks the largest array that fits")
    return est


def _candidates(base, family):
    """Every array shape the matrix maxima can use: ``Dm <= max_m``, ``Dn <= max_n`` (both up
    to 16) and ``Dk`` from :data:`DK_CHOICES` up to the first that covers ``max_k``. On ECP5,
    with ``result_ram="auto"``, each shape whose results Yosys would put in LUT RAM is also a
    candidate with them in block RAM (``result_ram="block"``: fewer logic cells, more block
    RAMs; the ranking takes the fewer cells where both fit)."""
    dks = [dk for dk in DK_CHOICES if dk < base.max_k]
    dks.append(next((dk for dk in DK_CHOICES if dk >= base.max_k), DK_CHOICES[-1]))
    for dm in range(1, min(MAX_SIDE, base.max_m) + 1):
        for dn in range(1, min(MAX_SIDE, base.max_n) + 1):
            for dk in dks:
                if dm * dn * dk <= MAX_DPU_BITS:  # the generator's limit
                    p = dataclasses.replace(base, dm=dm, dn=dn, dk=dk)
                    yield p
                    if family == "ecp5" and p.result_ram == "auto":
                        block = dataclasses.replace(p, result_ram="block")
                        if lutram_units(block, family) < lutram_units(p, family):
                            yield block


def _rank(params, est):
    # Most peak throughput first; then the fewest cells; then the squarest array.
    return (-params.peak_binary_ops_per_cycle, est["cells"], abs(params.dm - params.dn))


#: The share of the device :func:`fit_bitserial` budgets by default, by family: logic (as
#: nextpnr counts it) and block RAMs. On iCE40, 80% of the logic cells and all the block RAMs
#: (the UP5K's fit at 30 of 30 routed, docs/numbers.md). On ECP5, 75% and 80%: with the
#: logic budget at 80%, the ULX3S-85F's choice (7 x 256 x 9, the board's options then)
#: placed at 82% of the logic cells and did not route; 8 x 256 x 8 with the board's options
#: now (popcount=packed, bcast_fanout=2) routed in every bench run at 74% of the cells and
#: 62% of the DP16KD (135.35 MHz at best, bench/bitserial-fanout), and with 70% the fit's
#: choice, 7 x 256 x 8, routed at 58% (124.10 MHz, fit-ulx3s-85f-packed-router1.json; the
#: cost model, then fitted to popcount=tree alone, said 68%). The model fitted to both
#: popcounts predicts 8 x 256 x 8 at 72% of the cells (60,199 against 61,879 placed), within
#: 75% and not within 70%.
#: With the board's earlier options the fits did not finish routing (:data:`FIT_ROUTER`).
DEVICE_SHARE = {"ice40": {"lut": 0.8, "bram": 1.0}, "ecp5": {"lut": 0.75, "bram": 0.8}}

#: nextpnr's router for the fit's synthesis (``lowbit fit --router``): router1, nextpnr's
#: default. router2 finishes some large designs sooner at a lower Fmax (8 x 256 x 4 on the
#: ECP5-85F: 1535 s and 75.9 MHz against 2262 s and 115.6, bench/bitserial-fanout), but on
#: the ULX3S-85F's fits it stopped converging: 4 x 512 x 8 and 7 x 256 x 8 (board options,
#: 73% of the cells) near 30,500 and 35,000 overused wires, and 7 x 256 x 8 with
#: popcount=packed and bcast_fanout=2 (58% of the cells) at 7,707 in its 15th iteration,
#: then rising (fit-ulx3s-85f-router2-attempt.json, -budget70-attempt.json,
#: -packed-router2-attempt.json). router1 routed that 7 x 256 x 8 (124.10 MHz,
#: fit-ulx3s-85f-packed-router1.json) and every packed 8 x 256 x 8 with broadcast copies
#: in the bench (74% of the cells). With the earlier options router1 was slow too: 24,000
#: of the 4 x 512 x 8 fit's 220,177 arcs in 1464 s (fit-ulx3s-85f-router1-attempt.json).
FIT_ROUTER = "router1"


def default_budget(board, what):
    """What ``lowbit fit`` lets the unit use of ``board``'s ``what`` (``"lut"``, logic as
    nextpnr counts it, or ``"bram"``) by default (:data:`DEVICE_SHARE`; the families the
    cost model covers)."""
    return int(DEVICE_SHARE[board.family][what] * board.capacity[what])


def fit_bitserial(board, base=None, *, lut_budget=None, bram_budget=None, verify=True,
                  outdir=None, router=None, tmg_ripup=False, say=print):
    """Pick the largest array for ``board``; returns a report dict (choice and reasons).

    ``base`` holds everything but the array shape (precisions, matrix maxima, spacing).
    ``lut_budget`` and ``bram_budget`` default to :func:`default_budget` (room for the
    router and a harness: 80% of the logic and all the block RAMs on iCE40, 75% and 80% on
    ECP5).
    With ``verify``, the best candidates are synthesized in turn (:func:`lowbit.boards.synth`,
    into ``outdir``, default ``lowbit-out/bitserial-fit-BOARD``; with nextpnr's ``router``,
    default :data:`FIT_ROUTER`, and its timing-driven rip-up with ``tmg_ripup``) until one
    fits and meets the board clock.
    """
    from pathlib import Path

    from ..boards import synth
    from ..boards.flow import check_router_options

    for option, given in (("--router", router), ("--tmg-ripup", tmg_ripup)):
        if given and not verify:
            raise UsageError(f"{option} is an option of the fit's place and route; with "
                             f"--no-verify nothing is routed: drop one of them")
    router = router or FIT_ROUTER
    check_router_options(router, tmg_ripup)
    _require_model(board.family)
    base = base or BitSerialParams()
    outdir = Path(outdir or Path("lowbit-out") / f"bitserial-fit-{board.name}")
    family = board.family
    cap = board.capacity
    budget = default_budget(board, "lut") if lut_budget is None else lut_budget
    if not 1 <= budget <= cap["lut"]:
        raise UsageError(f"--lut-budget must be between 1 and the {board.device}'s "
                         f"{cap['lut']} LUTs, not {budget}")
    brams = default_budget(board, "bram") if bram_budget is None else bram_budget
    if not 0 <= brams <= cap["bram"]:
        raise UsageError(f"--bram-budget must be between 0 and the {board.device}'s "
                         f"{cap['bram']} block RAMs, not {brams}")
    model = load_model()
    fits, rejected = [], {"cells": 0, "ff": 0, "bram": 0}
    for p in _candidates(base, family):
        est = estimate_bitserial(p, family, model)
        over = [k for k, limit in (("cells", budget), ("ff", cap["ff"]),
                                   ("bram", brams)) if est[k] > limit]
        for k in over:
            rejected[k] += 1
        if not over:
            fits.append((p, est))
    if not fits:
        smallest = dataclasses.replace(base, dm=1, dn=1, dk=DK_CHOICES[0])
        est = estimate_bitserial(smallest, family)
        maxima = (f"max_m={base.max_m}, max_n={base.max_n}, max_k={base.max_k}, "
                  f"max_wa={base.max_wa}, max_wb={base.max_wb}")
        why = []
        if est["bram"] > brams:
            # The buffers' size follows the maxima more than the array.
            why.append(f"its double-buffered operand and result buffers, sized by the maxima, "
                       f"need {est['bram']} block RAMs ("
                       + (f"device: {cap['bram']}" if brams == cap["bram"] else
                          f"budget {brams} of {cap['bram']}") + ")")
        if est["cells"] > budget:
            why.append(f"it needs about {est['cells']} logic cells (budget {budget})")
        if est["ff"] > cap["ff"]:
            why.append(f"it needs about {est['ff']} flip-flops (device: {cap['ff']})")
        advice = "lower max_m, max_n, max_k or the precisions with -p"
        raise_ = [opt for opt, over in (
            ("--lut-budget", budget < est["cells"] <= cap["lut"]),
            ("--bram-budget", brams < est["bram"] <= cap["bram"]))
            if over]
        within_device = (est["cells"] <= cap["lut"] and est["bram"] <= cap["bram"]
                         and est["ff"] <= cap["ff"])
        if raise_ and within_device:
            advice += f", or raise {' and '.join(raise_)}"
        raise UsageError(
            f"no bit-serial array fits the {board.device} ({board.name}) with {maxima}: even "
            f"1x{DK_CHOICES[0]}x1 does not fit: {' and '.join(why)}; {advice}")
    fits.sort(key=lambda pe: _rank(*pe))
    report = {"board": board.name, "device": board.device, "family": family,
              "lut_budget": budget, "bram_budget": brams, "capacity": cap,
              "candidates_that_fit": len(fits),
              "rejected_by": rejected, "board_clock_mhz": board.board_clock_mhz,
              "outdir": str(outdir), "tried": []}
    chosen = None
    for p, est in fits[:6] if verify else fits[:1]:
        entry = {"params": dataclasses.asdict(p), "estimate": est}
        report["tried"].append(entry)
        if not verify:
            chosen = entry
            break
        say(f"fit: synthesizing dm={p.dm} dk={p.dk} dn={p.dn} for {board.name} "
            f"(predicted {est['cells']} logic cells, {est['bram']} block RAMs) ...")
        try:
            synth_report = synth("bitserial", p, board.name, outdir, log=None, router=router,
                                 tmg_ripup=tmg_ripup)
        except RuntimeError as exc:  # does not fit after all: try the next one
            entry["synth_error"] = str(exc).splitlines()[0]
            say(f"fit:   rejected: {entry['synth_error']}")
            continue
        entry["synth"] = {k: synth_report[k] for k in ("unit_resources", "fmax_mhz",
                                                       "meets_board_clock")}
        entry["synth"]["router"] = router
        entry["synth"]["tmg_ripup"] = tmg_ripup
        if synth_report["meets_board_clock"]:
            chosen = entry
            break
        say(f"fit:   rejected: Fmax {synth_report['fmax_mhz']} MHz is below the board clock")
    if chosen is None:
        raise RuntimeError(f"none of the {len(report['tried'])} best candidates placed and met "
                           f"the {board.board_clock_mhz:g} MHz clock of {board.name}; see "
                           f"'lowbit estimate' and lower the budget with --lut-budget")
    report["chosen"] = chosen
    return report


def explain(report):
    """The report as lines a hardware engineer reads: what was chosen and why."""
    c = report["chosen"]
    p, est = c["params"], c["estimate"]
    peak = est["peak_binary_ops_per_cycle"]
    clock = report["board_clock_mhz"]
    lines = [
        f"fit bitserial for {report['board']} ({report['device']}):",
        f"  chose Dm={p['dm']} x Dk={p['dk']} x Dn={p['dn']} "
        f"(max_wa={p['max_wa']}, max_wb={p['max_wb']}, max_m={p['max_m']}, "
        f"max_k={p['max_k']}, max_n={p['max_n']}"
        + (", result_ram=block: the results in block RAM"
           if p.get("result_ram") == "block" else "") + ")",
        f"  why: the largest peak throughput, {peak} binary ops/cycle (2 Dm Dk Dn), of "
        f"{report['candidates_that_fit']} candidates that fit",
        f"  cost model: {est['lut']} LUTs, {est['ff']} FFs, {est['carry']} carry cells"
        + (f", {est['lutram']} LUT RAM units" if est.get("lutram") else "")
        + (f", {est['cells']} logic cells" if get_board(report["board"]).logic_name
           == "logic cells" else "")
        + f" (budget {report['lut_budget']} of {report['capacity']['lut']}), "
        f"{est['bram']} block RAMs (budget {report['bram_budget']} of "
        f"{report['capacity']['bram']})",
        f"  shapes rejected: {report['rejected_by']['cells']} over the logic budget, "
        f"{report['rejected_by']['ff']} over the flip-flops, "
        f"{report['rejected_by']['bram']} over the block RAM budget",
    ]
    if "synth" in c:
        s = c["synth"]
        fmax = s["fmax_mhz"]
        lines += [
            f"  synthesized: {s['unit_resources']['lut']} LUTs, {s['unit_resources']['ff']} "
            f"FFs, {s['unit_resources']['bram']} block RAMs; Fmax {fmax:.1f} MHz "
            f"({s.get('router', 'router1')}{', --tmg-ripup' if s.get('tmg_ripup') else ''}), "
            f"meets the {clock:g} MHz board clock",
            f"  peak {peak * clock / 1e3:.1f} binary GOPS at the board clock, "
            f"{peak * fmax / 1e3:.1f} at Fmax",
        ]
    else:
        lines.append(f"  not synthesized (--no-verify): peak {peak * clock / 1e3:.1f} binary "
                     f"GOPS at the {clock:g} MHz board clock; confirm with 'lowbit synth'")
    for t in report["tried"]:
        if "synth_error" in t:
            q = t["params"]
            lines.append(f"  tried first: Dm={q['dm']} Dk={q['dk']} Dn={q['dn']}: "
                         f"{t['synth_error']}")
    return lines
