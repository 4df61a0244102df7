"""The host-link protocol's golden model: CRC, frame codec, stream parser, device model, params."""

import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.lib import crc
from lowbit.golden.checks import UsageError, parse_params
from lowbit.golden.link import (
    CRC16_CHECK,
    CRC16_INIT,
    CRC16_POLY,
    ERROR,
    SYNC,
    UNIT_COMMANDS,
    UNIT_ONLY,
    Command,
    ErrorCode,
    Frame,
    FrameError,
    LinkParams,
    UARTParams,
    crc16,
    decode_frames,
    encode_frame,
    error_frame,
    ok_frame,
)
from lowbit.golden.linkmodel import LinkModel
from lowbit.golden.unitmap import UnitMap
from lowbit.hw.units import get_unit

CATALOG = crc.catalog.CRC16_IBM_3740
SMALL = LinkParams(max_payload=8, timeout_bits=40, registers=5)


# --- CRC ------------------------------------------------------------------------------------

def test_crc_is_the_catalog_entry():
    algo = CATALOG
    assert (algo.crc_width, algo.polynomial, algo.initial_crc) == (16, CRC16_POLY, CRC16_INIT)
    assert not algo.reflect_input and not algo.reflect_output and algo.xor_output == 0


def test_crc_check_value():
    assert crc16(b"123456789") == CRC16_CHECK == 0x29B1
    assert CATALOG(data_width=8).compute(b"123456789") == CRC16_CHECK


def test_crc_equals_amaranth_compute():
    seed = 6
    rng = np.random.default_rng(seed)
    params = CATALOG(data_width=8)
    lengths = [0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 255, 256, 1000]
    for n in lengths + rng.integers(0, 300, size=40).tolist():
        data = rng.integers(0, 256, size=n).tolist()
        assert crc16(data) == params.compute(data), f"seed {seed}, length {n}"


def test_crc_residue_of_a_frame_is_zero():
    # Sent high byte first, the CRC makes the running CRC over CMD .. CRC zero: the receiver's
    # check (and amaranth.lib.crc's match_detected residue).
    assert CATALOG(data_width=8).residue() == 0
    for payload in (b"", b"\x00", b"hello", bytes(range(256))):
        frame = encode_frame(Command.PING, payload)
        assert crc16(frame[1:]) == 0


def test_crc_continues_a_running_value():
    assert crc16(b"6789", crc16(b"12345")) == CRC16_CHECK


def test_crc_rejects_non_bytes():
    with pytest.raises(ValueError, match="data byte must be between 0 and 255, not 256"):
        crc16([1, 256])


# --- encoding -------------------------------------------------------------------------------

def test_frame_layout():
    frame = encode_frame(Command.PING, b"hi")
    c = crc16(bytes([0x01, 0x02, 0x00]) + b"hi")
    assert frame == bytes([SYNC, 0x01, 0x02, 0x00, 0x68, 0x69, c >> 8, c & 0xFF])


def test_length_is_little_endian():
    frame = encode_frame(Command.PING, bytes(300))
    assert frame[2:4] == bytes([0x2C, 0x01]) and len(frame) == 306


def test_empty_payload():
    frame = encode_frame(Command.PING)
    assert len(frame) == 6 and frame[2:4] == b"\x00\x00"


def test_response_and_error_frames():
    assert ok_frame(Command.READ_REG, b"\x01\x02\x03\x04")[1] == 0x83
    e = error_frame(ErrorCode.BAD_CRC, 0x42)
    c = crc16(bytes([ERROR, 2, 0, 1, 0x42]))
    assert e == bytes([SYNC, ERROR, 2, 0, 1, 0x42, c >> 8, c & 0xFF])


def test_encode_accepts_numpy_and_lists():
    a = np.array([1, 2, 3], dtype=np.uint8)
    assert encode_frame(1, a) == encode_frame(1, [1, 2, 3]) == encode_frame(1, b"\x01\x02\x03")


