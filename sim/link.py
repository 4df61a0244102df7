"""The host link under cocotb through its serial pins, scored byte for byte against golden.

:func:`run_link` sends host bytes into the generated ``HostLink``'s ``rx`` pin with the generic
testbench's ``uart`` mode, decodes its ``tx`` pin, and returns what came back next to what
:class:`lowbit.golden.linkmodel.LinkModel` says the device sends.
"""

from dataclasses import dataclass, field

from ..golden.link import Command, decode_frames, encode_frame
from ..golden.linkmodel import LinkModel
from .runner import run_testbench

__all__ = ["LinkRun", "run_link", "host_divisor", "ping_throughput"]


@dataclass
class LinkRun:
    """One simulation: bytes sent and received, golden's answer, and the timing in cycles."""

    sent: bytes
    received: bytes
    expected: bytes
    in_cycles: list = field(default_factory=list)  # start of each host byte
    out_cycles: list = field(default_factory=list)  # start of each response byte
    out_errors: list = field(default_factory=list)  # response bytes with a low stop bit
    cycles: float = 0.0
    timed_out: bool = False
    divisor: float = 0.0  # host bit time in clock cycles

    @property
    def ok(self):
        return self.received == self.expected and not self.out_errors and not self.timed_out

    def describe(self):
        """What differs, frame by frame, for an assertion message."""
        got = decode_frames(self.received)
        want = decode_frames(self.expected)
        lines = [f"received {len(self.received)} bytes, golden {len(self.expected)}"
                 f"{' (timed out)' if self.timed_out else ''}"]
        if self.out_errors:
            lines.append(f"response bytes with a low stop bit: {self.out_errors}")
        for k in range(max(len(got), len(want))):
            g = got[k] if k < len(got) else None
            w = want[k] if k < len(want) else None
            lines.append(f"  {'ok ' if g == w else 'BAD'} frame {k}: got {g}, want {w}")
        lines.append(f"  received {self.received.hex()}")
        lines.append(f"  expected {self.expected.hex()}")
        return "\n".join(lines)

    def end_cycle(self):
        """Cycle at which the last response byte's stop bit ends."""
        return self.out_cycles[-1] + 10 * self.divisor


def host_divisor(params, host_error=0.0):
    """The host's bit time in device clock cycles: the nominal baud (not the divided one),
    ``host_error`` faster (+) or slower (-)."""
    return params.clk_hz / (params.baud * (1.0 + host_error))


def run_link(gen_dir, manifest, params, host_bytes, *, gaps=None, bad_stop=(), expect=None,
             host_error=0.0, settle_bits=40, max_cycles=None, sim="verilator", seed=1):
    """Send ``host_bytes`` through the generated link's pins; return a :class:`LinkRun`.

    ``gaps`` (idle bit times before each byte, a list or ``{index: bits}``) and ``bad_stop``
    (bytes sent with a low stop bit) go to both the testbench and golden. The run ends when
    ``expect`` response bytes (default: as many as golden sends) have arrived and
    ``settle_bits`` more bit times passed without a new byte starting.
    """
    host_bytes = bytes(host_bytes)
    n = len(host_bytes)
    expected = LinkModel(params).respond(host_bytes, gaps=gaps, bad_stop=bad_stop)
    if gaps is None:
        gap_list = [0] * n
    elif isinstance(gaps, dict):
        gap_list = [int(gaps.get(i, 0)) for i in range(n)]
    else:
        gap_list = [int(g) for g in gaps]
    div = host_divisor(params, host_error)
    if expect is None:
        expect = len(expected)
    if max_cycles is None:
        bits = 10 * (n + expect) + sum(gap_list) + 2 * params.timeout_bits + settle_bits + 200
        max_cycles = int(bits * div * 1.5) + 10_000
    spec = {"mode": "uart", "rx": "rx", "tx": "tx", "divisor": div,
            "bytes": list(host_bytes), "gaps": gap_list, "bad_stop": sorted(bad_stop),
            "expect": expect, "settle_bits": settle_bits, "max_cycles": max_cycles}
    resp = run_testbench(gen_dir, manifest, spec, sim=sim, seed=seed)
    return LinkRun(sent=host_bytes, received=bytes(resp["out"]), expected=expected,
                   in_cycles=resp["in_cycles"], out_cycles=resp["out_cycles"],
                   out_errors=resp["out_errors"], cycles=resp["cycles"],
                   timed_out=resp["timed_out"], divisor=div)


def ping_throughput(gen_dir, manifest, params, *, frames=4, payload=None, sim="verilator"):
    """Payload throughput of PINGs with ``payload`` bytes (default ``max_payload``), in bytes
    per second of simulated time at ``params.clk_hz``.

    Two runs: one frame stop-and-wait (from the request's first start bit to the end of the
    response), and ``frames`` frames back to back. Returns ``(runs, figures)`` with
    ``stop_and_wait_Bps``, ``back_to_back_Bps`` (the whole burst, first request to last
    response), ``steady_Bps`` (one response frame every so many cycles once the burst runs),
    ``line_Bps`` (baud / 10) and ``turnaround_cycles`` (end of the request's last stop bit to
    the response's first start bit).
    """
    n = params.max_payload if payload is None else payload
    frame = encode_frame(Command.PING, bytes((7 * k + 3) & 0xFF for k in range(n)))
    single = run_link(gen_dir, manifest, params, frame, settle_bits=0, sim=sim)
    burst = run_link(gen_dir, manifest, params, frame * frames, settle_bits=0, sim=sim)
    clk = params.clk_hz

    def rate(run, nbytes):
        return nbytes * clk / (run.end_cycle() - run.in_cycles[0])

    size = len(frame)
    starts = burst.out_cycles[::size]
    period = (starts[-1] - starts[0]) / (len(starts) - 1)
    figures = {
        "baud": params.baud, "clk_hz": clk, "payload": n, "frames": frames,
        "stop_and_wait_Bps": rate(single, n),
        "back_to_back_Bps": rate(burst, n * frames),
        "steady_Bps": n * clk / period,
        "line_Bps": params.uart.actual_baud / 10,
        "turnaround_cycles": single.out_cycles[0] - (single.in_cycles[-1] + 10 * single.divisor),
    }
    return (single, burst), figures
