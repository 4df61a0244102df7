"""The one generic cocotb testbench: drives stimulus from a JSON file, records the response.

Run by :func:`lowbit.sim.runner.run_testbench`, never imported by pytest itself. Four modes:

``stream``
    Beats (packed payload integers) go into stream ``in`` (``<in>__valid/ready/payload``),
    with seeded idle cycles; stream ``out`` gets seeded back-pressure on ``<out>__ready``.
    Records each output payload, the cycle it was taken, the cycle each input beat was
    accepted, and the first cycle with back-pressure (latency is exact before it).
    An optional ``preload`` (per-cycle values for load ports) runs first.
``cycles``
    Per-cycle values for input ports; every named output port is sampled every cycle.
``uart``
    Through a unit's serial pins (``rx``, ``tx``, 8N1, idle high): bit-bangs ``bytes`` into
    ``rx`` with ``divisor`` clock cycles per bit (a float: the host's own baud rate), after
    ``gaps[i]`` idle bit times before byte ``i``; bytes listed in ``bad_stop`` get a low stop
    bit followed by one extra idle bit. A monitor decodes ``tx`` at the same bit time
    (sampling mid-bit from each falling edge) until ``expect`` bytes have arrived and the
    host has sent everything, then listens ``settle_bits`` more bit times for extra bytes.
    Records the bytes, the indices of those with a low stop bit, the cycle each host and
    each response start bit began, and the cycles run. Time is measured from the end of
    reset in clock cycles (floats: the host's edges need not fall on the clock).

``host``
    A host program against a unit behind the link (:mod:`lowbit.sim.host`): a
    :class:`~lowbit.sim.host.CocotbTransport` on ``rx``/``tx`` at ``divisor`` cycles a bit,
    and ``script`` (``"module:function"``) called as ``function(transport, args)`` in a
    bridge thread. Records its JSON result (or the exception as ``error``), the bytes each
    way and the cycles run.

In every mode an optional ``hold`` (``{port: value}``) drives constant inputs, such as a
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
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, FallingEdge, First, RisingEdge, Timer
from lowbit.sim.host import PERIOD_PS, CocotbTransport, uart_levels, uart_monitor, until

_PERIOD_PS = PERIOD_PS  # the clock period of _Clock, 10 ns


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


async def _uart(dut, spec, clock):
    rx, tx = getattr(dut, spec.get("rx", "rx")), getattr(dut, spec.get("tx", "tx"))
    bit_ps = spec["divisor"] * _PERIOD_PS
    data = spec["bytes"]
    gaps = spec.get("gaps") or [0] * len(data)
    bad_stop = set(spec.get("bad_stop", []))
    expect = spec["expect"]
    rx.value = 1
    await _reset(dut, clock)
    t0 = get_sim_time("ps")

    def cycle(t_ps):
        return round((t_ps - t0) / _PERIOD_PS, 3)

    in_cycles, out, out_cycles, out_errors = [], [], [], []
    got_byte, sent = Event(), Event()
    receiving = [False]

    async def send():
        t = t0 + 2000  # host edges 2 ns after a clock edge when the divisor is whole
        for i, byte in enumerate(data):
            t += gaps[i] * bit_ps
            levels = uart_levels(byte, stop=int(i not in bad_stop))
            in_cycles.append(cycle(t))
            for k, level in enumerate(levels):
                await until(t + k * bit_ps)
                rx.value = level
            t += 10 * bit_ps
            if i in bad_stop:  # the line returns high for at least a bit
                await until(t)
                rx.value = 1
                t += bit_ps
        await until(t)
        sent.set()

    def started():
        receiving[0] = True

    def got(value, start, stop_ok):
        out.append(value)
        out_cycles.append(cycle(start))
        if not stop_ok:
            out_errors.append(len(out) - 1)
        receiving[0] = False
        got_byte.set()

    tasks = [cocotb.start_soon(send()),
             cocotb.start_soon(uart_monitor(tx, bit_ps, got, started))]
    deadline = t0 + spec.get("max_cycles", 100_000) * _PERIOD_PS
    timed_out = False
    while not (sent.is_set() and len(out) >= expect):
        remaining = round(deadline - get_sim_time("ps"))
        if remaining <= 0:
            timed_out = True
            break
        got_byte.clear()
        waits = [got_byte.wait(), Timer(remaining, unit="ps")]
        if not sent.is_set():
            waits.append(sent.wait())
        await First(*waits)
    if not timed_out:
        await until(get_sim_time("ps") + spec.get("settle_bits", 0) * bit_ps)
        if receiving[0]:  # let a byte that has begun finish
            await until(get_sim_time("ps") + 11 * bit_ps)
    for task in tasks:
        task.cancel()
    return {"out": out, "out_errors": out_errors, "out_cycles": out_cycles,
            "in_cycles": in_cycles, "cycles": cycle(get_sim_time("ps")),
            "timed_out": timed_out}


async def _host(dut, spec, clock):
    import importlib
    import traceback

    from cocotb.task import bridge

    dut.rx.value = 1
    await _reset(dut, clock)
    t0 = get_sim_time("ps")
    transport = CocotbTransport(dut, spec["divisor"], spec["clk_hz"], baud=spec.get("baud"),
                                jitter=spec.get("jitter", 0), seed=spec.get("seed", 1))
    module, _, name = spec["script"].partition(":")
    func = getattr(importlib.import_module(module), name)

    def call():
        try:
            return {"result": func(transport, spec["args"])}
        except Exception as exc:  # reported to pytest, which decides
            return {"result": None, "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc()}

    out = await bridge(call)()
    out.update({"host_bytes": transport.sent_bytes, "bad_stop_bits": transport.bad_stop_bits,
                "cycles": round((get_sim_time("ps") - t0) / _PERIOD_PS, 3)})
    return out


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
    elif spec["mode"] == "uart":
        resp = await _uart(dut, spec, clock)
    elif spec["mode"] == "host":
        resp = await _host(dut, spec, clock)
    else:
        raise ValueError(f"unknown testbench mode {spec['mode']!r}")
    tmp = os.environ["LOWBIT_TB_OUT"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(resp, f)
    os.replace(tmp, os.environ["LOWBIT_TB_OUT"])