@pytest.mark.parametrize("args,exc,message", [
    ((256,), ValueError, "cmd must be between 0 and 255, not 256"),
    ((-1,), ValueError, "cmd must be between 0 and 255, not -1"),
    ((1.0,), TypeError, "cmd must be an integer, not 1.0"),
    ((1, [1, 300]), ValueError, "payload byte must be between 0 and 255, not 300"),
    ((1, [[1, 2]]), TypeError, "payload must be bytes or a 1-D sequence"),
    ((1, bytes(65536)), ValueError, "payload must be at most 65535 bytes, not 65536"),
])
def test_encode_rejects_bad_input(args, exc, message):
    with pytest.raises(exc, match=message):
        encode_frame(*args)


# --- parsing --------------------------------------------------------------------------------

def test_round_trip_with_garbage_between_frames():
    seed = 16
    rng = np.random.default_rng(seed)
    frames, stream = [], b""
    for _ in range(50):
        junk = bytes(b for b in rng.integers(0, 256, size=int(rng.integers(0, 5))).tolist()
                     if b != SYNC)
        cmd = int(rng.integers(0, 256))
        payload = bytes(rng.integers(0, 256, size=int(rng.integers(0, 40))).tolist())
        frames.append(Frame(cmd, payload))
        stream += junk + encode_frame(cmd, payload)
    assert decode_frames(stream) == frames, f"seed {seed}"


def test_every_single_bit_error_is_caught():
    frame = encode_frame(Command.WRITE_REG, bytes([3, 0xDE, 0xAD, 0xBE, 0xEF]))
    for i in range(1, len(frame)):
        for bit in range(8):
            bad = bytearray(frame)
            bad[i] ^= 1 << bit
            events = decode_frames(bytes(bad), max_payload=16, timeout_bits=20)
            assert events, (i, bit)
            assert not any(isinstance(e, Frame) for e in events), (i, bit, events)
            if i == 1 or i >= 4:  # CMD, payload or CRC: the frame keeps its length
                assert events == [FrameError(ErrorCode.BAD_CRC, bad[1])], (i, bit)
            else:  # LEN: shorter frames fail the CRC, longer ones wait for bytes and time out
                assert events[0].code in (ErrorCode.BAD_CRC, ErrorCode.TIMEOUT), (i, bit)


def test_corrupt_sync_is_not_a_frame():
    frame = bytearray(encode_frame(Command.PING, b"abc"))
    frame[0] ^= 0x01
    assert decode_frames(bytes(frame), timeout_bits=20) == []


@pytest.mark.parametrize("cut", range(1, 9))
def test_truncated_frame_times_out(cut):
    frame = encode_frame(Command.PING, b"xyz")  # 9 bytes
    cmd = 0x01 if cut >= 2 else 0  # the CMD byte came, or not
    events = decode_frames(frame[:cut], timeout_bits=20)
    assert events == [FrameError(ErrorCode.TIMEOUT, cmd)]
    # Without a timeout, or while the line is still busy, there is nothing yet.
    assert decode_frames(frame[:cut]) == []
    assert decode_frames(frame[:cut], timeout_bits=20, final_idle=False) == []


def test_gap_timeout_boundary_then_recovery():
    frame = encode_frame(Command.PING, b"abc")
    good = encode_frame(Command.PING, b"ok")
    host = frame[:5] + good
    # A gap of timeout_bits - 1 inside a frame is fine: the good frame's first bytes become
    # the cut frame's payload and CRC (which then fails).
    events = decode_frames(host, timeout_bits=40, gaps={5: 39}, final_idle=False)
    assert events[0] == FrameError(ErrorCode.BAD_CRC, 1)
    # A gap of timeout_bits drops it, and the next frame is accepted.
    events = decode_frames(host, timeout_bits=40, gaps={5: 40})
    assert events == [FrameError(ErrorCode.TIMEOUT, 1), Frame(1, b"ok")]
    # Gaps between frames never time out.
    assert decode_frames(good + good, timeout_bits=40, gaps={len(good): 10**6}) == [
        Frame(1, b"ok")] * 2


