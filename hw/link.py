"""The host link: UART, frame parser with CRC check, command dispatcher, response encoder,
and optionally a unit behind it (queues, word packing, side-port registers).

The protocol is specified once, in :mod:`lowbit.golden.link`; this is its hardware.
"""

import dataclasses

from amaranth.hdl import Cat, Const, Module, Mux, ResetInserter, Signal
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
from ..golden.unitmap import UNIT_REG_BASE, UnitMap
from .fifo import FlagFIFO
from .ports import payload_fields, port_list, unit_ports
from .ram import NO_RW_CHECK, registered_read
from .uart import RX_LAYOUT, UARTRx, UARTTx, _check

__all__ = ["HostLink", "LinkParams", "CRC16", "unit_map"]

#: The frame CRC, CRC-16/IBM-3740 (CCITT-FALSE), one byte per cycle.
CRC16 = crc.catalog.CRC16_IBM_3740(data_width=8)

_ARG_BYTES = 1 + REG_BYTES  # WRITE_REG's payload, the longest one the dispatcher reads


class _S(enum.Enum, shape=5):
    """States of the frame FSM: receiving, checking, SEND's copy, then the response."""

    HUNT = 0
    CMD = 1
    LEN0 = 2
    LEN1 = 3
    PAYLOAD = 4
    CRC0 = 5
    CRC1 = 6
    SETTLE = 7
    CHECK = 8
    ACT = 9
    COPY = 10
    SEND_DONE = 11
    RESP_SYNC = 12
    RESP_CMD = 13
    RESP_LEN0 = 14
    RESP_LEN1 = 15
    RESP_DATA = 16
    RESP_CRC0 = 17
    RESP_CRC1 = 18


#: The states that take received bytes.
_RECEIVING = (_S.HUNT, _S.CMD, _S.LEN0, _S.LEN1, _S.PAYLOAD, _S.CRC0, _S.CRC1)


def unit_map(unit, unit_name, params):
    """The :class:`~lowbit.golden.unitmap.UnitMap` of component ``unit`` behind a link with
    :class:`LinkParams` ``params``; ValueError when it cannot sit behind one."""
    return UnitMap.from_ports(unit_name or type(unit).__name__, unit.params, port_list(unit),
                              params, fields=payload_fields(unit))


