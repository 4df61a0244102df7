"""Parameter sets shared by several test modules (the simulation tests and the lint sweep):
plain data, so no test module imports another."""

from lowbit.golden.bitserial import BitSerialParams
from lowbit.golden.link import LinkParams
from lowbit.golden.winograd import Conv2dParams

#: MAC configurations: ``(id, overrides of MACParams)``.
MAC_SWEEP = [
    ("default", {}),
    ("cc16-p1-fast", dict(carry_chain=16, pipeline=1)),
    ("wl2-trunc-p0", dict(il_a=1, fl_a=1, il_b=2, fl_b=0, il_o=2, fl_o=0, guard=2,
                          rounding="truncate", pipeline=0)),
    ("wl2-even-p1", dict(il_a=2, fl_a=0, il_b=2, fl_b=0, il_o=1, fl_o=1, guard=1,
                         rounding="nearest_even", pipeline=1)),
    ("wl1-operands", dict(il_a=1, fl_a=0, il_b=1, fl_b=0, il_o=2, fl_o=0, guard=3,
                          pipeline=1)),
    ("il1-q7-p3", dict(il_a=1, fl_a=7, il_b=1, fl_b=7, il_o=1, fl_o=7, guard=4, pipeline=3)),
    ("fl0-int-p4", dict(il_a=8, fl_a=0, il_b=8, fl_b=0, il_o=16, fl_o=0, guard=4,
                        rounding="truncate", pipeline=4)),
    ("fl0-out-even", dict(il_a=4, fl_a=4, il_b=4, fl_b=4, il_o=10, fl_o=0,
                          rounding="nearest_even")),
    ("wl32-int", dict(il_a=32, fl_a=0, il_b=32, fl_b=0, il_o=32, fl_o=0, guard=8)),
    ("wl32-q31-even-p4", dict(il_a=1, fl_a=31, il_b=1, fl_b=31, il_o=16, fl_o=16, guard=4,
                              rounding="nearest_even", pipeline=4)),
    ("wl32-stoch-r16-l20", dict(il_a=16, fl_a=16, il_b=1, fl_b=31, il_o=1, fl_o=31, guard=32,
                                rounding="stochastic", r_bits=16, lfsr_width=20, pipeline=3,
                                carry_chain=13)),
    ("wl32-drop54-trunc", dict(il_a=5, fl_a=27, il_b=5, fl_b=27, il_o=32, fl_o=0,
                               rounding="truncate", pipeline=1)),
    ("mixed-trunc-p1", dict(il_a=3, fl_a=5, il_b=6, fl_b=10, il_o=5, fl_o=9,
                            rounding="truncate", pipeline=1)),
    ("mixed-even-p0-cc4", dict(il_a=12, fl_a=4, il_b=2, fl_b=6, il_o=9, fl_o=7,
                               rounding="nearest_even", pipeline=0, carry_chain=4)),
    ("wl17-nearest", dict(il_a=9, fl_a=8, il_b=9, fl_b=8, il_o=17, fl_o=0, guard=6)),
    ("out-wider-fl", dict(il_a=4, fl_a=2, il_b=4, fl_b=2, il_o=8, fl_o=8, pipeline=1)),
    ("guard0", dict(il_a=8, fl_a=8, il_b=8, fl_b=8, il_o=8, fl_o=8, guard=0)),
    ("stoch-r1-l3-p0", dict(il_a=4, fl_a=4, il_b=4, fl_b=4, il_o=4, fl_o=4,
                            rounding="stochastic", r_bits=1, lfsr_width=3, pipeline=0)),
    ("stoch-r4-l7-p1", dict(rounding="stochastic", r_bits=4, lfsr_width=7, seed=0x55,
                            pipeline=1)),
    ("stoch-r8-l16-p2", dict(rounding="stochastic", r_bits=8, lfsr_width=16, seed=0xACE1)),
    ("stoch-r16-l16-p4-cc8", dict(rounding="stochastic", r_bits=16, lfsr_width=16, pipeline=4,
                                  carry_chain=8)),
    ("stoch-r12-l31-mixed", dict(il_a=3, fl_a=13, il_b=5, fl_b=3, il_o=6, fl_o=6,
                                 rounding="stochastic", r_bits=12, lfsr_width=31,
                                 seed=123456789)),
    ("stoch-r16-l64", dict(rounding="stochastic", r_bits=16, lfsr_width=64,
                           seed=0x123456789ABCDEF, pipeline=3)),
    ("stoch-r5-drop3", dict(il_a=4, fl_a=4, il_b=4, fl_b=4, il_o=8, fl_o=5,
                            rounding="stochastic", r_bits=5, lfsr_width=24)),
    ("rp-nearest", dict(round_products=True, rounding="nearest")),
    ("rp-stoch-r8", dict(round_products=True, rounding="stochastic", r_bits=8, pipeline=1)),
    ("rp-even-p4-cc5", dict(round_products=True, rounding="nearest_even", pipeline=4,
                            il_a=2, fl_a=9, il_b=3, fl_b=5, il_o=4, fl_o=3, guard=5,
                            carry_chain=5)),
    ("rp-stoch-cc4", dict(round_products=True, rounding="stochastic", r_bits=6, lfsr_width=9,
                          il_a=3, fl_a=7, il_b=3, fl_b=7, il_o=6, fl_o=4, carry_chain=4,
                          pipeline=0)),
    ("rp-noshift", dict(round_products=True, il_a=4, fl_a=4, il_b=4, fl_b=4, il_o=12,
                        fl_o=10, rounding="truncate", pipeline=0)),
    ("wrap-nearest", dict(saturate=False, il_o=5, fl_o=6, pipeline=1)),
    ("wrap-stoch", dict(saturate=False, rounding="stochastic", r_bits=10, lfsr_width=11,
                        il_o=4, fl_o=4, pipeline=2)),
]