def test_gap_within_a_frame_below_timeout_is_harmless():
    frame = encode_frame(Command.PING, b"abcdef")
    gaps = [0] + [39] * (len(frame) - 1)
    assert decode_frames(frame, timeout_bits=40, gaps=gaps) == [Frame(1, b"abcdef")]


def test_gaps_are_checked():
    with pytest.raises(ValueError, match="gaps must give one gap per byte"):
        decode_frames(b"\x01\x02", gaps=[0])
    with pytest.raises(ValueError, match="gap index 5 is outside the 2 bytes"):
        decode_frames(b"\x01\x02", gaps={5: 1})


def test_too_long_is_consumed_to_its_end():
    long = encode_frame(Command.PING, bytes([SYNC]) * 9)  # SYNC bytes must not start frames
    good = encode_frame(Command.PING, b"ok")
    assert decode_frames(long + good, max_payload=8) == [
        FrameError(ErrorCode.TOO_LONG, 1), Frame(1, b"ok")]
    bad = bytearray(long)
    bad[-1] ^= 1
    assert decode_frames(bytes(bad) + good, max_payload=8) == [
        FrameError(ErrorCode.BAD_CRC, 1), Frame(1, b"ok")]


def test_framing_errors():
    frame = encode_frame(Command.PING, b"abc")
    good = encode_frame(Command.PING, b"ok")
    # Inside a frame: FRAMING, then the next frame.
    assert decode_frames(frame + good, bad_stop={4}) == [
        FrameError(ErrorCode.FRAMING, 1), Frame(1, b"ok")]
    # Between frames and on a SYNC: ignored.
    assert decode_frames(b"\x00" + good, bad_stop={0}) == [Frame(1, b"ok")]
    assert decode_frames(frame + good, bad_stop={0}) == [Frame(1, b"ok")]


# --- the device model -----------------------------------------------------------------------

def test_ping_echoes():
    m = LinkModel(SMALL)
    for payload in (b"", b"\x00", bytes(range(8))):
        assert m.respond(encode_frame(Command.PING, payload)) == ok_frame(Command.PING, payload)


def test_registers_write_then_read():
    m = LinkModel(SMALL)
    host = (encode_frame(Command.WRITE_REG, bytes([4, 0x78, 0x56, 0x34, 0x12]))
            + encode_frame(Command.READ_REG, [4]) + encode_frame(Command.READ_REG, [0]))
    assert m.respond(host) == (ok_frame(Command.WRITE_REG)
                               + ok_frame(Command.READ_REG, b"\x78\x56\x34\x12")
                               + ok_frame(Command.READ_REG, bytes(4)))
    assert m.registers[4] == 0x12345678 and m.registers.dtype == np.int64
    # State persists across calls.
    m.respond(encode_frame(Command.WRITE_REG, bytes([0, 0xFF, 0xFF, 0xFF, 0xFF])))
    assert m.respond(encode_frame(Command.READ_REG, [0])) == ok_frame(Command.READ_REG,
                                                                     b"\xff" * 4)


@pytest.mark.parametrize("cmd,payload,code", [
    (Command.WRITE_REG, bytes([5, 1, 2, 3, 4]), ErrorCode.BAD_ADDRESS),
    (Command.WRITE_REG, bytes([255, 1, 2, 3, 4]), ErrorCode.BAD_ADDRESS),
    (Command.READ_REG, bytes([5]), ErrorCode.BAD_ADDRESS),
    (Command.WRITE_REG, bytes([1, 2, 3, 4]), ErrorCode.BAD_LENGTH),
    (Command.WRITE_REG, bytes([1, 2, 3, 4, 5, 6]), ErrorCode.BAD_LENGTH),
    (Command.READ_REG, b"", ErrorCode.BAD_LENGTH),
    (Command.READ_REG, bytes([1, 0]), ErrorCode.BAD_LENGTH),
])
def test_register_errors(cmd, payload, code):
    assert LinkModel(SMALL).respond(encode_frame(cmd, payload)) == error_frame(code, cmd)


