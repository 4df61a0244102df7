"""The host link through its real serial pins under cocotb, byte for byte against LinkModel.

Two builds: the iCEBreaker default (12 MHz, 3 Mbaud: divisor 4, the smallest allowed;
256-byte payloads; 30,000-bit timeout) and a small one (10 MHz, 2 Mbaud: an odd divisor, 5;
8-byte payloads, a 40-bit timeout, 5 registers) for the limits. The host bit-bangs ``rx`` at
its own (nominal) baud rate and decodes ``tx``; every test ends with a good frame answered,
so the link never hangs. The UART's corner cases (glitches, breaks, overrun flag, exact
timing) run in Amaranth's simulator.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator
from lowbit.golden.link import (
    ERROR,
    SYNC,
    Command,
    ErrorCode,
    Frame,
    FrameError,
    LinkParams,
    UARTParams,
    decode_frames,
    encode_frame,
    error_frame,
    ok_frame,
)
from lowbit.hw.uart import UARTRx, UARTTx
from lowbit.sim.link import ping_throughput, run_link
from lowbit.sim.runner import design

from .sweeps import LINK_SMALL

pytestmark = [pytest.mark.sim, pytest.mark.link]

DEFAULT = LinkParams()
BUILDS = {"default": DEFAULT, "small": LINK_SMALL}
BOTH = pytest.mark.parametrize("build", list(BUILDS))


def _run(build, host, sim, **kw):
    params = BUILDS[build]
    gen_dir, man = design("link", params)
    run = run_link(gen_dir, man, params, host, sim=sim, **kw)
    assert run.ok, run.describe()
    return params, run


def _payload(rng, n):
    return bytes(rng.integers(0, 256, size=n).tolist())


def _ping(payload):
    return encode_frame(Command.PING, payload)


def _write(addr, value):
    return encode_frame(Command.WRITE_REG, bytes([addr]) + int(value).to_bytes(4, "little"))


def _read(addr):
    return encode_frame(Command.READ_REG, [addr])


def _stop_and_wait(p, frames):
    """``(host, gaps)``: the frames with room for each answer before the next (a host that
    waits for every response; back to back, answers longer than their requests would fill
    the small build's 16-byte transmit queue)."""
    host, gaps = b"", {}
    for frame in frames:
        if host:
            gaps[len(host)] = 10 * (p.max_frame + 4)
        host += frame
    return host, gaps


def _flip(frame, index, bit):
    bad = bytearray(frame)
    bad[index] ^= 1 << bit
    return bytes(bad)


# --- through the pins -----------------------------------------------------------------------

@BOTH
def test_ping_round_trip(build, sim, seed):
    """One PING of the largest payload, stop-and-wait; the response starts within a few
    cycles of the request's last stop bit."""
    p = BUILDS[build]
    payload = _payload(np.random.default_rng(seed), p.max_payload)
    _, run = _run(build, _ping(payload), sim)
    assert run.received == ok_frame(Command.PING, payload)
    turnaround = run.out_cycles[0] - (run.in_cycles[-1] + 10 * run.divisor)
    assert 0 < turnaround < 3 * p.divisor, turnaround


@BOTH
def test_pings_of_every_length(build, sim, seed):
    p = BUILDS[build]
    rng = np.random.default_rng(seed)
    lengths = sorted({0, 1, 2, 5, p.max_payload - 1, p.max_payload})
    host = b"".join(_ping(_payload(rng, n)) for n in lengths)
    _run(build, host, sim)


@BOTH
def test_register_write_then_read(build, sim, seed):
    """Every register written with a seeded random value (and the extremes), read back;
    an address past the file and wrong lengths get error frames."""
    p = BUILDS[build]
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 1 << 32, size=p.registers, dtype=np.int64).tolist()
    values[0], values[-1] = 0xFFFF_FFFF, 0x8000_0001
    frames = [_read(1)]  # unwritten: zero
    frames += [_write(a, v) for a, v in enumerate(values)]
    frames += [_read(a) for a in reversed(range(p.registers))]
    frames += [_write(p.registers, 1), _read(p.registers), _read(255)]
    frames += [encode_frame(Command.READ_REG, b""), encode_frame(Command.WRITE_REG, bytes(4))]
    frames += [_read(p.registers - 1)]
    host, gaps = _stop_and_wait(p, frames)
    _, run = _run(build, host, sim, gaps=gaps)
    reads = [f for f in decode_frames(run.received) if f.cmd == 0x83]
    got = [int.from_bytes(f.payload, "little") for f in reads]
    assert got == [0, *reversed(values), values[-1]], f"seed {seed}"