#: Conv layers: (data_width, weight_width, channels, height, width, padding, pipeline,
#: filter_transform, or "direct" for the direct engine): :func:`conv2d_params`.
CONV2D_SWEEP = [
    (8, 8, 1, 8, 8, "same", 1, "offline"),
    (2, 2, 1, 5, 7, "valid", 0, "offline"),      # odd output both ways
    (4, 3, 3, 6, 3, "valid", 2, "onchip"),       # one output column
    (12, 6, 3, 7, 9, "same", 5, "offline"),     # every register stage of the engine
    (16, 16, 16, 4, 5, "same", 1, "onchip"),
    (8, 5, 16, 3, 4, "valid", 3, "offline"),     # one output row
    (4, 4, 1, 1, 1, "same", 1, "offline"),       # one pixel
    (8, 8, 2, 2, 13, "same", 2, "onchip"),
    (8, 8, 3, 7, 9, "same", 2, "direct"),        # the direct engine, same interface
    (4, 3, 16, 5, 6, "valid", 6, "direct"),      # every register stage of the direct engine
]

#: Layers of K filters: a CONV2D_SWEEP entry and (filters, parallel).
CONV2D_FILTERS_SWEEP = [
    ((8, 8, 1, 5, 7, "same", 1, "offline"), 2, 1),      # a fold of 2, more filters than C
    ((4, 3, 3, 6, 5, "valid", 2, "direct"), 3, 3),      # three lanes of the direct engine
    ((2, 2, 3, 3, 3, "valid", 0, "onchip"), 3, 1),      # a fold of 3, one output pixel
    ((16, 16, 16, 4, 5, "same", 5, "offline"), 16, 4),  # a fold of 4, the widest values
    ((8, 5, 16, 5, 4, "same", 6, "direct"), 16, 8),     # C = K = 16, eight lanes
    ((12, 6, 1, 1, 1, "same", 6, "offline"), 2, 2),     # one pixel, two lanes, every stage
    ((4, 4, 2, 5, 9, "same", 1, "offline"), 8, 1),      # a fold of 8: the engine the bound
    ((6, 5, 3, 5, 6, "same", 0, "offline"), 8, 8),      # 4 output transforms, 2 lanes each
]


