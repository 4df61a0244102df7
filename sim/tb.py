"""The one generic cocotb testbench: drives stimulus from a JSON file, records the response.

Run by :func:`lowbit.sim.runner.run_testbench`, never imported by pytest itself. Two modes:

``stream``
    Beats (packed payload integers) go into stream ``in`` (``<in>__valid/ready/payload``),
    with seeded idle cycles; stream ``out`` gets seeded back-pressure on ``<out>__ready``.
    Records each output payload, the cycle it was taken, the cycle each input beat was
    accepted, and the first cycle with back-pressure (latency is exact before it).
    An optional ``preload`` (per-cycle values for load ports) runs first.
``cycles``
    Per-cycle values for input ports; every named output port is sampled every cycle.

In both modes an optional ``hold`` (``{port: value}``) drives constant inputs, such as a
run-time configuration port, from before reset to the end of the run. In stream mode,
``beat_ports`` (``{port: [value per beat]}``) drives side inputs together with each input beat
(and keeps the last beat's values after it), for units that sample a configuration with a
run's first beat.

Inputs change just after a rising edge; outputs and handshakes are sampled at the falling
edge, when all combinational logic has settled, so a handshake seen there fires at the next
rising edge.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer


class _Clock:
    """The DUT's clock edges; a purely combinational DUT (no ``clk`` port) gets the same
    cadence from timers, so every unit runs through the same loop."""

    def __init__(self, dut):
        self.dut = dut
        self.real = hasattr(dut, "clk")
        if self.real:
            cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def rise(self):
        await (RisingEdge(self.dut.clk) if self.real else Timer(5, unit="ns"))

    async def fall(self):
        await (FallingEdge(self.dut.clk) if self.real else Timer(5, unit="ns"))


async def _reset(dut, clock):
    if not hasattr(dut, "rst"):
        return
    dut.rst.value = 1
    for _ in range(2):
        await clock.rise()
    dut.rst.value = 0


async def _preload(dut, preload, clock):
    """Drive per-cycle values (memory load ports) before the stream starts, then zero them."""
    if not preload:
        return
    for c in range(preload["n"]):
        for name, values in preload["drive"].items():
            getattr(dut, name).value = values[c]
        await clock.rise()
    for name in preload["drive"]:
        getattr(dut, name).value = 0


async def _stream(dut, spec, clock):
    rng = random.Random(spec.get("seed", 1))
    beats = spec["beats"]
    expect = spec["expect"]
    p_idle, p_bp = spec.get("idle", 0.0), spec.get("backpressure", 0.0)
    calm = spec.get("calm_beats", 0)
    side = spec.get("beat_ports", {})
    src, snk = spec["in"], spec["out"]
    i_valid, i_ready, i_payload = (getattr(dut, f"{src}__{n}") for n in ("valid", "ready",
                                                                           "payload"))
    o_valid, o_ready, o_payload = (getattr(dut, f"{snk}__{n}") for n in ("valid", "ready",
                                                                           "payload"))
    i_valid.value = 0
    i_payload.value = 0
    o_ready.value = 1
    await _reset(dut, clock)
    await _preload(dut, spec.get("preload"), clock)

    outs, out_cycles, in_cycles = [], [], []
    first_stall = None
    idx, cycle = 0, 0
    limit = spec.get("max_cycles", 50 * (len(beats) + expect) + 1000)
    cur_valid, cur_ready = 0, 1
    while (idx < len(beats) or len(outs) < expect) and cycle < limit:
        # Choose this cycle's drive (just after the rising edge).
        calm_now = idx < calm
        cur_valid = int(idx < len(beats) and (calm_now or rng.random() >= p_idle))
        cur_ready = int(calm_now or rng.random() >= p_bp)
        if not cur_ready and first_stall is None:
            first_stall = cycle
        i_valid.value = cur_valid
        if idx < len(beats):
            i_payload.value = beats[idx]
            for name, values in side.items():
                getattr(dut, name).value = values[idx]
        o_ready.value = cur_ready
        await clock.fall()
        if cur_valid and int(i_ready.value):
            in_cycles.append(cycle)
            idx += 1
        if cur_ready and int(o_valid.value):
            outs.append(int(o_payload.value))
            out_cycles.append(cycle)
        await clock.rise()
        cycle += 1
    return {"out": outs, "out_cycles": out_cycles, "in_cycles": in_cycles,
            "first_stall": first_stall, "cycles": cycle, "timed_out": cycle >= limit}


async def _cycles(dut, spec, clock):
    drive = spec["drive"]
    sample = spec["sample"]
    n = spec["n"]
    for name in drive:
        getattr(dut, name).value = 0
    await _reset(dut, clock)
    got = {name: [] for name in sample}
    for c in range(n):
        for name, values in drive.items():
            getattr(dut, name).value = values[c]
        await clock.fall()
        for name in sample:
            got[name].append(int(getattr(dut, name).value))
        await clock.rise()
    return {"samples": got, "cycles": n}


@cocotb.test()
async def run(dut):
    with open(os.environ["LOWBIT_TB_IN"]) as f:
        spec = json.load(f)
    clock = _Clock(dut)
    for name, value in spec.get("hold", {}).items():  # set before reset, never changed
        getattr(dut, name).value = value
    if spec["mode"] == "stream":
        resp = await _stream(dut, spec, clock)
    elif spec["mode"] == "cycles":
        resp = await _cycles(dut, spec, clock)
    else:
        raise ValueError(f"unknown testbench mode {spec['mode']!r}")
    tmp = os.environ["LOWBIT_TB_OUT"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(resp, f)
    os.replace(tmp, os.environ["LOWBIT_TB_OUT"])