@pytest.mark.parametrize("cmd", [0x00, 0x04, 0x0F, 0x10, 0x40, 0x7E, 0x7F, 0x80, 0x81, 0xFF])
def test_unknown_commands(cmd):
    m = LinkModel(SMALL)
    assert m.respond(encode_frame(cmd, b"x")) == error_frame(ErrorCode.UNKNOWN_COMMAND, cmd)


def test_unit_commands_only_with_a_unit():
    """A link without a unit answers the unit commands (and RESET) UNKNOWN_COMMAND."""
    assert UNIT_COMMANDS == range(0x10, 0x7F)
    assert set(Command) & set(UNIT_COMMANDS) == {Command.SEND, Command.RECV, Command.STATUS}
    assert set(UNIT_ONLY) == {Command.RESET, Command.SEND, Command.RECV, Command.STATUS}
    m = LinkModel(SMALL)
    for cmd in UNIT_ONLY:
        assert m.respond(encode_frame(cmd)) == error_frame(ErrorCode.UNKNOWN_COMMAND, cmd)


def test_check_order():
    m = LinkModel(SMALL)
    # TOO_LONG before UNKNOWN_COMMAND; BAD_CRC before everything.
    assert m.respond(encode_frame(0x55, bytes(9))) == error_frame(ErrorCode.TOO_LONG, 0x55)
    bad = bytearray(encode_frame(0x55, bytes(9)))
    bad[-2] ^= 0x80
    assert m.respond(bytes(bad)) == error_frame(ErrorCode.BAD_CRC, 0x55)
    # BAD_LENGTH before BAD_ADDRESS.
    assert m.respond(encode_frame(Command.READ_REG, bytes([200, 0]))) == error_frame(
        ErrorCode.BAD_LENGTH, Command.READ_REG)


def test_one_response_per_frame_and_none_for_junk():
    m = LinkModel(SMALL)
    assert m.respond(b"\x00\x01\x02\xff") == b""
    host = encode_frame(Command.PING, b"a") + b"junk" + encode_frame(0x33)
    assert m.respond(host) == (ok_frame(Command.PING, b"a")
                               + error_frame(ErrorCode.UNKNOWN_COMMAND, 0x33))


def test_responses_decode_on_the_host():
    m = LinkModel(SMALL)
    out = m.respond(encode_frame(Command.PING, b"abc") + encode_frame(0x20))
    assert decode_frames(out) == [Frame(0x81, b"abc"), Frame(ERROR, bytes([2, 0x20]))]


