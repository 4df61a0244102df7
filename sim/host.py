"""The host driver in simulation: a transport on a harness's UART pins under cocotb.

The testbench's ``host`` mode (:mod:`lowbit.sim.tb`) starts a :class:`CocotbTransport` on
the DUT's ``rx``/``tx`` pins and runs a script ``module:function(transport, args)`` in a
cocotb bridge thread, so the driver (:class:`lowbit.host.Device`), which blocks on its
transport, runs unchanged: each ``write``/``read`` resumes the simulator until the bytes are
on the line or have arrived. Time on the transport is simulated device time
(``cycles / clk_hz``), so timeouts mean what they mean on a board.

:func:`run_host` runs one script from pytest and returns what it returned.
"""

import random

import cocotb
from cocotb.queue import Queue
from cocotb.simtime import get_sim_time
from cocotb.task import resume
from cocotb.triggers import Event, FallingEdge, First, RisingEdge, Timer

from ..host.transport import Transport

__all__ = ["CocotbTransport", "uart_levels", "uart_monitor", "until", "run_host", "call",
           "PERIOD_PS"]

#: The testbench clock period (10 ns); device time is counted in cycles of it.
PERIOD_PS = 10_000


def uart_levels(byte, stop=1):
    """The ten line levels of one 8N1 character: start, data LSB first, stop."""
    return [0, *((byte >> k) & 1 for k in range(8)), stop]


async def until(t_ps):
    """Wait until the absolute simulation time ``t_ps`` (rounded to the 1 ps precision)."""
    delta = round(t_ps) - round(get_sim_time("ps"))
    if delta > 0:
        await Timer(delta, unit="ps")


async def uart_monitor(tx, bit_ps, on_byte, on_start=None):
    """Decode 8N1 characters on ``tx`` forever (mid-bit samples from each falling edge):
    ``on_start()`` at each start bit, ``on_byte(value, start_ps, stop_ok)`` after its stop
    bit."""
    while True:
        await FallingEdge(tx)
        start = get_sim_time("ps")
        if on_start is not None:
            on_start()
        levels = []
        for k in range(10):
            await until(start + (k + 0.5) * bit_ps)
            levels.append(int(tx.value))
        on_byte(sum(bit << k for k, bit in enumerate(levels[1:9])), start, bool(levels[9]))
        if not levels[9]:
            await RisingEdge(tx)