class HostLink(wiring.Component):
    """The device side of the host link (:mod:`lowbit.golden.link`): PING, WRITE_REG, READ_REG,
    and with a unit RESET, SEND, RECV and STATUS.

    Parameters
    ----------
    params : lowbit.golden.link.LinkParams
    unit : amaranth.lib.wiring.Component, optional
        A unit to put behind the link (it becomes a submodule): its ``i`` stream takes SEND's
        words, its ``o`` stream fills RECV's queue, its other ports become registers and
        RESET resets it (:mod:`lowbit.golden.link`, "A unit behind the link").
        :attr:`unit_map` describes the result for the host.
    unit_name : str
        The unit's name in the map (with ``unit``).

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
    After the CRC it checks (in this order) CRC, length limit, command, length, address (or
    SEND's room), and writes the whole response into the transmit queue, one byte a cycle,
    through a second CRC processor. It reads no new byte meanwhile; the receive queue holds
    what arrives. The registers are a ``registers`` x 32 memory. The byte-gap timeout counts
    idle line cycles (the receiver not busy) and fires inside a frame once the receive queue
    is empty.

    With a unit: SEND copies its payload from the payload memory into a byte queue, one byte
    a cycle, after the checks (a frame with a bad CRC never reaches the unit); a packer makes
    little-endian words of them for ``i``. ``o``'s words fill a word queue, and RECV writes
    them out a byte at a time. The side ports are flip-flops (strobes are pulses), read
    through a multiplexer; RESET is a synchronous reset of the unit, both queues and the
    packer.

    Latency and throughput
    ----------------------
    A response's start bit begins about eleven cycles after the request's last stop bit ends
    on the line (the receiver samples it half a bit early; the queues add two cycles each,
    the received byte's head register and the response's byte buffer one each, and the
    check takes three: SETTLE, CHECK, ACT; 10.8 cycles at divisor 4, ``test_throughput``).
    Both directions run at the full line rate, bytes back to back, ``10 * divisor`` cycles
    each, so back-to-back PINGs of ``n`` bytes carry ``n / (n + 6)`` of the line rate each
    way. Bytes lost to a full receive queue are
    answered OVERRUN (:mod:`lowbit.golden.link`).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, params, unit=None, unit_name=None):
        self.params = _check(self, params, LinkParams)
        self.unit = unit
        self.unit_map = None
        if unit is not None:
            self.unit_map = unit_map(unit, unit_name, self.params)
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
        m.submodules.rx_queue = rxq = FlagFIFO(width=RX_LAYOUT.size, depth=p.rx_buffer)
        m.submodules.tx_queue = txq = FlagFIFO(width=8, depth=p.tx_buffer)
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
        # The byte at the head of the queue, in a register of its own: the parser decodes it
        # (SYNC, the flags, a zero length) straight into the state machine, and from the
        # queue's block RAM data output that was the link's critical path on the UP5K
        # (30.9 ns, 20.0 of it routing). `take` consumes it when `have`; the register refills
        # from the queue whenever it is empty or consumed. One cycle more of turnaround.
        head = Signal(RX_LAYOUT.size)
        byte = data.View(RX_LAYOUT, head)
        have = Signal()
        take = Signal()
        pop = Signal()
        m.d.comb += [pop.eq(~have | take), rxq.r_en.eq(pop)]
        # Bytes were lost before the byte at the head of the queue: answer OVERRUN without
        # taking it, then parse it again with the flag acknowledged (it may start a frame).
        # ``flagged`` is the head's overrun flag not yet acknowledged, in a flip-flop of its
        # own (loaded with the head, cleared by the acknowledgement; the two never coincide,
        # as an unacknowledged flag holds the head): as ``overrun & ~ack`` it was a gate in
        # front of every state's branches (the UP5K's critical path, 45.1 MHz).
        flagged = Signal()
        # Whether the head is a good SYNC byte, loaded with it: HUNT's test, which starts the
        # CRC processor, is then an AND of flip-flops (the compare in front of the CRC's
        # start and through it into the CRC register was a critical path on the UP5K on the
        # way from 45.1 to 51.8 MHz, bench/unit-timing).
        head_sync = Signal()
        # ``have & ~flagged & ~framing_error`` in a flip-flop: a frame state's "good byte"
        # (through its byte counter: one LUT level less on a UP5K critical path of that way).
        head_good = Signal()
        with m.If(pop):
            incoming = data.View(RX_LAYOUT, rxq.r_data)
            m.d.sync += [have.eq(rxq.r_rdy), head.eq(rxq.r_data), flagged.eq(incoming.overrun),
                         head_sync.eq(~incoming.framing_error & (incoming.data == SYNC)),
                         head_good.eq(rxq.r_rdy & ~incoming.overrun & ~incoming.framing_error)]

        def acknowledge():
            """The head's overrun flag is answered; the head is parsed again."""
            m.d.sync += [flagged.eq(0), head_good.eq(~byte.framing_error)]

        # Byte-gap timeout: cycles the line has been idle, saturating. Idle starts at a stop
        # bit's sample; the half bit in timeout_cycles makes whole-bit gaps unambiguous.
        limit = p.timeout_cycles
        idle = Signal(range(limit + 1))
        with m.If(urx.busy):
            m.d.sync += idle.eq(0)
        with m.Elif(idle != limit):
            m.d.sync += idle.eq(idle + 1)
        # A register, a cycle after the condition: the queue's level is an adder, and from it
        # through the compare into the state machine was the link's critical path on the UP5K
        # (30.3 MHz, 21.3 of 33.0 ns routing). The cycle is never one in which a byte could
        # arrive: with the line idle for a whole timeout, the receiver has none under way.
        quiet = Signal()
        m.d.sync += quiet.eq((idle == limit) & (rxq.r_level == 0) & ~have & ~urx.o.valid)

        # CRC processors: received frames (checked by residue) and responses.
        m.submodules.rx_crc = rx_crc = CRC16.create()
        m.submodules.tx_crc = tx_crc = CRC16.create()
        m.d.comb += rx_crc.data.eq(byte.data)

        # Payload buffer (PING echoes from it) and the register file.
        # The payload buffer is read through hw.ram.registered_read (the port's register,
        # then a read-data register, on ECP5 the DP16KD's output register): from its data
        # output, unregistered, into the transmit path was the link's critical path on the
        # ECP5-85F (85.2 MHz, 11.73 ns, 5.5 of it the block RAM's clock-to-data). Reads and
        # writes never meet (PAYLOAD writes; COPY and RESP_DATA read). The two registers
        # advance together (`buf_ce`) from `buf_addr`: two advances put byte 0 in `buf_data`
        # and byte 1 in the port's register, and each advance after that brings the next.
        m.submodules.payload = buf = Memory(shape=8, depth=p.max_payload, init=[],
                                            attrs=NO_RW_CHECK)
        buf_w = buf.write_port()
        buf_addr = Signal(range(p.max_payload + 3))
        buf_ce = Signal()
        buf_data = registered_read(m, buf, buf_addr, buf_ce, name="payload")
        with m.If(buf_ce):
            m.d.sync += buf_addr.eq(buf_addr + 1)
        # At least two words: a one-word memory has a zero-width address.
        m.submodules.registers = regs = Memory(shape=32, depth=max(2, p.registers), init=[])
        reg_w = regs.write_port()
        reg_r = regs.read_port(domain="sync")

        # Frame being received.
        cmd = Signal(8)
        length = Signal(16)
        # The byte counts of PAYLOAD, COPY and RESP_DATA (one after the other) end on a flag
        # register, `last`, set a byte ahead from a down-counter `left` (bytes after this
        # one): no compare of a counter with a length in front of the state machine.
        # (``idx == length - 1`` was the link's critical path on the UP5K once the timeout
        # flag was a register, 29.2 MHz; an equality of two registers, still 36.7.)
        left = Signal(16)
        last = Signal()

        def count_from(n):
            """Start a count of ``n`` >= 1 bytes."""
            m.d.sync += [left.eq(n - 1), last.eq(n == 1)]

        def count_byte():
            m.d.sync += [left.eq(left - 1), last.eq(left == 1)]
        idx = Signal(16)  # counts past max_payload for a frame that is too long
        fits = Signal()  # length <= max_payload: the payload is stored
        args = Signal(8 * _ARG_BYTES)  # the first payload bytes
        # Which of them the next payload byte is (one-hot, shifted a byte; none past them):
        # no compare of the 16-bit index in front of their enables (a critical path on the
        # UP5K once the state machine was one-hot, 41.9 MHz).
        arg_sel = Signal(_ARG_BYTES)

        # The unit behind the link, if any: its queues, word packing and registers.
        unit = self._unit_plumbing(m, args[:16]) if self.unit is not None else None
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
        r_recv = Signal()  # payload from the unit's output queue (RECV)
        out = Signal(8)
        # The response's bytes go through a two-byte buffer in front of the transmit queue,
        # and a state writes one when the buffer has room: `wr` is a flip-flop, not the
        # queue's level compare, which through `wr` into the payload buffer's read address was
        # the link's critical path on the UP5K (36.8 MHz). Still a byte a cycle (the receive
        # queue's size assumes it, LinkParams.rx_buffer).
        w_en = Signal()  # the state has a byte for the queue in `out`
        wr = Signal(init=1)  # the buffer has room for it
        out_q = [Signal(8, name=f"out_q{i}") for i in range(2)]
        out_n = Signal(range(3))  # bytes in the buffer
        push, drain = Signal(), Signal()
        m.d.comb += [push.eq(w_en & wr), drain.eq((out_n != 0) & txq.w_rdy),
                     txq.w_data.eq(out_q[0]), txq.w_en.eq(out_n != 0), tx_crc.data.eq(out)]
        n_next = Signal.like(out_n)
        m.d.comb += n_next.eq(out_n + push - drain)
        m.d.sync += [out_n.eq(n_next), wr.eq(n_next != 2)]
        # Each byte register loads whenever what it holds is not needed, so that its enable
        # is a register or two, not the push and drain logic (that was the UP5K's critical
        # path, 46.2 MHz): out_q[1] matters only when two bytes are held, and then `wr` is
        # low; out_q[0] matters unless the buffer is empty or drains, and takes out_q[1]
        # when two are held.
        with m.If((out_n == 0) | txq.w_rdy):
            m.d.sync += out_q[0].eq(Mux(out_n == 2, out_q[1], out))
        with m.If(wr):
            m.d.sync += out_q[1].eq(out)

        # One flip-flop a state (one-hot): a state's test is its own flip-flop, not a decode
        # of a 5-bit code, in front of every condition of the state machine (whose next
        # state was the link's critical path on the UP5K, 28.4 ns over 9 LUT levels).
        state = Signal(len(_S), init=1 << _S.HUNT.value)

        def at(name):
            return state[name.value]

        # Whether the state takes received bytes (HUNT and the frame's states), in a flip-flop
        # set with the state: `take`, and through `pop` the receive queue's read, is then one
        # gate from registers (an OR of the states' flip-flops in front of it was the UP5K's
        # critical path on that way).
        receiving = Signal(init=1)

        def goto(target):
            m.d.sync += [state.eq(1 << target.value), receiving.eq(int(target in _RECEIVING))]

        m.d.comb += take.eq(receiving & ~flagged)

        def reply(status, n, *, word=0, from_buf=False, from_unit=False):
            m.d.sync += [r_cmd.eq(status), r_len.eq(n), r_word.eq(word), r_buf.eq(from_buf),
                         r_recv.eq(from_unit)]
            goto(_S.RESP_SYNC)

        def fail(code, cmd_value):
            reply(ERROR, 2, word=Cat(Const(int(code), 8), cmd_value))

        def frame_state(name, body):
            """A state inside a frame: timeout, overrun, framing error, or a good byte."""
            with m.If(at(name)):
                with m.If(quiet):
                    fail(ErrorCode.TIMEOUT, cmd)
                with m.Elif(head_good):
                    m.d.comb += rx_crc.valid.eq(1)
                    body()
                with m.Elif(have):
                    with m.If(flagged):
                        acknowledge()
                        fail(ErrorCode.OVERRUN, cmd)
                    with m.Else():  # not good, not flagged: a framing error
                        fail(ErrorCode.FRAMING, cmd)

        def on_cmd():
            m.d.sync += cmd.eq(byte.data)
            goto(_S.LEN0)

        def on_len0():
            m.d.sync += length[:8].eq(byte.data)
            goto(_S.LEN1)

        def on_len1():
            full = Cat(length[:8], byte.data)
            m.d.sync += [length[8:].eq(byte.data), idx.eq(0), fits.eq(full <= p.max_payload),
                         arg_sel.eq(1)]
            count_from(full)
            if unit is not None:
                m.d.sync += unit.phase.eq(0)
            goto(_S.PAYLOAD)
            with m.If(full == 0):
                goto(_S.CRC0)

        def on_payload():
            m.d.comb += buf_w.en.eq(fits)
            if unit is not None:  # payload bytes modulo in_bytes, for SEND (no divider)
                top = unit.map.in_bytes - 1
                m.d.sync += unit.phase.eq(Mux(unit.phase == top, 0, unit.phase + 1))
            m.d.sync += arg_sel.eq(arg_sel << 1)
            for k in range(_ARG_BYTES):
                with m.If(arg_sel[k]):
                    m.d.sync += args[8 * k:8 * k + 8].eq(byte.data)
            m.d.sync += idx.eq(idx + 1)
            count_byte()
            with m.If(last):
                goto(_S.CRC0)

        def on_crc0():
            goto(_S.CRC1)

        def on_crc1():
            goto(_S.SETTLE)

        # One If per state rather than m.FSM or m.Switch: Amaranth's Verilog then has no case
        # statements, which it would leave incomplete (Verilator's CASEINCOMPLETE, not waived).
        with m.If(at(_S.HUNT)):
            with m.If(have):
                with m.If(flagged):
                    acknowledge()
                    fail(ErrorCode.OVERRUN, 0)
                with m.Elif(head_sync):
                    m.d.sync += cmd.eq(0)
                    m.d.comb += rx_crc.start.eq(1)
                    goto(_S.CMD)
        frame_state(_S.CMD, on_cmd)
        frame_state(_S.LEN0, on_len0)
        frame_state(_S.LEN1, on_len1)
        frame_state(_S.PAYLOAD, on_payload)
        frame_state(_S.CRC0, on_crc0)
        frame_state(_S.CRC1, on_crc1)

        # CHECK decides from registered copies of its tests (the command, the lengths and
        # the addresses), each computed every cycle: the frame's command, length and first
        # payload bytes are in their registers at least a cycle before CHECK (the two CRC
        # bytes come after them). With the tests in front of it, the dispatch was the link's
        # critical path on the UP5K (41.2 MHz, from cmd into the response's registers).
        def q(value, name):
            sig = Signal(name=name)
            m.d.sync += sig.eq(value)
            return sig

        commands = [Command.PING, Command.WRITE_REG, Command.READ_REG]
        if unit is not None:
            commands += [Command.RESET, Command.STATUS, Command.SEND, Command.RECV]
        is_cmd = {c: q(cmd == c, f"cmd_is_{c.name.lower()}") for c in commands}
        len_ok = {c: q(length == request_length(c), f"length_is_{c.name.lower()}")
                  for c in commands if c not in (Command.PING, Command.SEND)}
        addr_ok = {a: q(addr == a, f"addr_is_{a}") for a, _, _ in (unit.registers if unit else ())}
        general = q(addr < p.registers, "addr_general")
        if unit is not None:
            # SEND's checks, registered like the others, the queue's free count in a register
            # of its own before the compare. That count may only grow while a frame is
            # received and checked (only COPY writes the queue, and COPY ends before the
            # response), so a count two cycles old never admits more than fits. (Through the
            # level's adder and the compare into the decision, this was the UP5K's critical
            # path with a unit, 32.2 MHz, bench/link-clocks.)
            send_bad_length = q((length == 0) | (unit.phase != 0), "send_bad_length")
            in_free = Signal.like(unit.in_free, name="in_free_q")
            m.d.sync += in_free.eq(unit.in_free)
            send_no_room = q(length > in_free, "send_no_room")

        def length_is(command):
            return len_ok[command]

        def cmd_is(command):
            return is_cmd[command]

        def addr_is(a):
            return addr_ok[a]

        # CHECK decides and ACT acts. CHECK's chain of tests lands in registers: an error flag
        # and its code, or one flag per kind of response. ACT then loads the response's
        # registers from that one-hot choice. (The chain straight into the response registers
        # was the link's critical path on the UP5K: 45.1 MHz, five LUT levels from `fits` to
        # `r_word`.) The flags are exclusive, and zero outside ACT.
        err = Signal()
        err_code = Signal(8)
        unit_regs = unit.registers if unit else ()
        names = ["ping", "write", "read", *(["reset", "status", "send", "recv"] if unit else []),
                 *(f"write_{a}" for a, _, w in unit_regs if w is not None),
                 *(f"read_{a}" for a, _, _ in unit_regs)]
        do = {name: Signal(name=f"do_{name}") for name in names}
        m.d.sync += [flag.eq(0) for flag in (err, *do.values())]

        def refuse(code):
            m.d.sync += [err.eq(1), err_code.eq(int(code))]

        def decide(name):
            m.d.sync += do[name].eq(1)

        # SETTLE waits a cycle for `crc_ok`, the CRC check in a register: its 16-bit compare
        # then stands in front of no other test.
        crc_ok = q(rx_crc.match_detected, "crc_ok")
        with m.If(at(_S.SETTLE)):
            goto(_S.CHECK)

        with m.If(at(_S.CHECK)):
            goto(_S.ACT)
            with m.If(~crc_ok):
                refuse(ErrorCode.BAD_CRC)
            with m.Elif(~fits):
                refuse(ErrorCode.TOO_LONG)
            with m.Elif(cmd_is(Command.PING)):
                decide("ping")
            with m.Elif(cmd_is(Command.WRITE_REG)):
                with m.If(~length_is(Command.WRITE_REG)):
                    refuse(ErrorCode.BAD_LENGTH)
                with m.Elif(general):
                    decide("write")
                for a, _, write in unit_regs:
                    if write is not None:
                        with m.Elif(addr_is(a)):
                            decide(f"write_{a}")
                with m.Else():
                    refuse(ErrorCode.BAD_ADDRESS)
            with m.Elif(cmd_is(Command.READ_REG)):
                with m.If(~length_is(Command.READ_REG)):
                    refuse(ErrorCode.BAD_LENGTH)
                with m.Elif(general):
                    decide("read")
                for a, _, _ in unit_regs:
                    with m.Elif(addr_is(a)):
                        decide(f"read_{a}")
                with m.Else():
                    refuse(ErrorCode.BAD_ADDRESS)
            if unit is not None:
                for name, command in (("reset", Command.RESET), ("status", Command.STATUS),
                                      ("recv", Command.RECV)):
                    with m.Elif(cmd_is(command)):
                        with m.If(~length_is(command)):
                            refuse(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            decide(name)
                with m.Elif(cmd_is(Command.SEND)):
                    with m.If(send_bad_length):
                        refuse(ErrorCode.BAD_LENGTH)
                    with m.Elif(send_no_room):
                        refuse(ErrorCode.NO_ROOM)
                    with m.Else():
                        decide("send")
            with m.Else():
                refuse(ErrorCode.UNKNOWN_COMMAND)

        def one_hot(choices):
            """The value of the choice whose flag is set (0 if none): an AND-OR, no chain."""
            out = 0
            for flag, value in choices:
                out = out | Mux(flag, value, 0)
            return out

        with m.If(at(_S.ACT)):
            # A response's command is the request's with RESPONSE set (ERROR for an error).
            words = [(err, Cat(err_code, cmd)), (do["read"], reg_r.data),
                     *((do[f"read_{a}"], read) for a, read, _ in unit_regs)]
            lengths = [(err, 2), (do["ping"], length), (do["read"], REG_BYTES),
                       *((do[f"read_{a}"], REG_BYTES) for a, _, _ in unit_regs)]
            if unit is not None:
                words.append((do["status"], unit.status))
                lengths += [(do["status"], 4), (do["recv"], unit.recv_bytes)]
            m.d.sync += [r_cmd.eq(Mux(err, ERROR, RESPONSE | cmd)), r_len.eq(one_hot(lengths)),
                         r_word.eq(one_hot(words)), r_buf.eq(do["ping"])]
            # The register file's read port has seen `addr` since the first payload byte.
            m.d.comb += reg_w.en.eq(do["write"])
            for a, _, write in unit_regs:
                if write is not None:
                    with m.If(do[f"write_{a}"]):
                        write(args[8:])
            goto(_S.RESP_SYNC)
            if unit is not None:
                m.d.sync += r_recv.eq(do["recv"])
                m.d.comb += unit.reset.eq(do["reset"])
                with m.If(do["send"]):
                    m.d.sync += buf_addr.eq(0)
                    count_from(length)
                    goto(_S.COPY)

        if unit is not None:
            # SEND: the payload buffer into the input queue, one byte a cycle (CHECK made sure
            # it has room), then the queue levels once the last byte is counted.
            # Two cycles fill the payload buffer's read registers (buf_addr 0 and 1), then a
            # byte a cycle.
            with m.If(at(_S.COPY)):
                m.d.comb += [buf_ce.eq(1), unit.iq.w_data.eq(buf_data)]
                with m.If(buf_addr[1:] != 0):
                    m.d.comb += unit.iq.w_en.eq(1)
                    count_byte()
                    with m.If(last):
                        goto(_S.SEND_DONE)
            with m.If(at(_S.SEND_DONE)):
                reply(RESPONSE | Command.SEND, 4, word=unit.status)

        # The response, one byte a cycle into the transmit queue (waiting when it is full).
        # RESP_CMD and RESP_LEN0 each advance the payload buffer's read registers once (from
        # address 0, set here), so byte 0 is in buf_data when RESP_DATA starts.
        with m.If(at(_S.RESP_SYNC)):
            m.d.comb += [out.eq(SYNC), w_en.eq(1)]
            m.d.sync += buf_addr.eq(0)
            count_from(r_len)
            with m.If(wr):
                goto(_S.RESP_CMD)
        with m.If(at(_S.RESP_CMD)):
            m.d.comb += [out.eq(r_cmd), w_en.eq(1), tx_crc.start.eq(1),
                         tx_crc.valid.eq(wr), buf_ce.eq(wr)]
            with m.If(wr):
                goto(_S.RESP_LEN0)
        with m.If(at(_S.RESP_LEN0)):
            m.d.comb += [out.eq(r_len[:8]), w_en.eq(1), tx_crc.valid.eq(wr), buf_ce.eq(wr)]
            with m.If(wr):
                goto(_S.RESP_LEN1)
        with m.If(at(_S.RESP_LEN1)):
            m.d.comb += [out.eq(r_len[8:]), w_en.eq(1), tx_crc.valid.eq(wr)]
            with m.If(wr):
                if unit is not None:
                    m.d.sync += unit.byte.eq(0)
                goto(_S.RESP_DATA)
                with m.If(r_len == 0):
                    goto(_S.RESP_CRC0)
        with m.If(at(_S.RESP_DATA)):
            # The next byte moves into buf_data when this one is written.
            m.d.comb += [
                out.eq(Mux(r_buf, buf_data, r_word[:8])),
                w_en.eq(1),
                tx_crc.valid.eq(wr),
                buf_ce.eq(wr),
            ]
            if unit is not None:
                with m.If(r_recv):
                    m.d.comb += out.eq(unit.recv_byte(wr))
            with m.If(wr):
                m.d.sync += r_word.eq(r_word >> 8)
                count_byte()
                with m.If(last):
                    goto(_S.RESP_CRC0)
        with m.If(at(_S.RESP_CRC0)):
            m.d.comb += [out.eq(tx_crc.crc[8:]), w_en.eq(1)]
            with m.If(wr):
                goto(_S.RESP_CRC1)
        with m.If(at(_S.RESP_CRC1)):
            m.d.comb += [out.eq(tx_crc.crc[:8]), w_en.eq(1)]
            with m.If(wr):
                goto(_S.HUNT)
        return m

    def _unit_plumbing(self, m, wanted):
        """The unit, its queues, the word packing and the side-port registers; ``wanted`` is
        a RECV request's payload (the words it asks for)."""
        um = self.unit_map
        reset = Signal()  # RESET: the unit and both queues
        m.submodules.unit = ResetInserter(reset)(self.unit)
        inputs, outputs = unit_ports(self.unit)
        ports = dict(inputs + outputs)

        # Input: SEND's bytes queue up, little-endian words of in_bytes bytes go to `i`.
        iq = FlagFIFO(width=8, depth=um.in_queue)
        m.submodules.in_queue = ResetInserter(reset)(iq)
        word = Signal(8 * um.in_bytes)
        count = Signal(range(um.in_bytes + 1))
        full = count == um.in_bytes
        m.d.comb += [
            ports["i__payload"].eq(word[:um.in_width]),
            ports["i__valid"].eq(full),
            iq.r_en.eq(~full),
        ]
        with m.If(full & ports["i__ready"]):
            m.d.sync += count.eq(0)
        with m.If(~full & iq.r_rdy):
            m.d.sync += [word.eq(Cat(word[8:], iq.r_data)), count.eq(count + 1)]
        with m.If(reset):
            m.d.sync += count.eq(0)

        # Output: `o`'s words queue up; RECV writes them out a byte at a time.
        oq = FlagFIFO(width=um.out_width, depth=um.out_queue)
        m.submodules.out_queue = ResetInserter(reset)(oq)
        m.d.comb += [
            oq.w_data.eq(ports["o__payload"]),
            oq.w_en.eq(ports["o__valid"]),
            ports["o__ready"].eq(oq.w_rdy),
        ]
        byte = Signal(range(um.out_bytes))  # byte of the word being sent
        rest = Signal(8 * um.out_bytes)  # its bytes not yet sent

        def recv_byte(taken):
            first = byte == 0
            value = Mux(first, Cat(oq.r_data, Const(0, 8 * um.out_bytes - um.out_width))[:8],
                        rest[:8])
            with m.If(taken):
                m.d.comb += oq.r_en.eq(first)
                m.d.sync += [rest.eq(Mux(first, oq.r_data, rest) >> 8),
                             byte.eq(Mux(byte == um.out_bytes - 1, 0, byte + 1))]
            return value

        in_free = Signal(16)
        out_words = Signal(16)
        m.d.comb += [in_free.eq(um.in_queue - iq.w_level), out_words.eq(oq.r_level)]

        # RECV's byte count, min(wanted, out_words, recv_max) x out_bytes, from registers
        # updated every cycle, so that ACT only selects. `ready` and
        # `ready_bytes` lag the queue by one and two cycles; only RECV takes from it, so they
        # never count a word that is not there (a word that arrived in the last two cycles
        # waits for the next RECV). `wanted` (the request's first two payload bytes) has
        # settled two CRC bytes before CHECK, and `wanted_bytes` with it.
        ready = Signal(range(um.recv_max + 1))
        ready_bytes = Signal(range(um.recv_max * um.out_bytes + 1))
        wanted_bytes = Signal(len(wanted) + um.out_bytes.bit_length())
        m.d.sync += [
            ready.eq(Mux(out_words < um.recv_max, out_words, um.recv_max)),
            ready_bytes.eq(_times(ready, um.out_bytes)),
            wanted_bytes.eq(_times(wanted, um.out_bytes)),
        ]
        # The choice in a register too (three cycles behind the queue, still never ahead of
        # it): the compare in front of ACT's response length was the UP5K's critical path
        # with a unit, on the way from 32.2 to 40.7 MHz (bench/link-clocks).
        recv_bytes = Signal(max(len(ready_bytes), len(wanted_bytes)), name="recv_bytes")
        m.d.sync += recv_bytes.eq(Mux(wanted < ready, wanted_bytes, ready_bytes))

        # Registers: the signature, then each side port's 32-bit words.
        registers = [(UNIT_REG_BASE, Const(um.signature, 32), None)]
        for port in um.ports:
            value = ports[port.name]
            if port.output:
                for k in range(port.words):
                    registers.append((port.addr + k, value[32 * k:32 * k + 32], None))
            elif port.strobe:
                pulse = Signal(name=f"{port.name}_pulse")
                m.d.comb += value.eq(pulse)

                def write(v, pulse=pulse):
                    m.d.comb += pulse.eq(v[0])
                registers.append((port.addr, Const(0, 32), write))
            else:
                held = Signal(port.width, name=f"{port.name}_reg")
                m.d.comb += value.eq(held)
                for k in range(port.words):
                    part = held[32 * k:32 * k + 32]

                    def write(v, part=part):
                        m.d.sync += part.eq(v)
                    registers.append((port.addr + k, part, write))

        return _Plumbing(map=um, reset=reset, iq=iq, in_free=in_free,
                         phase=Signal(range(um.in_bytes)),
                         status=Cat(in_free, out_words), recv_bytes=recv_bytes,
                         recv_byte=recv_byte, byte=byte, registers=registers)


def _times(value, constant):
    """``value * constant`` as a sum of shifted copies (no multiplier block)."""
    terms = [value << k for k in range(constant.bit_length()) if constant >> k & 1]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


@dataclasses.dataclass
class _Plumbing:
    """What the frame FSM needs of the unit behind the link."""

    map: UnitMap
    reset: Signal
    iq: SyncFIFOBuffered
    in_free: Signal
    phase: Signal  # SEND's payload bytes so far, modulo in_bytes
    status: object
    recv_bytes: object  # RECV's response length
    recv_byte: object
    byte: Signal
    registers: list  # (address, read value, write(value) or None)
