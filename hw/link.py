"""The host link: UART, frame parser with CRC check, command dispatcher, response encoder.

The protocol is specified once, in :mod:`lowbit.golden.link`; this is its hardware.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import crc, data, enum, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.link import (
    ERROR,
    REG_BYTES,
    RESPONSE,
    SYNC,
    Command,
    ErrorCode,
    LinkParams,
    request_length,
)
from .uart import RX_LAYOUT, UARTRx, UARTTx, _check

__all__ = ["HostLink", "LinkParams", "CRC16"]

#: The frame CRC, CRC-16/IBM-3740 (CCITT-FALSE), one byte per cycle.
CRC16 = crc.catalog.CRC16_IBM_3740(data_width=8)

_ARG_BYTES = 1 + REG_BYTES  # WRITE_REG's payload, the longest one the dispatcher reads


class _S(enum.Enum, shape=4):
    """States of the frame FSM: receiving, checking, then writing the response."""

    HUNT = 0
    CMD = 1
    LEN0 = 2
    LEN1 = 3
    PAYLOAD = 4
    CRC0 = 5
    CRC1 = 6
    CHECK = 7
    RESP_SYNC = 8
    RESP_CMD = 9
    RESP_LEN0 = 10
    RESP_LEN1 = 11
    RESP_DATA = 12
    RESP_CRC0 = 13
    RESP_CRC1 = 14


class HostLink(wiring.Component):
    """The device side of the host link (:mod:`lowbit.golden.link`): PING, WRITE_REG, READ_REG.

    Parameters
    ----------
    params : lowbit.golden.link.LinkParams

    Members
    -------
    rx : In(1, init=1)
        Serial line from the host (the FTDI's TXD), asynchronous, idle high.
    tx : Out(1, init=1)
        Serial line to the host (the FTDI's RXD), registered, idle high.

    Structure
    ---------
    ``UARTRx -> receive queue (rx_buffer bytes) -> frame FSM -> transmit queue (tx_buffer
    bytes) -> UARTTx``. The FSM hunts for SYNC, runs the received bytes through an
    ``amaranth.lib.crc`` processor (a good frame leaves the residue 0), stores up to
    ``max_payload`` payload bytes in a memory, and keeps the first five for the dispatcher.
    After the CRC it checks (in this order) CRC, length limit, command, length, address, and
    writes the whole response into the transmit queue, one byte a cycle, through a second CRC
    processor. It reads no new byte meanwhile; the receive queue holds what arrives. The
    registers are a ``registers`` x 32 memory. The byte-gap timeout counts idle line cycles
    (the receiver not busy) and fires inside a frame once the receive queue is empty.

    Latency and throughput
    ----------------------
    A response's start bit begins about seven cycles after the request's last stop bit ends
    on the line (the receiver samples it half a bit early; the queues add two cycles each;
    6.8 cycles at divisor 4, ``test_throughput``). Both directions run at the full line rate,
    bytes back to back, ``10 * divisor`` cycles each, so back-to-back PINGs of ``n`` bytes
    carry ``n / (n + 6)`` of the line rate each way. Bytes lost to a full receive queue are
    answered OVERRUN (:mod:`lowbit.golden.link`).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, params):
        self.params = _check(self, params, LinkParams)
        super().__init__()

    @property
    def divisor(self):
        return self.params.divisor

    def elaborate(self, platform):
        m = Module()
        p = self.params

        # Physical layer and the two queues.
        m.submodules.uart_rx = urx = UARTRx(p.uart)
        m.submodules.uart_tx = utx = UARTTx(p.uart)
        m.submodules.rx_queue = rxq = SyncFIFOBuffered(width=RX_LAYOUT.size, depth=p.rx_buffer)
        m.submodules.tx_queue = txq = SyncFIFOBuffered(width=8, depth=p.tx_buffer)
        m.d.comb += [
            urx.rx.eq(self.rx),
            self.tx.eq(utx.tx),
            rxq.w_data.eq(urx.o.payload),
            rxq.w_en.eq(urx.o.valid),
            urx.o.ready.eq(rxq.w_rdy),
            utx.i.payload.eq(txq.r_data),
            utx.i.valid.eq(txq.r_rdy),
            txq.r_en.eq(utx.i.ready),
        ]
        byte = data.View(RX_LAYOUT, rxq.r_data)
        have = rxq.r_rdy
        take = Signal()
        m.d.comb += rxq.r_en.eq(take)
        # Bytes were lost before the byte at the head of the queue: answer OVERRUN without
        # taking it, then parse it again with the flag acknowledged (it may start a frame).
        ack = Signal()
        flagged = Signal()
        m.d.comb += flagged.eq(byte.overrun & ~ack)
        with m.If(take & have):
            m.d.sync += ack.eq(0)

        # Byte-gap timeout: cycles the line has been idle, saturating. Idle starts at a stop
        # bit's sample; the half bit in timeout_cycles makes whole-bit gaps unambiguous.
        limit = p.timeout_cycles
        idle = Signal(range(limit + 1))
        with m.If(urx.busy):
            m.d.sync += idle.eq(0)
        with m.Elif(idle != limit):
            m.d.sync += idle.eq(idle + 1)
        quiet = Signal()
        m.d.comb += quiet.eq((idle == limit) & (rxq.r_level == 0) & ~urx.o.valid)

        # CRC processors: received frames (checked by residue) and responses.
        m.submodules.rx_crc = rx_crc = CRC16.create()
        m.submodules.tx_crc = tx_crc = CRC16.create()
        m.d.comb += rx_crc.data.eq(byte.data)

        # Payload buffer (PING echoes from it) and the register file.
        m.submodules.payload = buf = Memory(shape=8, depth=p.max_payload, init=[])
        buf_w = buf.write_port()
        buf_r = buf.read_port(domain="sync")
        # At least two words: a one-word memory has a zero-width address.
        m.submodules.registers = regs = Memory(shape=32, depth=max(2, p.registers), init=[])
        reg_w = regs.write_port()
        reg_r = regs.read_port(domain="sync")

        # Frame being received.
        cmd = Signal(8)
        length = Signal(16)
        idx = Signal(16)  # counts past max_payload for a frame that is too long
        fits = Signal()  # length <= max_payload: the payload is stored
        args = Signal(8 * _ARG_BYTES)  # the first payload bytes
        addr = args[:8]
        m.d.comb += [
            buf_w.addr.eq(idx),
            buf_w.data.eq(byte.data),
            reg_w.addr.eq(addr),
            reg_w.data.eq(args[8:]),
            reg_r.addr.eq(addr),
        ]

        # Response being sent.
        r_cmd = Signal(8)
        r_len = Signal(range(max(p.max_payload, REG_BYTES) + 1))
        r_word = Signal(8 * REG_BYTES)  # READ_REG's value or an error's [code, cmd]
        r_buf = Signal()  # payload from the buffer (PING), else from r_word
        r_idx = Signal.like(r_len)
        out = Signal(8)
        wr = txq.w_rdy
        m.d.comb += [txq.w_data.eq(out), tx_crc.data.eq(out)]

        state = Signal(_S)

        def goto(target):
            m.d.sync += state.eq(target)

        def reply(status, n, *, word=0, from_buf=False):
            m.d.sync += [r_cmd.eq(status), r_len.eq(n), r_word.eq(word), r_buf.eq(from_buf)]
            goto(_S.RESP_SYNC)

        def fail(code, cmd_value):
            reply(ERROR, 2, word=Cat(Const(int(code), 8), cmd_value))

        def frame_state(name, body):
            """A state inside a frame: timeout, overrun, framing error, or a good byte."""
            with m.If(state == name):
                m.d.comb += take.eq(~flagged)
                with m.If(quiet):
                    fail(ErrorCode.TIMEOUT, cmd)
                with m.Elif(have):
                    with m.If(flagged):
                        m.d.sync += ack.eq(1)
                        fail(ErrorCode.OVERRUN, cmd)
                    with m.Elif(byte.framing_error):
                        fail(ErrorCode.FRAMING, cmd)
                    with m.Else():
                        m.d.comb += rx_crc.valid.eq(1)
                        body()

        def on_cmd():
            m.d.sync += cmd.eq(byte.data)
            goto(_S.LEN0)

        def on_len0():
            m.d.sync += length[:8].eq(byte.data)
            goto(_S.LEN1)

        def on_len1():
            full = Cat(length[:8], byte.data)
            m.d.sync += [length[8:].eq(byte.data), idx.eq(0), fits.eq(full <= p.max_payload)]
            goto(_S.PAYLOAD)
            with m.If(full == 0):
                goto(_S.CRC0)

        def on_payload():
            m.d.comb += buf_w.en.eq(fits)
            for k in range(_ARG_BYTES):
                with m.If(idx == k):
                    m.d.sync += args[8 * k:8 * k + 8].eq(byte.data)
            m.d.sync += idx.eq(idx + 1)
            with m.If(idx == length - 1):
                goto(_S.CRC0)

        def on_crc0():
            goto(_S.CRC1)

        def on_crc1():
            goto(_S.CHECK)

        # One If per state rather than m.FSM or m.Switch: Amaranth's Verilog then has no case
        # statements, which it would leave incomplete (Verilator's CASEINCOMPLETE, not waived).
        with m.If(state == _S.HUNT):
            m.d.comb += take.eq(~flagged)
            with m.If(have):
                with m.If(flagged):
                    m.d.sync += ack.eq(1)
                    fail(ErrorCode.OVERRUN, 0)
                with m.Elif(~byte.framing_error & (byte.data == SYNC)):
                    m.d.sync += cmd.eq(0)
                    m.d.comb += rx_crc.start.eq(1)
                    goto(_S.CMD)
        frame_state(_S.CMD, on_cmd)
        frame_state(_S.LEN0, on_len0)
        frame_state(_S.LEN1, on_len1)
        frame_state(_S.PAYLOAD, on_payload)
        frame_state(_S.CRC0, on_crc0)
        frame_state(_S.CRC1, on_crc1)

        with m.If(state == _S.CHECK):
            addr_ok = addr < p.registers
            with m.If(~rx_crc.match_detected):
                fail(ErrorCode.BAD_CRC, cmd)
            with m.Elif(~fits):
                fail(ErrorCode.TOO_LONG, cmd)
            with m.Elif(cmd == Command.PING):
                reply(RESPONSE | Command.PING, length, from_buf=True)
            with m.Elif(cmd == Command.WRITE_REG):
                with m.If(length != request_length(Command.WRITE_REG)):
                    fail(ErrorCode.BAD_LENGTH, cmd)
                with m.Elif(~addr_ok):
                    fail(ErrorCode.BAD_ADDRESS, cmd)
                with m.Else():
                    m.d.comb += reg_w.en.eq(1)
                    reply(RESPONSE | Command.WRITE_REG, 0)
            with m.Elif(cmd == Command.READ_REG):
                with m.If(length != request_length(Command.READ_REG)):
                    fail(ErrorCode.BAD_LENGTH, cmd)
                with m.Elif(~addr_ok):
                    fail(ErrorCode.BAD_ADDRESS, cmd)
                with m.Else():
                    # The read port has seen `addr` since the first payload byte.
                    reply(RESPONSE | Command.READ_REG, REG_BYTES, word=reg_r.data)
            with m.Else():
                fail(ErrorCode.UNKNOWN_COMMAND, cmd)

        # The response, one byte a cycle into the transmit queue (waiting when it is full).
        with m.If(state == _S.RESP_SYNC):
            m.d.comb += [out.eq(SYNC), txq.w_en.eq(1)]
            with m.If(wr):
                goto(_S.RESP_CMD)
        with m.If(state == _S.RESP_CMD):
            m.d.comb += [out.eq(r_cmd), txq.w_en.eq(1), tx_crc.start.eq(1),
                         tx_crc.valid.eq(wr)]
            with m.If(wr):
                goto(_S.RESP_LEN0)
        with m.If(state == _S.RESP_LEN0):
            m.d.comb += [out.eq(r_len[:8]), txq.w_en.eq(1), tx_crc.valid.eq(wr)]
            with m.If(wr):
                goto(_S.RESP_LEN1)
        with m.If(state == _S.RESP_LEN1):
            # buf_r.addr is 0 here, so byte 0 is on buf_r.data in RESP_DATA.
            m.d.comb += [out.eq(r_len[8:]), txq.w_en.eq(1), tx_crc.valid.eq(wr)]
            with m.If(wr):
                m.d.sync += r_idx.eq(0)
                goto(_S.RESP_DATA)
                with m.If(r_len == 0):
                    goto(_S.RESP_CRC0)
        with m.If(state == _S.RESP_DATA):
            # Synchronous read: address the next byte when this one is written.
            m.d.comb += [
                out.eq(Mux(r_buf, buf_r.data, r_word[:8])),
                txq.w_en.eq(1),
                tx_crc.valid.eq(wr),
                buf_r.addr.eq(r_idx + wr),
            ]
            with m.If(wr):
                m.d.sync += [r_idx.eq(r_idx + 1), r_word.eq(r_word >> 8)]
                with m.If(r_idx == r_len - 1):
                    goto(_S.RESP_CRC0)
        with m.If(state == _S.RESP_CRC0):
            m.d.comb += [out.eq(tx_crc.crc[8:]), txq.w_en.eq(1)]
            with m.If(wr):
                goto(_S.RESP_CRC1)
        with m.If(state.as_value() >= _S.RESP_CRC1.value):  # and the unused encoding
            m.d.comb += [out.eq(tx_crc.crc[:8]), txq.w_en.eq(1)]
            with m.If(wr):
                goto(_S.HUNT)
        return m
