"""The host link: the frame protocol, its CRC, and the link's parameters.

This docstring is the protocol's one specification; ``hw/link.py`` implements it,
:class:`lowbit.golden.linkmodel.LinkModel` is its golden model of the device side, and
``tests/test_link_sim.py`` checks the hardware against that model byte for byte. The register
map of a unit behind the link is :class:`lowbit.golden.unitmap.UnitMap`.

Physical layer
--------------
UART, 8N1 (start bit, 8 data bits LSB first, one stop bit), idle high, no flow control.
The device divides its clock by ``divisor = round(clk_hz / baud)`` (>= 4, baud error <= 2%,
see :class:`UARTParams`). On the iCEBreaker the FT2232H's channel B is the UART. The FT2232H
makes ``12 MHz / (n + k/8)`` baud (a 120 MHz reference, x10 oversampling; 12 and 8 Mbaud are
special cases; FTDI AN_120), so with the board's 12 MHz clock:

=========  =======  ==================================================
baud       divisor  note
=========  =======  ==================================================
3_000_000  4        default: the fastest rate a 12 MHz clock can sample
2_000_000  6
1_000_000  12
115_200    104      115_385 baud, +0.16%
=========  =======  ==================================================

Higher rates (up to the FT2232H's 12 Mbaud) need a faster clock from the PLL.

Frames
------
Both directions use one layout; multi-byte fields are little-endian except the CRC::

    offset  size  field
    0       1     SYNC = 0xA5
    1       1     CMD: the command (host -> device) or the status (device -> host)
    2       2     LEN: payload bytes, little-endian (0 .. max_payload)
    4       LEN   payload
    4+LEN   2     CRC-16 over CMD, LEN and payload, most significant byte first

The CRC is CRC-16/IBM-3740 (a.k.a. CRC-16/CCITT-FALSE; poly 0x1021, init 0xFFFF, no
reflection, no final XOR; check value 0x29B1 for ``b"123456789"``), ``amaranth.lib.crc``'s
``catalog.CRC16_IBM_3740``. It is sent high byte first, as XMODEM does, so that the CRC over
CMD .. CRC of a good frame is 0: the receiver checks the residue and never stores the CRC.

Commands (host -> device, CMD byte)
-----------------------------------
=====  ==========  ==========================  ==========================
CMD    name        request payload             response payload
=====  ==========  ==========================  ==========================
0x01   PING        any 0 .. max_payload bytes  the same bytes (echo)
0x02   WRITE_REG   addr (1), value (4, LE)     none
0x03   READ_REG    addr (1)                    value (4, LE)
=====  ==========  ==========================  ==========================

- 0x04 .. 0x0F: reserved for the link; 0x04 is RESET on a link with a unit (below).
- 0x10 .. 0x7E: reserved for units; 0x10 .. 0x12 are SEND, RECV and STATUS on a link with a
  unit (below). A link without a unit answers them UNKNOWN_COMMAND.
- 0x00, 0x7F and 0x80 .. 0xFF are never valid requests (UNKNOWN_COMMAND).

The register file holds ``registers`` 32-bit words, all zero at power-up (a reset keeps them).

A unit behind the link
----------------------
A link built around a unit (``lowbit synth UNIT``, :class:`UnitMap`) connects the unit's input
stream ``i``, its output stream ``o`` and its other ports ("side ports": run-time configuration,
memory load ports, status) to the host:

=====  ==========  ==============================  =======================================
CMD    name        request payload                 response payload
=====  ==========  ==============================  =======================================
0x04   RESET       none                            none
0x10   SEND        whole input words               ``in_free`` (2, LE), ``out_words`` (2, LE)
0x11   RECV        most words wanted (2, LE)       up to that many output words
0x12   STATUS      none                            ``in_free`` (2, LE), ``out_words`` (2, LE)
=====  ==========  ==============================  =======================================

- Words. An input word is the ``i`` payload in ``in_bytes = ceil(width / 8)`` bytes,
  little-endian, high bits past the width ignored; an output word likewise
  (``out_bytes``, zero-extended). The bit layout of a payload (its fields) is the unit's
  (:attr:`UnitMap.in_fields`, :attr:`UnitMap.out_fields`).
- SEND queues its words for the unit, in order, and answers once they are queued. LEN must
  be a non-zero multiple of ``in_bytes`` (else BAD_LENGTH) and at most ``in_free``, the
  bytes free in the input queue (else NO_ROOM, and nothing is queued). SEND never waits for
  the unit: a unit that stops taking words (its output queue full) shows as a small
  ``in_free``, and the host reads results before it sends more.
- RECV answers with at most ``min(wanted, out_words, max_payload // out_bytes)`` words from
  the output queue, possibly none; it never waits. (A word that reached the queue in the
  last two cycles before the answer waits for the next RECV.) LEN must be 2.
- STATUS reports the queues as SEND does (LEN 0).
- RESET puts the unit and both queues back into their reset state, dropping queued words
  (LEN 0). Registers keep their values.
- Registers. Address 0x80 (read only) holds :attr:`UnitMap.signature`, a CRC-32 of the map, so
  a host can tell which unit and parameters the bitstream has. Each side port then takes
  ``ceil(width / 32)`` registers from 0x81 up, in the unit's port order, least significant
  word first (:attr:`UnitMap.ports`). An input port is written and read back; a 1-bit input
  named ``*_en`` is a write strobe: writing 1 pulses it for one cycle, and it reads 0. An
  output port is read only (live values). Writing a read-only register, or any address that
  is neither a general nor a unit register, is BAD_ADDRESS.

Responses (device -> host)
--------------------------
Every frame the receiver takes in (from SYNC to its CRC, or to the error that ends it) gets
exactly one response, in order; bytes outside frames get none:

- success: CMD = request CMD | 0x80 (PING -> 0x81, WRITE_REG -> 0x82, READ_REG -> 0x83);
- error: CMD = 0xFF and a 2-byte payload ``[code, request CMD]`` (request CMD 0 when the
  frame ended before its CMD byte).

Error codes, and when the device sends them:

=====  ===============  ============================================================
code   name             cause
=====  ===============  ============================================================
0x01   BAD_CRC          the CRC does not match (checked first, before anything else)
0x02   UNKNOWN_COMMAND  good CRC, but CMD is not a command (see above)
0x03   TOO_LONG         good CRC, but LEN > max_payload (the payload was not stored)
0x04   TIMEOUT          the line stayed idle ``timeout_bits`` bit times inside a frame
0x05   BAD_LENGTH       LEN is not what the command takes (WRITE_REG: 5, READ_REG: 1)
0x06   BAD_ADDRESS      no such register (neither below ``registers`` nor a unit's), or
                        a write to a read-only one
0x07   FRAMING          a byte inside a frame had a low stop bit (wrong baud, break)
0x08   OVERRUN          received bytes were lost while the device was busy (below)
0x09   NO_ROOM          SEND: the input queue has fewer free bytes than the payload
=====  ===============  ============================================================

Parsing, and why the link never hangs
-------------------------------------
The receiver hunts for SYNC; other bytes (and framing-error bytes) between frames are
ignored. After SYNC it takes CMD, LEN, LEN bytes of payload (stored only when LEN <=
max_payload) and the CRC, then answers. Inside a frame:

- a byte-gap timeout: when the line stays idle (no start bit) for ``timeout_bits`` bit times,
  the frame is dropped with TIMEOUT and the receiver hunts again. Gaps are measured on the
  line from the end of one stop bit to the next start bit; a gap of ``timeout_bits - 1``
  whole bit times never times out, one of ``timeout_bits`` always does. A LEN corrupted
  upward therefore ends in TIMEOUT (or BAD_CRC) once the host stops sending, never in a hang;
- a byte with a framing error aborts the frame with FRAMING (the receiver waits for the line
  to go high again before the next start bit, so a break inside a frame costs one error
  frame, and one between frames none).

The device answers in order and keeps receiving while it answers: the receiver queues
``rx_buffer`` bytes while a response is written into the ``tx_buffer``-byte transmit queue.
A host that waits for each response (stop-and-wait) never loses anything. Back-to-back
frames are also answered without loss while the unsent response bytes fit in the transmit
queue (PING frames, whose response is as long as the request, always do). A host that sends
faster than that for long enough overruns the receive queue and bytes are lost. The loss is
reported with the next byte that arrives: the frame it broke is answered OVERRUN (with its
CMD; 0 if the loss fell between frames), and that next byte is then parsed as usual, so a
good frame that follows is still answered. (A frame whose tail was lost times out first.)
OVERRUN depends on timing, so :class:`~lowbit.golden.linkmodel.LinkModel` does not produce it.

Throughput
----------
A frame with ``n`` payload bytes takes ``10 (n + 6)`` bit times on the line. The link is full
duplex, so back-to-back PINGs move ``n / (n + 6)`` of the baud / 10 bytes per second each
way; stop-and-wait halves that (plus the device's few cycles of turnaround).
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .checks import check_int as _check_int

__all__ = [
    "SYNC", "RESPONSE", "ERROR", "HEADER_BYTES", "OVERHEAD_BYTES", "MAX_LENGTH",
    "UNIT_COMMANDS", "LINK_RESERVED", "CRC16_POLY", "CRC16_INIT", "CRC16_CHECK",
    "MIN_DIVISOR", "MAX_BAUD_ERROR", "MIN_PAYLOAD", "MAX_PAYLOAD", "MIN_TIMEOUT_BITS",
    "MAX_TIMEOUT_BITS", "MAX_REGISTERS", "REG_BYTES",
    "Command", "ErrorCode", "Frame", "FrameError", "UARTParams", "LinkParams",
    "crc16", "encode_frame", "ok_frame", "error_frame", "decode_frames",
    "frame_bytes", "request_length", "UNIT_ONLY",
]

SYNC = 0xA5
#: Success responses carry the request's CMD with this bit set.
RESPONSE = 0x80
#: The CMD byte of an error frame.
ERROR = 0xFF
HEADER_BYTES = 4  # SYNC, CMD, LEN (2)
OVERHEAD_BYTES = HEADER_BYTES + 2  # + CRC
MAX_LENGTH = 0xFFFF  # what LEN can say
#: CMD values reserved for units and for the link itself (answered UNKNOWN_COMMAND for now).
UNIT_COMMANDS = range(0x10, 0x7F)
LINK_RESERVED = range(0x04, 0x10)

# CRC-16/IBM-3740 (CCITT-FALSE), reveng catalogue; = amaranth.lib.crc.catalog.CRC16_IBM_3740.
CRC16_POLY = 0x1021
CRC16_INIT = 0xFFFF
CRC16_CHECK = 0x29B1  # crc16(b"123456789")

MIN_DIVISOR = 4
MAX_BAUD_ERROR = 0.02
MIN_PAYLOAD, MAX_PAYLOAD = 5, 4096  # WRITE_REG needs 5 payload bytes
MIN_TIMEOUT_BITS, MAX_TIMEOUT_BITS = 10, 1 << 24
MAX_REGISTERS = 128  # below the unit registers
REG_BYTES = 4


class Command(enum.IntEnum):
    PING = 0x01
    WRITE_REG = 0x02
    READ_REG = 0x03
    RESET = 0x04  # with a unit
    SEND = 0x10  # with a unit
    RECV = 0x11  # with a unit
    STATUS = 0x12  # with a unit


#: The commands only a link with a unit takes.
UNIT_ONLY = (Command.RESET, Command.SEND, Command.RECV, Command.STATUS)


class ErrorCode(enum.IntEnum):
    BAD_CRC = 0x01
    UNKNOWN_COMMAND = 0x02
    TOO_LONG = 0x03
    TIMEOUT = 0x04
    BAD_LENGTH = 0x05
    BAD_ADDRESS = 0x06
    FRAMING = 0x07
    OVERRUN = 0x08
    NO_ROOM = 0x09


#: Payload length each command takes (None: any up to max_payload).
_REQUEST_LENGTH = {Command.PING: None, Command.WRITE_REG: 1 + REG_BYTES, Command.READ_REG: 1,
                   Command.RESET: 0, Command.SEND: None, Command.RECV: 2, Command.STATUS: 0}


def request_length(cmd):
    """The payload length ``cmd`` takes, or None for any length (PING, SEND)."""
    return _REQUEST_LENGTH[Command(cmd)]


@dataclass(frozen=True)
class Frame:
    """A frame with a good CRC: its CMD byte and payload."""

    cmd: int
    payload: bytes = b""


@dataclass(frozen=True)
class FrameError:
    """A frame the parser dropped: the error code and the CMD byte received (0 if none)."""

    code: int
    cmd: int = 0


# --- CRC ------------------------------------------------------------------------------------

def crc16(data, crc=CRC16_INIT):
    """CRC-16/IBM-3740 of ``data`` (bytes or ints 0..255), bit by bit, MSB first.

    ``crc`` continues a running CRC. The CRC of a frame body followed by its own CRC (high
    byte first) is 0.
    """
    for byte in data:
        byte = _check_int("data byte", byte, 0, 255)
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC16_POLY) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


# --- encoding -------------------------------------------------------------------------------

def _bytes(name, data):
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    arr = np.asarray(data)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iuO"):
        raise TypeError(f"{name} must be bytes or a 1-D sequence of integers, not {data!r}")
    return bytes(_check_int(f"{name} byte", v, 0, 255) for v in arr.tolist())


def encode_frame(cmd, payload=b""):
    """SYNC, CMD, LEN (little-endian), payload, CRC-16 (high byte first)."""
    cmd = _check_int("cmd", cmd, 0, 255)
    payload = _bytes("payload", payload)
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"payload must be at most {MAX_LENGTH} bytes, not {len(payload)}")
    body = bytes([cmd, len(payload) & 0xFF, len(payload) >> 8]) + payload
    crc = crc16(body)
    return bytes([SYNC]) + body + bytes([crc >> 8, crc & 0xFF])


def ok_frame(cmd, payload=b""):
    """The success response to request ``cmd``."""
    return encode_frame(RESPONSE | cmd, payload)


def error_frame(code, cmd=0):
    """The error response: CMD 0xFF, payload ``[code, request CMD]``."""
    return encode_frame(ERROR, [int(code), int(cmd)])


def frame_bytes(n_payload):
    """Bytes on the line for a frame with ``n_payload`` payload bytes."""
    return n_payload + OVERHEAD_BYTES


# --- parsing --------------------------------------------------------------------------------

def _gap_list(gaps, n):
    if gaps is None:
        return [0] * n
    if isinstance(gaps, Mapping):
        out = [0] * n
        for i, g in gaps.items():
            if not 0 <= i < n:
                raise ValueError(f"gap index {i!r} is outside the {n} bytes")
            out[i] = _check_int(f"gap before byte {i}", g, 0)
        return out
    out = [_check_int("gap", g, 0) for g in gaps]
    if len(out) != n:
        raise ValueError(f"gaps must give one gap per byte ({n}), not {len(out)}")
    return out


def decode_frames(data, *, max_payload=MAX_LENGTH, timeout_bits=None, gaps=None,
                  bad_stop=(), final_idle=True):
    """Parse a byte stream as the device's receiver does: a list of Frame and FrameError.

    Parameters
    ----------
    data : bytes or sequence of int
        Bytes in line order.
    max_payload : int
        Frames with a longer LEN are consumed to their end and reported TOO_LONG (if their
        CRC is good). The host decodes responses with the default, 65535.
    timeout_bits : int or None
        The byte-gap timeout; None: no timeouts.
    gaps : sequence or mapping of int
        Idle bit times on the line before each byte (index -> bits), default 0.
    bad_stop : collection of int
        Indices of bytes received with a low stop bit (framing error).
    final_idle : bool
        The line stays idle after the last byte, so an unfinished frame times out.
    """
    data = _bytes("data", data)
    gap = _gap_list(gaps, len(data))
    bad_stop = set(bad_stop)
    events = []
    state, cmd, body, length = "hunt", 0, [], 0

    def drop(code):
        nonlocal state
        events.append(FrameError(int(code), cmd))
        state = "hunt"

    for i, b in enumerate(data):
        if state != "hunt" and timeout_bits is not None and gap[i] >= timeout_bits:
            drop(ErrorCode.TIMEOUT)
        if state == "hunt":
            if b == SYNC and i not in bad_stop:
                state, cmd, body = "cmd", 0, []
            continue
        if i in bad_stop:
            drop(ErrorCode.FRAMING)
            continue
        body.append(b)
        if state == "cmd":
            cmd, state = b, "len0"
        elif state == "len0":
            state = "len1"
        elif state == "len1":
            length = body[1] | (b << 8)
            state = "payload" if length else "crc0"
        elif state == "payload":
            if len(body) == HEADER_BYTES - 1 + length:
                state = "crc0"
        elif state == "crc0":
            state = "crc1"
        else:  # crc1: the frame is complete
            state = "hunt"
            if crc16(body) != 0:
                events.append(FrameError(ErrorCode.BAD_CRC, cmd))
            elif length > max_payload:
                events.append(FrameError(ErrorCode.TOO_LONG, cmd))
            else:
                events.append(Frame(cmd, bytes(body[3:-2])))
    if state != "hunt" and final_idle and timeout_bits is not None:
        drop(ErrorCode.TIMEOUT)
    return events


# --- parameters -----------------------------------------------------------------------------

@dataclass(frozen=True)
class UARTParams:
    """Clock and baud rate of an 8N1 UART; the divisor is ``round(clk_hz / baud)``.

    Parameters
    ----------
    clk_hz, baud : int
        The divisor must be >= 4 (the receiver samples each bit near its middle with a
        resolution of one clock, a quarter bit at the minimum) and the actual baud
        ``clk_hz / divisor`` within 2% of ``baud``.
    """

    clk_hz: int = field(default=12_000_000, metadata={"help": "clock frequency in Hz"})
    baud: int = field(default=3_000_000, metadata={"help": "baud rate (bits per second)"})

    def __post_init__(self):
        _check_int("clk_hz", self.clk_hz, 1)
        _check_int("baud", self.baud, 1)
        d = self.divisor
        if d < MIN_DIVISOR:
            raise ValueError(
                f"clk_hz / baud must be >= {MIN_DIVISOR}, not {self.clk_hz} / {self.baud} = "
                f"{self.clk_hz / self.baud:.3g}: lower the baud or raise the clock")
        if abs(self.baud_error) > MAX_BAUD_ERROR:
            raise ValueError(
                f"baud {self.baud} at clk_hz {self.clk_hz}: divisor {d} gives "
                f"{self.actual_baud:.0f} baud, {self.baud_error:+.2%} off; at most "
                f"{MAX_BAUD_ERROR:.0%} is allowed")

    @property
    def divisor(self):
        """Clock cycles per bit, ``round(clk_hz / baud)`` (halves round up)."""
        return (2 * self.clk_hz + self.baud) // (2 * self.baud)

    @property
    def actual_baud(self):
        return self.clk_hz / self.divisor

    @property
    def baud_error(self):
        """Relative error of the actual baud rate (+: faster than asked)."""
        return self.actual_baud / self.baud - 1

    @property
    def sample_offset(self):
        """Cycles from the first low cycle of a start bit to its sample: the bit's middle."""
        return (self.divisor - 1) // 2