def conv2d_params(cfg, **more):
    """The Conv2dParams of a CONV2D_SWEEP entry (with ``more`` on top)."""
    wd, wg, c, h, w, padding, pipe, ft = cfg
    engine = dict(engine="direct") if ft == "direct" else dict(filter_transform=ft)
    return Conv2dParams(data_width=wd, weight_width=wg, channels=c, height=h, width=w,
                        padding=padding, pipeline=pipe, **engine, **more)


# Array shapes (each one Verilator build), sized so the buffers hold the test matrices.
#: popcount="chain" (ECP5 CCU2C carry chains; its Verilog simulates and lints with Yosys's
#: models of the cells): 40 bits a DPU (11 level-1 fields, 5 levels), spacing 2, a register
#: after the last two levels as well, copies of the operands for pairs of DPUs. Not in
#: SHAPES: test_matmul_sim runs it alone, and test_lint lints it beside them.
CHAIN_SHAPE = BitSerialParams(dm=3, dn=2, dk=40, max_wa=8, max_wb=8, max_m=9, max_k=100,
                              max_n=9, popcount="chain", top_registers=2, bcast_fanout=2)

SHAPES = {
    "2x64x2": BitSerialParams(dm=2, dn=2, dk=64, max_wa=8, max_wb=8, max_m=9, max_k=100,
                              max_n=9),
    # Two broadcast stages (a register a word, then a copy for each DPU).
    "3x48x2": BitSerialParams(dm=3, dn=2, dk=48, max_wa=8, max_wb=8, max_m=9, max_k=100,
                              max_n=9, spacing=1, bcast_fanout=1, bcast_stages=2),
    # Three broadcast registers a word in a chain (no copies).
    "1x7x4": BitSerialParams(dm=1, dn=4, dk=7, max_wa=8, max_wb=8, max_m=9, max_k=100,
                             max_n=9, spacing=0, bcast_stages=3),
    # The packed popcount (pair counts, 6:3 counters, carry chains with guard bits), two
    # hops of broadcast (copies for pairs of DPUs, then each DPU's input register); its six
    # adder levels (the tree's depth is 7) registered after 2, 4 and 6 (spacing 2), 5
    # (top_registers 3) and 3 (the stage of the seventh level it lacks).
    "2x100x3-packed": BitSerialParams(dm=2, dn=3, dk=100, max_wa=8, max_wb=8, max_m=9,
                                      max_k=100, max_n=9, popcount="packed",
                                      bcast_fanout=2, dpu_inputs=True, top_registers=3),
    # B down the columns (b_flow="systolic"): its copies for the row groups {0, 1}, {2, 3},
    # {4} chained, those rows' A read, and their results written, 0, 1 and 2 cycles late;
    # the packed popcount, copies of A for pairs of DPUs.
    "5x32x3-systolic": BitSerialParams(dm=5, dn=3, dk=32, max_wa=8, max_wb=8, max_m=9,
                                       max_k=100, max_n=9, spacing=1, popcount="packed",
                                       bcast_fanout=2, b_flow="systolic"),
    # Both operands systolic (a_flow and b_flow): A's copies chained along the rows for the
    # column groups {0, 1}, {2, 3}, {4}, B's down the columns for the row groups {0, 1},
    # {2}; DPU (r, c) works row group + column group cycles late (0 to 3), its results in
    # a memory a row and column group; the tree popcount, spacing 2, and its last level
    # (the fifth) registered too (top_registers 2: three stages).
    "3x32x5-systolic2d": BitSerialParams(dm=3, dn=5, dk=32, max_wa=8, max_wb=8, max_m=9,
                                         max_k=100, max_n=9, bcast_fanout=2,
                                         a_flow="systolic", b_flow="systolic",
                                         top_registers=2),
    # A along its one row alone (a_flow="systolic", B broadcast), a copy a DPU: five result
    # memories for one row of DPUs (the readout's address copies with dm = 1), written 0 to
    # 4 cycles late (more than the readout's start takes, so a `final` too early shows); no
    # popcount registers.
    "1x16x5-asystolic": BitSerialParams(dm=1, dn=5, dk=16, max_wa=8, max_wb=8, max_m=9,
                                        max_k=100, max_n=9, spacing=0, bcast_fanout=1,
                                        a_flow="systolic"),
}
# The smallest engine: one 1-bit DPU, 2-bit operands, 3x3 matrices at most.
TINY = BitSerialParams(dm=1, dn=1, dk=1, max_wa=2, max_wb=2, max_m=3, max_k=3, max_n=3,
                       spacing=0)

