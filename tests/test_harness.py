"""The scan harness (boards/harness.py) in simulation: bits shifted in reach the unit's inputs,
and a capture shifts the unit's outputs out bit 0 first, across the capture register's
slices (each steered by its own copy of the capture and shift registers)."""

import numpy as np
from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from lowbit.boards.harness import SCAN_SLICE, ScanHarness


class _Wide(wiring.Component):
    """Registers ``Cat(a, ~a, a ^ b)`` from two inputs: more output bits than two slices."""

    def __init__(self, width):
        self.width = width
        super().__init__({"a": In(width), "b": In(width), "o": Out(3 * width)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.o.eq(Cat(self.a, ~self.a, self.a ^ self.b))
        return m


def test_scan_harness_round_trip():
    width = SCAN_SLICE - 40  # o: 2 slices and a part
    harness = ScanHarness(_Wide(width))
    assert harness.out_width > 2 * SCAN_SLICE
    rng = np.random.default_rng(7)
    a, b = (int.from_bytes(rng.bytes(width // 8 + 1), "little") % (1 << width) for _ in "ab")
    expected = a | (~a % (1 << width)) << width | (a ^ b) << 2 * width
    got = []

    async def bench(ctx):
        async def pulse(pin, value=None):
            if value is not None:
                ctx.set(harness.din, value)
            ctx.set(pin, 1)
            await ctx.tick()
            ctx.set(pin, 0)
            await ctx.tick().repeat(3)

        bits = a | b << width
        for k in range(harness.in_width):  # bit 0 first: it ends at the bottom
            await pulse(harness.shift, (bits >> k) & 1)
        await ctx.tick().repeat(3)
        await pulse(harness.capture)
        for _ in range(harness.out_width):
            got.append(ctx.get(harness.dout))
            await pulse(harness.shift)

    sim = Simulator(harness)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert sum(bit << k for k, bit in enumerate(got)) == expected