@dataclass(frozen=True)
class LinkParams:
    """One object for the host link's hardware, golden model and generator.

    Parameters
    ----------
    clk_hz : int
        Clock in Hz (iCEBreaker: 12 MHz).
    baud : int
        UART baud rate; ``clk_hz / baud`` must round to >= 4 within 2% (:class:`UARTParams`).
        The default 3 Mbaud is the fastest a 12 MHz clock samples; the FT2232H makes it exactly.
    max_payload : int
        Largest payload the device stores (5..4096); longer frames get TOO_LONG.
    timeout_bits : int
        Idle bit times inside a frame before TIMEOUT (10..2**24). The default, 30,000, is
        10 ms at 3 Mbaud (0.26 s at 115,200): far above the gaps a USB-serial bridge leaves
        inside one write, small against a host's response timeout.
    registers : int
        32-bit registers for WRITE_REG / READ_REG (1..128; unit registers start at 0x80).
    """

    clk_hz: int = field(default=12_000_000, metadata={
        "help": "clock in Hz (iCEBreaker: 12 MHz)"})
    baud: int = field(default=3_000_000, metadata={
        "help": "UART baud, 8N1; clk_hz/baud >= 4 within 2% (12 MHz: 3M, 2M, 1M, 115200)"})
    max_payload: int = field(default=256, metadata={
        "help": "largest payload in bytes (5..4096); longer frames get TOO_LONG"})
    timeout_bits: int = field(default=30_000, metadata={
        "help": "idle bit times inside a frame before a TIMEOUT error frame (10..2**24)"})
    registers: int = field(default=16, metadata={
        "help": "32-bit registers for WRITE_REG/READ_REG (1..128)"})

    def __post_init__(self):
        UARTParams(self.clk_hz, self.baud)  # validates both
        _check_int("max_payload", self.max_payload, MIN_PAYLOAD, MAX_PAYLOAD)
        _check_int("timeout_bits", self.timeout_bits, MIN_TIMEOUT_BITS, MAX_TIMEOUT_BITS)
        _check_int("registers", self.registers, 1, MAX_REGISTERS)

    @property
    def uart(self):
        return UARTParams(self.clk_hz, self.baud)

    @property
    def divisor(self):
        return self.uart.divisor

    @property
    def max_frame(self):
        """Bytes of the longest frame (either direction)."""
        return frame_bytes(self.max_payload)

    @property
    def tx_buffer(self):
        """Transmit queue bytes: the longest response plus two, enough for back-to-back PINGs
        of any size (the previous response has at most a byte left when the next is due)."""
        return self.max_frame + 2

    @property
    def rx_buffer(self):
        """Receive queue bytes: what arrives while the longest response is written into the
        transmit queue (one byte a cycle), plus two of slack."""
        write_cycles = self.max_frame + 2
        return max(4, -(-write_cycles // (10 * self.divisor)) + 2)

    @property
    def timeout_cycles(self):
        """Idle cycles that end a frame: ``timeout_bits`` bit times plus half a bit, which puts
        the threshold between the idle time of a ``timeout_bits - 1`` and a ``timeout_bits``
        gap (idle starts at the stop bit's sample, half a bit before the stop bit ends)."""
        d = self.divisor
        return self.timeout_bits * d + d // 2

    def seconds(self, cycles):
        return cycles / self.clk_hz