#: A small host link (fewer registers, a short payload).
LINK_SMALL = LinkParams(clk_hz=10_000_000, baud=2_000_000, max_payload=8, timeout_bits=40,
                   registers=5)


#: Each unit at the corners of its parameter ranges (issue 15): ``(unit, overrides, cheap)``.
#: The smallest values together; each range's largest with the rest small (the combined limits
#: of 'lowbit list' allow it); and, where the units have them, the combined limits reached.
#: ``cheap`` corners (a few seconds to generate) run in tests/test_corners.py; all of them,
#: with their generation time and memory, in bench/param-corners (a minute or two each at
#: the combined limits).
CORNERS = [
    ("mac", dict(il_a=1, fl_a=0, il_b=1, fl_b=0, il_o=1, fl_o=0, guard=0, lfsr_width=2,
                 r_bits=1, seed=1, pipeline=0, rounding="stochastic"), True),
    ("mac", dict(il_a=16, fl_a=16, il_b=16, fl_b=16, il_o=16, fl_o=16, guard=32,
                 rounding="stochastic", lfsr_width=64, r_bits=64, seed=2 ** 64 - 1, pipeline=4,
                 carry_chain=128, round_products=True), True),
    ("mac", dict(il_a=32, fl_a=0, il_b=1, fl_b=31, il_o=32, fl_o=0, guard=32, carry_chain=4,
                 pipeline=4, saturate=False), True),
    ("systolic", dict(rows=1, cols=1, il_a=1, fl_a=0, il_b=1, fl_b=0, il_o=1, fl_o=0,
                      guard=0, lfsr_width=2, r_bits=1, pipeline=0, out_depth=2), True),
    ("systolic", dict(rows=1, cols=32, il_a=16, fl_a=16, il_b=16, fl_b=16, il_o=16, fl_o=16,
                      guard=32, lfsr_width=64, r_bits=64, seed=2 ** 64 - 1, pipeline=4,
                      carry_chain=128, round_products=True, out_depth=64), True),
    ("systolic", dict(rows=28, cols=28), False),  # Gupta et al.'s 784 PEs
    ("lfsr", dict(width=2, r_bits=1), True),
    ("lfsr", dict(width=64, r_bits=64, seed=2 ** 64 - 1), True),
    ("popcount", dict(n=1, spacing=0), True),
    ("popcount", dict(n=4096, spacing=16), True),
    ("popcount", dict(n=4096, spacing=1), False),
    ("popcount", dict(n=4096, spacing=0, style="plain"), False),
    ("xnor", dict(n=1, max_length=1, spacing=0, io_registers=0), True),
    ("xnor", dict(n=4096, max_length=1 << 24, spacing=16, io_registers=2), False),
    ("bmvu", dict(rows=1, cols=1, pe=1, simd=1, thresholds=0, spacing=0), True),
    ("bmvu", dict(rows=1024, cols=16, pe=1024, simd=16, thresholds=1, spacing=16), False),
    ("bmvu", dict(rows=128, cols=16, pe=128, simd=16, thresholds=15), False),
    ("bmvu", dict(rows=4, cols=4096, pe=4, simd=4096, thresholds=0), False),
    ("bmvu", dict(rows=65536, cols=16, pe=1, simd=16, thresholds=15), False),
    ("bmvu", dict(rows=1024, cols=1024, pe=16, simd=64, thresholds=1), False),
    ("bnn", dict(sizes="1-1-2", pe="1-1", simd="1-1", spacing=0), True),
    ("bnn", dict(sizes="16-16-16-16-16-16-16-16-2", output="scores", spacing=16), True),
    # The network's 4,194,304 weight bits: four layers at the bmvu's 1,048,576 each.
    ("bnn", dict(sizes="1024-1024-1024-1024-1024", pe="16-16-16-16", simd="64-64-64-64"),
     False),
    ("winograd1d", dict(data_width=2, weight_width=2, channels=1, pipeline=0), True),
    ("winograd1d", dict(data_width=16, weight_width=16, channels=1024, pipeline=6,
                        filter_transform="onchip"), True),
    ("winograd2d", dict(data_width=2, weight_width=2, channels=1, pipeline=0), True),
    ("winograd2d", dict(data_width=16, weight_width=16, channels=1024, pipeline=6,
                        filter_transform="onchip"), True),
    ("direct3x3", dict(data_width=2, weight_width=2, channels=1, pipeline=0), True),
    ("direct3x3", dict(data_width=16, weight_width=16, channels=1024, pipeline=6), True),
    ("conv2d", dict(data_width=2, weight_width=2, channels=1, pipeline=0, height=1, width=1),
     True),
    ("conv2d", dict(height=4096, width=4096), True),
    ("conv2d", dict(data_width=2, weight_width=2, channels=1, pipeline=0, height=1, width=1,
                    out_width=2, shift=6, rounding="stochastic", relu=True, bias=True, r_bits=1,
                    lfsr_width=2), True),
    ("conv2d", dict(data_width=16, weight_width=16, channels=8, height=4, width=4,
                    out_width=32, shift=7, rounding="nearest_even", bias=True, r_bits=64,
                    lfsr_width=64, seed=2 ** 64 - 1), True),
    ("conv2d", dict(data_width=16, weight_width=16, channels=21, pipeline=6, height=4096,
                    width=4096, filter_transform="onchip", padding="valid"), False),
    ("conv2d", dict(data_width=2, weight_width=2, channels=1, pipeline=0, height=1, width=1,
                    filters=256, parallel=1), True),
    ("conv2d", dict(data_width=2, weight_width=2, channels=1, pipeline=0, height=1, width=1,
                    filters=32, parallel=0, engine="direct"), True),
    ("conv2d", dict(data_width=16, weight_width=16, channels=16, height=64, width=64,
                    filters=256, parallel=4), False),
    ("dpu", dict(dk=1, max_shift=0, acc_width=2, spacing=0), True),
    ("dpu", dict(dk=1024, max_shift=30, acc_width=64, spacing=16), True),
    ("p2s", dict(elements=1, max_width=1), True),
    ("p2s", dict(elements=4096, max_width=4), False),
    ("p2s", dict(elements=512, max_width=32), False),
    ("bitserial", dict(dm=1, dn=1, dk=1, max_wa=1, max_wb=1, max_m=1, max_k=1, max_n=1,
                       spacing=0), True),
    ("bitserial", dict(dm=64, dn=1, dk=1, max_m=64), False),
    ("bitserial", dict(dm=1, dn=64, dk=1, max_n=64), False),
    ("bitserial", dict(dm=1, dn=1, dk=1024, max_k=1024), False),
    ("bitserial", dict(dm=1, dn=1, dk=16, max_wa=16, max_wb=16, max_m=4096, max_k=64,
                       max_n=16, acc_width=64, spacing=16), False),
    ("bitserial", dict(dm=8, dn=8, dk=256), False),
    # MAX_DPU_BITS (32,768 bits a cycle): twice the BISMO-sized array, once with the options
    # of the large ECP5 runs (bench/bitserial-fanout) and once with the deepest DPU.
    ("bitserial", dict(dm=8, dn=16, dk=256, operands="planes", popcount="packed",
                       bcast_fanout=2, top_registers=4, result_ram="block"), False),
    ("bitserial", dict(dm=4, dn=8, dk=1024), False),
    ("link", dict(clk_hz=12_000_000, baud=3_000_000, max_payload=5, timeout_bits=10,
                  registers=1), True),
    ("link", dict(max_payload=4096, timeout_bits=1 << 24, registers=128), True),
]
