"""What a Horner accumulator would save against the DPU's shift-negate-accumulate: Yosys
(synth_ecp5 -abc9) on the accumulate step alone, as the 8 x 256 x 8 engine builds it (a
9-bit popcount, shifts 0..14, the term registered before the adder, the engine's accumulator
width), against ``acc = (first ? 0 : dbl ? 2 acc : acc) + (negate ? -count : count)`` with
``count`` XOR ``negate`` registered as the term. The Horner form needs the schedule to walk
the bit-plane pairs by diagonals (i + j from high to low, ``dbl`` at each new diagonal), which
the engine does not; this measures the logic only, to size the change. The popcount in front
is the same in both and not built. Writes horner-area.json beside this file.

usage: python bench/bitserial-fanout/horner_area.py
"""

import json
from pathlib import Path

from amaranth.hdl import Elaboratable, Module, Mux, Signal, signed
from dpu_shifter_area import yosys_cells  # beside this file
from lowbit.boards.toolchain import check_tools, toolchain_env
from lowbit.golden.bitserial import BitSerialParams
from lowbit.hw.arith import delay
from lowbit.hw.bitserial import shift_negate_accumulate

HERE = Path(__file__).parent
ENGINE = BitSerialParams(dm=8, dk=256, dn=8, max_m=32, max_k=512, max_n=32, spacing=1,
                         popcount="packed", bcast_fanout=2, operands="planes")
COUNT = 9  # bits of a 256-bit popcount


class _Accumulate(Elaboratable):
    """One DPU's accumulate step from a registered count; ``horner`` picks the form."""

    def __init__(self, horner, acc_width, max_shift):
        self.horner, self.acc_width, self.max_shift = horner, acc_width, max_shift
        self.count = Signal(COUNT)
        self.shift = Signal(max(1, max_shift.bit_length()))
        self.dbl, self.negate, self.first, self.valid = Signal(), Signal(), Signal(), Signal()
        self.acc = Signal(signed(acc_width))

    def elaborate(self, platform):
        m = Module()
        one = Signal(init=1)
        ins = [delay(m, one, s, 1, name=f"{s.name}_q") for s in
               (self.count, self.shift, self.dbl, self.negate, self.first, self.valid)]
        count, shift, dbl, negate, first, valid = ins
        if not self.horner:
            acc = shift_negate_accumulate(m, one, count, shift, negate, first, valid,
                                          acc_width=self.acc_width, max_shift=self.max_shift,
                                          register_term=True)
        else:
            term = delay(m, one, Mux(negate, ~count, count), 1, name="term_r")
            negate, first, dbl, valid = (delay(m, one, s, 1, name=f"{n}_r") for n, s in
                                         (("negate", negate), ("first", first), ("dbl", dbl),
                                          ("valid", valid)))
            acc = Signal(signed(self.acc_width), name="acc")
            ext = Signal(signed(self.acc_width))  # the term sign-extended (~count is negative)
            m.d.comb += ext.eq(Mux(negate, term | ~((1 << COUNT) - 1), term))
            with m.If(valid):
                m.d.sync += acc.eq(Mux(first, 0, Mux(dbl, acc << 1, acc)) + ext + negate)
        m.d.comb += self.acc.eq(acc)
        return m


def main():
    env = toolchain_env(check_tools("ecp5"))
    width, shift = ENGINE.accumulator_width, ENGINE.max_shift
    out = {"command": "python bench/bitserial-fanout/horner_area.py",
           "flow": "read_rtlil; synth_ecp5 -abc9 -top t; stat",
           "engine": {"dm": ENGINE.dm, "dk": ENGINE.dk, "dn": ENGINE.dn,
                      "acc_width": width, "max_shift": shift, "count_bits": COUNT},
           "runs": {}}
    for horner in (False, True):
        top = _Accumulate(horner, width, shift)
        counts = yosys_cells(env, top, [top.count, top.shift, top.dbl, top.negate, top.first,
                                        top.valid, top.acc])
        name = "horner" if horner else "shift-negate-accumulate"
        out["runs"][name] = {"cells": counts}
        print(f"{name}: {counts}")
    (HERE / "horner-area.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