@BOTH
def test_bad_crc_then_good_frame(build, sim):
    frame = _ping(b"\x11\x22\x33")
    host = _flip(frame, len(frame) - 1, 0)  # CRC low bit
    host += _flip(frame, len(frame) - 2, 7)  # CRC high bit
    host += _flip(frame, 4, 3)  # a payload bit
    host += _flip(frame, 1, 1)  # the command
    host += _ping(b"ok")
    _, run = _run(build, host, sim)
    assert decode_frames(run.received)[:4] == [
        Frame(ERROR, bytes([ErrorCode.BAD_CRC, c])) for c in (1, 1, 1, 3)]
    assert run.received.endswith(ok_frame(Command.PING, b"ok"))


@BOTH
def test_unknown_commands_then_good_frame(build, sim):
    cmds = [0x00, 0x04, 0x0F, 0x10, 0x7E, 0x7F, 0x80, 0x81, 0xFF]
    host = b"".join(encode_frame(c, b"\x01\x02") for c in cmds) + _ping(b"ok")
    _, run = _run(build, host, sim)
    assert run.received.startswith(b"".join(
        error_frame(ErrorCode.UNKNOWN_COMMAND, c) for c in cmds))


@BOTH
def test_truncated_frames_time_out_then_recover(build, sim):
    """Frames cut after SYNC, after CMD, inside the payload and before the last CRC byte,
    each followed by a gap of timeout_bits: a TIMEOUT frame each, then a good frame."""
    p = BUILDS[build]
    frame = _ping(b"abcd")
    cuts = [1, 2, 6, len(frame) - 1] if build == "small" else [2, len(frame) - 1]
    host, gaps = b"", {}
    for cut in cuts:
        host += frame[:cut]
        gaps[len(host)] = p.timeout_bits
    host += _ping(b"ok")
    _, run = _run(build, host, sim, gaps=gaps)
    want = [FrameError(ErrorCode.TIMEOUT, 0 if cut == 1 else 1) for cut in cuts]
    assert decode_frames(run.received) == [
        Frame(ERROR, bytes([e.code, e.cmd])) for e in want] + [Frame(0x81, b"ok")]


@BOTH
def test_timeout_boundary(build, sim):
    """Inside a frame, a gap of timeout_bits - 1 bit times is harmless; timeout_bits ends the
    frame. Between frames any gap is fine."""
    p = BUILDS[build]
    a, b, c = _ping(b"A"), _ping(b"B"), _ping(b"C")
    host = a + b + c
    gaps = {3: p.timeout_bits - 1, len(a) + 3: p.timeout_bits, len(a + b): 3 * p.timeout_bits}
    _, run = _run(build, host, sim, gaps=gaps)
    assert decode_frames(run.received) == [
        Frame(0x81, b"A"), Frame(ERROR, bytes([ErrorCode.TIMEOUT, 1])), Frame(0x81, b"C")]


def test_too_long(sim):
    """LEN > max_payload: the frame is read to its end (SYNC bytes inside do not start
    frames) and answered TOO_LONG, or BAD_CRC if its CRC is wrong; a LEN corrupted to 65535
    ends in TIMEOUT when the host stops sending."""
    long = encode_frame(Command.PING, bytes([SYNC]) * 9)
    host = long + _flip(long, len(long) - 1, 2) + encode_frame(0x42, bytes(200))
    corrupt = bytes([SYNC, Command.PING, 0xFF, 0xFF, 1, 2, 3])
    host += corrupt
    gaps = {len(host): LINK_SMALL.timeout_bits + 5}
    host += _ping(b"ok")
    _, run = _run("small", host, sim, gaps=gaps)
    assert decode_frames(run.received) == [
        Frame(ERROR, bytes([code, cmd])) for code, cmd in (
            (ErrorCode.TOO_LONG, 1), (ErrorCode.BAD_CRC, 1), (ErrorCode.TOO_LONG, 0x42),
            (ErrorCode.TIMEOUT, 1))] + [Frame(0x81, b"ok")]


@BOTH
def test_framing_errors(build, sim):
    """A low stop bit inside a frame aborts it (FRAMING); on a byte between frames, or on a
    SYNC, it is ignored."""
    frame = _ping(b"abc")
    host = frame + b"\x00" + frame + _ping(b"ok")
    bad = {4, len(frame), len(frame) + 1}  # a payload byte; junk; the second frame's SYNC
    _, run = _run(build, host, sim, bad_stop=bad)
    assert decode_frames(run.received) == [
        Frame(ERROR, bytes([ErrorCode.FRAMING, 1])), Frame(0x81, b"ok")]


