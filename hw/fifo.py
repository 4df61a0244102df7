"""A first-word-fall-through queue whose ready flags are flip-flops.

:class:`FlagFIFO` behaves cycle for cycle like Amaranth's ``SyncFIFOBuffered`` (same ports,
same ``r_rdy``, ``w_rdy``, ``r_data`` and levels for the same inputs; ``tests/test_fifo.py``
runs both side by side), but the storage's "not empty" and "not full" are registers rather
than compares of its level. In ``SyncFIFOBuffered`` the level's ``!= 0`` compare stands in
front of the storage read and the output register's enable, with the reader's ``r_en``
after it; from the level register to ``r_rdy``'s enable was the host link's critical path
on the UP5K at one step of its way from 45.1 to 51.8 MHz (five LUT levels;
the two ends are in ``bench/unit-timing``).

Here each flag's next value is chosen by the two late signals (a write, a read of the
storage) among values computed from registers only: ``level != 1`` for "not empty" after a
read, ``level != depth - 1`` for "not full" after a write. The compares run beside the
handshake logic, not after it.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory

__all__ = ["FlagFIFO"]


class FlagFIFO(SyncFIFOBuffered):
    """``SyncFIFOBuffered`` with registered storage flags (see the module's docstring).

    Pipeline registers: the storage's read port and ``r_data`` (the output register, as in
    ``SyncFIFOBuffered``), and the storage's flags ``nonempty`` and ``notfull``.
    """

    def elaborate(self, platform):
        if self.depth < 2:  # nothing to gain: no storage, or a single register
            return super().elaborate(platform)
        m = Module()
        depth = self.depth - 1  # storage words; one more in the output register
        level = Signal(range(depth + 1))
        nonempty = Signal()
        notfull = Signal(init=1)
        do_write = Signal()
        do_read = Signal()  # from the storage into the output register
        m.d.comb += [
            self.w_rdy.eq(notfull),
            do_write.eq(self.w_en & notfull),
            do_read.eq(nonempty & (~self.r_rdy | self.r_en)),
            self.level.eq(level + self.r_rdy),
            self.w_level.eq(self.level),
            self.r_level.eq(self.level),
        ]

        storage = m.submodules.storage = Memory(shape=self.width, depth=depth, init=[])
        w_port = storage.write_port()
        r_port = storage.read_port(domain="sync")
        produce = Signal(range(depth))
        consume = Signal(range(depth))
        m.d.comb += [
            w_port.addr.eq(produce),
            w_port.data.eq(self.w_data),
            w_port.en.eq(do_write),
            r_port.addr.eq(consume),
            r_port.en.eq(do_read),
            self.r_data.eq(r_port.data),
        ]
        with m.If(do_write):
            m.d.sync += produce.eq(Mux(produce == depth - 1, 0, produce + 1))
        with m.If(do_read):
            m.d.sync += consume.eq(Mux(consume == depth - 1, 0, consume + 1))

        # Computed from registers, chosen by the handshakes.
        not_last = Signal()  # level != 1: a read leaves a word
        not_next_full = Signal()  # level != depth - 1: a write leaves room
        m.d.comb += [not_last.eq(level != 1), not_next_full.eq(level != depth - 1)]
        with m.If(do_write & ~do_read):
            m.d.sync += [level.eq(level + 1), nonempty.eq(1), notfull.eq(not_next_full)]
        with m.If(do_read & ~do_write):
            m.d.sync += [level.eq(level - 1), nonempty.eq(not_last), notfull.eq(1)]

        with m.If(do_read):
            m.d.sync += self.r_rdy.eq(1)
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        return m
