"""FlagFIFO against Amaranth's SyncFIFOBuffered, cycle for cycle, and against a Python queue.

Both FIFOs see the same random ``w_en``/``r_en`` (several densities, so that the queues run
full and empty) and ``w_data``; every cycle their ready flags, levels and head word must be
equal, and the words read must be the words written, in order (a ``deque``).
"""

import collections

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.sim import Simulator
from lowbit.hw.fifo import FlagFIFO

pytestmark = [pytest.mark.sim, pytest.mark.link]

DEPTHS = [1, 2, 3, 4, 5, 8, 17]  # depth 0 has no clock domain to simulate
DENSITIES = [(0.9, 0.2), (0.2, 0.9), (0.5, 0.5), (1.0, 1.0)]


@pytest.mark.parametrize("depth", DEPTHS)
def test_flag_fifo_matches_sync_fifo_buffered(depth):
    m = Module()
    m.submodules.new = new = FlagFIFO(width=8, depth=depth)
    m.submodules.ref = ref = SyncFIFOBuffered(width=8, depth=depth)
    rng = np.random.default_rng(depth)
    queue = collections.deque()
    mismatches = []
    counts = {"written": 0, "read": 0, "full": 0}

    async def bench(ctx):
        for p_write, p_read in DENSITIES:
            for _ in range(300):
                w_en, r_en = rng.random() < p_write, rng.random() < p_read
                w_data = int(rng.integers(0, 256))
                for f in (new, ref):
                    ctx.set(f.w_en, w_en)
                    ctx.set(f.r_en, r_en)
                    ctx.set(f.w_data, w_data)
                state = [(ctx.get(f.w_rdy), ctx.get(f.r_rdy), ctx.get(f.level),
                          ctx.get(f.w_level), ctx.get(f.r_level)) for f in (new, ref)]
                if state[0] != state[1]:
                    mismatches.append(state)
                w_rdy, r_rdy = state[0][0], state[0][1]
                if r_rdy:
                    if ctx.get(new.r_data) != ctx.get(ref.r_data):
                        mismatches.append(("r_data", ctx.get(new.r_data), ctx.get(ref.r_data)))
                    if r_en:
                        assert ctx.get(new.r_data) == queue.popleft()
                        counts["read"] += 1
                if w_en and w_rdy:
                    queue.append(w_data)
                    counts["written"] += 1
                counts["full"] += not w_rdy
                await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, mismatches[:5]
    assert counts["read"] > 100 and counts["full"] > 10, counts  # the test reached both ends