@BOTH
def test_back_to_back_frames(build, sim, seed):
    """Frames of every kind with no gap, junk between some; responses in order."""
    p = BUILDS[build]
    rng = np.random.default_rng(seed)
    host = (_ping(_payload(rng, p.max_payload)) + _write(2, 0xCAFEF00D) + _read(2)
            + b"\x00\x13" + _ping(b"") + encode_frame(0x20) + _flip(_ping(b"xy"), 5, 0)
            + _ping(_payload(rng, p.max_payload)) + _write(p.registers, 0) + _read(2)
            + _ping(_payload(rng, 3)) + _ping(_payload(rng, p.max_payload)))
    _run(build, host, sim)


@pytest.mark.parametrize("build,error", [("default", 0.02), ("default", -0.02),
                                         ("small", 0.03), ("small", -0.03)])
def test_host_baud_error(build, error, sim, seed):
    """A host this much faster (+) or slower (-) than the device is still understood, both
    ways: the receiver samples within a quarter bit (divisor 4) or a tenth (divisor 5) of
    each bit's middle."""
    p = BUILDS[build]
    rng = np.random.default_rng(seed)
    host = _ping(_payload(rng, p.max_payload)) + _write(1, 0x5555AAAA) + _read(1)
    _run(build, host, sim, host_error=error)


def _random_piece(rng, p):
    """One random thing a host might send: a frame of any command, a corrupted or cut one,
    or junk."""
    kind = str(rng.choice(["ping", "write", "read", "unknown", "flip", "junk", "cut"]))
    addr = int(rng.integers(0, p.registers + 2))
    if kind == "write":
        return _write(addr, int(rng.integers(0, 1 << 32)))
    if kind == "read":
        return _read(addr)
    if kind == "unknown":
        return encode_frame(int(rng.integers(0x10, 0x100)), b"u")
    if kind == "junk":
        return bytes(b for b in _payload(rng, 3) if b != SYNC)
    frame = _ping(_payload(rng, int(rng.integers(0, p.max_payload + 1))))
    if kind == "flip":
        return _flip(frame, int(rng.integers(1, len(frame))), int(rng.integers(8)))
    if kind == "cut":
        return frame[:int(rng.integers(1, len(frame)))]
    return frame


def test_random_traffic(sim, seed):
    """Seeded random sessions on the small build: good frames of every command, corrupted
    bits anywhere (LEN too), junk, framing errors, truncations and short gaps; each piece
    followed by enough idle time for its answer (stop-and-wait), as golden assumes."""
    p = LINK_SMALL
    for k in range(3):
        rng = np.random.default_rng(seed + k)
        host, gaps, bad = b"", {}, set()
        for _ in range(25):
            piece = _random_piece(rng, p)
            start = len(host)
            host += piece
            if piece and rng.random() < 0.2:
                bad.add(start + int(rng.integers(0, len(piece))))
            if len(piece) > 1 and rng.random() < 0.3:  # a gap inside, under the timeout
                gaps[start + int(rng.integers(1, len(piece)))] = int(rng.integers(1, 30))
            gaps[len(host)] = 10 * (p.max_frame + 4)  # time to answer
        host += _ping(b"end")
        _, run = _run("small", host, sim, gaps=gaps, bad_stop=bad)
        assert run.received.endswith(ok_frame(Command.PING, b"end")), f"seed {seed + k}"


def test_overrun_flood_recovers(sim):
    """A host that floods faster than the answers can leave (READ_REG: 7 bytes in, 10 out;
    the small build queues 16 bytes to send) overruns the receiver. Every answer is still a
    well-formed frame, either the right one or OVERRUN, and after a pause the link works."""
    p = LINK_SMALL
    host = _write(1, 0x01020304) + _read(1) * 30
    gaps = {len(host): 10 * (p.tx_buffer + 20)}
    host += _ping(b"ok")
    gen_dir, man = design("link", p)
    run = run_link(gen_dir, man, p, host, gaps=gaps, expect=0, settle_bits=300, sim=sim)
    assert not run.out_errors and not run.timed_out
    frames = decode_frames(run.received)
    read = Frame(0x83, bytes([4, 3, 2, 1]))
    assert frames[0] == Frame(0x82, b"") and frames[-1] == Frame(0x81, b"ok"), frames
    middle = frames[1:-1]
    lost = [f for f in middle if f != read]
    # A frame broken by lost bytes is answered OVERRUN; one whose tail was lost times out.
    assert all(f.cmd == ERROR and f.payload[0] in (ErrorCode.OVERRUN, ErrorCode.TIMEOUT)
               and f.payload[1] in (0, Command.READ_REG) for f in lost), middle
    assert any(f.payload[0] == ErrorCode.OVERRUN for f in lost), middle
    assert middle.count(read) >= 5, middle