class CocotbTransport(Transport):
    """A :class:`~lowbit.host.Transport` on the ``rx``/``tx`` pins of a simulated harness.

    Create it inside the cocotb test (it starts the line driver and monitor), then use it
    from a bridge thread. ``divisor`` is the host's bit time in clock cycles (a float: the
    host's baud need not divide the clock), ``clk_hz`` the clock the design was built for.
    ``jitter`` adds up to that many idle bit times, seeded, before each byte the host sends
    (a USB-serial bridge's gaps).
    """

    def __init__(self, dut, divisor, clk_hz, *, baud=None, jitter=0, seed=1):
        self.rx, self.tx = dut.rx, dut.tx
        self.bit_ps = divisor * PERIOD_PS
        self.clk_hz = clk_hz
        self.baud = baud
        self.jitter = jitter
        self.rng = random.Random(seed)
        self.received = bytearray()
        self.sent_bytes = 0
        self.received_bytes = 0
        self.bad_stop_bits = 0
        self._queue = Queue()
        self._arrived = Event()
        self._idle = Event()
        self._idle.set()
        self.rx.value = 1
        self._tasks = [cocotb.start_soon(self._drive()),
                       cocotb.start_soon(uart_monitor(self.tx, self.bit_ps, self._on_byte))]

    def _on_byte(self, value, start, stop_ok):
        self.received.append(value)
        self.received_bytes += 1
        self.bad_stop_bits += not stop_ok
        self._arrived.set()

    async def _drive(self):
        t = get_sim_time("ps")
        while True:
            byte, stop = await self._queue.get()
            t = max(t, get_sim_time("ps"))
            if self.jitter:
                t += self.rng.randint(0, self.jitter) * self.bit_ps
            for k, level in enumerate(uart_levels(byte, stop)):
                await until(t + k * self.bit_ps)
                self.rx.value = level
            t += 10 * self.bit_ps
            if not stop:  # the line returns high for a bit after a broken stop bit
                await until(t)
                self.rx.value = 1
                t += self.bit_ps
            await until(t)
            self.sent_bytes += 1
            if self._queue.empty():
                self._idle.set()

    @resume
    async def write(self, data, *, bad_stop=()):
        """Queue ``data`` for the line; bytes at the indices ``bad_stop`` get a low stop bit."""
        bad = set(bad_stop)
        for k, byte in enumerate(bytes(data)):
            self._idle.clear()
            self._queue.put_nowait((byte, int(k not in bad)))

    @resume
    async def drain(self):
        """Wait until everything written has left the host."""
        await self._idle.wait()

    @resume
    async def idle(self, bits):
        """Let ``bits`` bit times pass (after what was written has left)."""
        await self._idle.wait()
        await Timer(round(bits * self.bit_ps), unit="ps")

    @resume
    async def read(self, n, timeout):
        deadline = get_sim_time("ps") + timeout * self.clk_hz * PERIOD_PS
        while len(self.received) < n:
            left = round(deadline - get_sim_time("ps"))
            if left <= 0:
                break
            self._arrived.clear()
            await First(self._arrived.wait(), Timer(left, unit="ps"))
        data = bytes(self.received[:n])
        del self.received[:n]
        return data

    def discard_input(self):
        self.received.clear()

    @resume
    async def _now_ps(self):
        return get_sim_time("ps")

    def now(self):
        return self._now_ps() / PERIOD_PS / self.clk_hz

    def cycles(self):
        """Clock cycles of simulated time so far."""
        return self._now_ps() / PERIOD_PS

    def close(self):
        pass


def run_host(gen_dir, manifest, link, script, args, *, divisor=None, jitter=0, sim="verilator",
             seed=1):
    """Run ``script`` (``"module:function"``, called as ``function(transport, args)`` in a
    bridge thread) against the generated harness; returns ``(its result, response)``.

    ``link`` is the harness's :class:`~lowbit.golden.link.LinkParams`; the host runs at its
    nominal baud (``divisor`` overrides the bit time in cycles). An exception in the script
    comes back as ``response["error"]`` (``"Type: message"``) with ``result`` None. The
    script bounds its own run: the driver's timeouts are in simulated device time.
    """
    spec = {"mode": "host", "script": script, "args": args,
            "divisor": divisor or link.clk_hz / link.baud, "clk_hz": link.clk_hz,
            "baud": link.baud, "jitter": jitter, "seed": seed}
    from .runner import run_testbench  # host side only: not in the simulation's imports

    resp = run_testbench(gen_dir, manifest, spec, sim=sim, seed=seed)
    return resp.get("result"), resp


def call(transport, args):
    """A host script: ``Device(transport, args["unit_map"]).<args["method"]>(*args["args"],
    **args["kwargs"])`` with list arguments as numpy arrays; returns the result as lists, and
    the device time."""
    import numpy as np

    from ..host import Device

    dev = Device(transport, args["unit_map"], timeout=args.get("timeout", 0.05))
    kwargs = {k: np.asarray(v) if isinstance(v, list) else v
              for k, v in args.get("kwargs", {}).items()}
    positional = [np.asarray(v) if isinstance(v, list) else v for v in args.get("args", [])]
    start = transport.now()
    result = getattr(dev, args["method"])(*positional, **kwargs)
    if isinstance(result, tuple):
        result = [np.asarray(r).tolist() for r in result]
    else:
        result = np.asarray(result).tolist()
    return {"result": result, "seconds": transport.now() - start,
            "host_bytes": transport.sent_bytes}