def test_golden_model_does_not_import_amaranth():
    code = ("import sys, lowbit.golden.link as g, lowbit.golden.linkmodel as lm; "
            "lm.LinkModel().respond(g.encode_frame(1, b'x')); "
            "sys.exit(any(m.split('.')[0] == 'amaranth' for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- parameters -----------------------------------------------------------------------------

def test_defaults_for_the_icebreaker():
    p = LinkParams()
    assert (p.clk_hz, p.baud, p.divisor) == (12_000_000, 3_000_000, 4)
    assert p.uart.baud_error == 0
    assert (p.max_frame, p.tx_buffer, p.rx_buffer) == (262, 264, 9)
    assert p.timeout_cycles == 30_000 * 4 + 2


@pytest.mark.parametrize("baud,divisor,error", [
    (3_000_000, 4, 0.0), (2_000_000, 6, 0.0), (1_000_000, 12, 0.0),
    (115_200, 104, 0.0016), (921_600, 13, 0.0016)])
def test_divisors_at_12_mhz(baud, divisor, error):
    u = UARTParams(12_000_000, baud)
    assert u.divisor == divisor and abs(u.baud_error) == pytest.approx(error, abs=1e-4)


@pytest.mark.parametrize("kwargs,exc,message", [
    (dict(baud=6_000_000), ValueError,
     r"clk_hz / baud must be >= 4, not 12000000 / 6000000 = 2"),
    (dict(clk_hz=1_000_000, baud=115_200), ValueError,
     r"baud 115200 at clk_hz 1000000: divisor 9 gives 111111 baud, -3\.55% off; at most 2%"),
    (dict(clk_hz=25_000_000, baud=3_000_000), ValueError,
     r"divisor 8 gives 3125000 baud, \+4\.17% off"),
    (dict(baud=0), ValueError, "baud must be >= 1, not 0"),
    (dict(baud=115200.0), TypeError, "baud must be an integer, not 115200.0"),
    (dict(max_payload=4), ValueError, "max_payload must be between 5 and 4096, not 4"),
    (dict(max_payload=4097), ValueError, "max_payload must be between 5 and 4096, not 4097"),
    (dict(timeout_bits=9), ValueError, "timeout_bits must be between 10 and 16777216, not 9"),
    (dict(registers=0), ValueError, "registers must be between 1 and 128, not 0"),
    (dict(registers=129), ValueError, "registers must be between 1 and 128, not 129"),
])
def test_params_reject_bad_values(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        LinkParams(**kwargs)


def test_cli_params_name_the_value():
    unit = get_unit("link")
    assert parse_params(unit, ["baud=1000000"]).divisor == 12
    with pytest.raises(UsageError, match="link: clk_hz / baud must be >= 4"):
        parse_params(unit, ["baud=12000000"])


def test_hostlink_wants_link_params():
    from lowbit.hw.link import HostLink
    from lowbit.hw.uart import UARTRx

    with pytest.raises(TypeError, match="params must be a LinkParams, not 3"):
        HostLink(3)
    with pytest.raises(TypeError, match="params must be a UARTParams"):
        UARTRx(LinkParams())


# --- a unit behind the link ---------------------------------------------------------------

@dataclass(frozen=True)
class P:
    k: int = 1


STREAMS = [("i__payload", "in", 34), ("i__valid", "in", 1), ("i__ready", "out", 1),
           ("o__payload", "out", 17), ("o__valid", "out", 1), ("o__ready", "in", 1)]


def test_unit_map_registers_and_words():
    ports = [("wa", "in", 4), *STREAMS, ("f_data", "in", 72), ("f_en", "in", 1),
             ("busy", "out", 1), ("big_en", "in", 2)]
    m = UnitMap.from_ports("u", P(), ports, LinkParams())
    assert [(p.name, p.addr, p.words, p.output, p.strobe) for p in m.ports] == [
        ("wa", 0x81, 1, False, False), ("f_data", 0x82, 3, False, False),
        ("f_en", 0x85, 1, False, True), ("busy", 0x86, 1, True, False),
        ("big_en", 0x87, 1, False, False)]  # a strobe is one bit wide
    assert (m.in_bytes, m.out_bytes, m.recv_max) == (5, 3, 85)
    assert (m.in_queue, m.out_queue) == (512, 85)
    assert m.port("busy").output and not m.port("busy").writable
    with pytest.raises(KeyError, match="unit u has no side port 'nope'; it has: wa, f_data"):
        m.port("nope")


def test_unit_map_round_trip_and_signature():
    m = UnitMap.from_ports("u", P(), [("wa", "in", 4), *STREAMS], LinkParams())
    again = UnitMap.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again == m and again.signature == m.signature
    other = UnitMap.from_ports("u", P(2), [("wa", "in", 4), *STREAMS], LinkParams())
    assert other.signature != m.signature  # the parameters are part of it
    assert 0 <= m.signature < 1 << 32
    assert m.params_type == f"{__name__}:P" and m.params_object() == P()


@pytest.mark.parametrize("ports, link, message", [
    ([("x", "in", 1)], LinkParams(), "unit u cannot sit behind the host link: it has no "
                                     "i__payload, i__valid"),
    ([(f"r{k}", "in", 32) for k in range(128)] + STREAMS, LinkParams(),
     "its side ports need 128 registers, more than the 127 there are"),
    ([("i__payload", "in", 8 * 300), *STREAMS[1:]], LinkParams(),
     "its words \\(300 and 3 bytes\\) must fit a payload of max_payload=256 bytes"),
])
def test_unit_map_refuses(ports, link, message):
    with pytest.raises(ValueError, match=message):
        UnitMap.from_ports("u", P(), ports, link)