def test_throughput(sim, capsys):
    """Payload throughput at the default 3 Mbaud (12 MHz), in bytes per second of simulated
    time: back-to-back PINGs run at the line rate (n / (n + 6) of baud / 10 each way);
    stop-and-wait takes two frame times plus the turnaround."""
    p = DEFAULT
    gen_dir, man = design("link", p)
    runs, fig = ping_throughput(gen_dir, man, p, frames=4)
    assert all(r.ok for r in runs), [r.describe() for r in runs if not r.ok]
    n, frame_cycles = p.max_payload, 10 * p.divisor * p.max_frame
    assert fig["steady_Bps"] == pytest.approx(n * p.clk_hz / frame_cycles, rel=1e-3)
    want_saw = n * p.clk_hz / (2 * frame_cycles + fig["turnaround_cycles"])
    assert fig["stop_and_wait_Bps"] == pytest.approx(want_saw, rel=1e-3)
    with capsys.disabled():
        print(f"\nhost link at {p.baud} baud, {p.clk_hz / 1e6:g} MHz, {n}-byte PINGs: "
              f"line {fig['line_Bps']:.0f} B/s; payload back to back "
              f"{fig['steady_Bps']:.0f} B/s steady ({fig['back_to_back_Bps']:.0f} B/s over "
              f"{fig['frames']} frames), stop-and-wait {fig['stop_and_wait_Bps']:.0f} B/s; "
              f"turnaround {fig['turnaround_cycles']:.1f} cycles")


# --- the UART on its own (Amaranth's simulator) ---------------------------------------------

async def _send_bits(ctx, pin, bits, d):
    for bit in bits:
        ctx.set(pin, bit)
        await ctx.tick().repeat(d)


def _frame_bits(byte, stop=1):
    return [0, *((byte >> k) & 1 for k in range(8)), stop]


def test_uart_tx_exact_timing():
    """Back-to-back bytes: exactly 10 * divisor cycles each, LSB first, stop bit high."""
    u = UARTParams(12_000_000, 2_400_000)  # divisor 5
    d = u.divisor
    dut = UARTTx(u)
    data = [0x55, 0x00, 0xFF, 0xA5]
    line = []

    async def feed(ctx):
        for byte in data:
            ctx.set(dut.i.payload, byte)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        await ctx.tick().repeat(12 * d)

    async def watch(ctx):
        async for _, _, tx in ctx.tick().sample(dut.tx):
            line.append(tx)

    sim = Simulator(dut)
    sim.add_clock(1e-7)
    sim.add_testbench(feed)
    sim.add_testbench(watch, background=True)
    sim.run()
    first = line.index(0)
    n = 10 * d * len(data)
    want = [b for byte in data for b in _frame_bits(byte)]
    assert line[first:first + n] == [b for b in want for _ in range(d)]
    assert all(line[first + n:]) and len(line) > first + n + d  # idle high afterwards


def test_uart_rx_glitch_break_and_overrun():
    u = UARTParams(12_000_000, 3_000_000)  # divisor 4
    d = u.divisor
    dut = UARTRx(u)
    got = []

    async def bench(ctx):
        ctx.set(dut.rx, 1)
        ctx.set(dut.o.ready, 1)
        await ctx.tick().repeat(5)
        await _send_bits(ctx, dut.rx, [0], 1)  # a one-cycle glitch: no byte
        await _send_bits(ctx, dut.rx, [1], 4 * d)
        await _send_bits(ctx, dut.rx, _frame_bits(0x3C), d)
        await _send_bits(ctx, dut.rx, _frame_bits(0x00, stop=0) + [0] * 20, d)  # a break
        await _send_bits(ctx, dut.rx, [1], 2 * d)
        await _send_bits(ctx, dut.rx, _frame_bits(0x81) + [1], d)  # delivered mid stop bit
        ctx.set(dut.o.ready, 0)  # three bytes while nobody reads: the second is lost
        for byte in (0x11, 0x22, 0x33):
            await _send_bits(ctx, dut.rx, _frame_bits(byte), d)
        ctx.set(dut.o.ready, 1)
        await ctx.tick().repeat(3)
        await _send_bits(ctx, dut.rx, _frame_bits(0x44), d)
        await ctx.tick().repeat(2 * d)

    async def monitor(ctx):
        async for _, _, valid, ready, payload in ctx.tick().sample(
                dut.o.valid, dut.o.ready, dut.o.payload):
            if valid and ready:
                got.append((payload.data, payload.framing_error, payload.overrun))

    sim = Simulator(dut)
    sim.add_clock(1e-7)
    sim.add_testbench(bench)
    sim.add_testbench(monitor, background=True)
    sim.run()
    assert got == [(0x3C, 0, 0), (0x00, 1, 0), (0x81, 0, 0), (0x11, 0, 0), (0x44, 0, 1)], got
