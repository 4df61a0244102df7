"""Memories read the way block RAMs want to be read: the read port's register, then a read-data
register, both in the design.

A memory whose stages never use what a read returns when it meets a write to its address in
the same cycle is built with :data:`NO_RW_CHECK` (``no_rw_check``) and read through
:func:`registered_read`:

- The read port is asynchronous in the RTL, followed by a register. Yosys merges that register
  into the port (``memory_dff``), and in doing so honours ``no_rw_check``: the port returns
  a don't-care value on a read-write collision, so no bypass logic sits between the RAM and
  what follows. (A port that is synchronous in Amaranth's RTLIL already carries "old data on
  collision" and Yosys 0.70 builds that with flip-flops and a multiplexer after the RAM,
  whatever the attribute says.)
- The read-data register after the port takes the block RAM's clock-to-data (5.5 ns on ECP5
  without the RAM's output register) off the next path. On ECP5 the synthesis flow then moves
  it into the DP16KD's own output register (:mod:`lowbit.boards.outreg`).

The behaviour of the RTL is a non-transparent synchronous read (old data on a collision, which
the users of :data:`NO_RW_CHECK` never use) with one more register: data at
:data:`READ_LATENCY` cycles after the address.
"""

from amaranth.hdl import Signal

__all__ = ["NO_RW_CHECK", "BLOCK_RAM", "READ_LATENCY", "registered_read"]

#: Attributes for a memory whose stages never read and write one address in one cycle.
NO_RW_CHECK = {"no_rw_check": 1}
#: The same, and built from block RAM whatever its depth (``ram_style``; Yosys's
#: memory_libmap then takes only the family's block RAMs as candidates).
BLOCK_RAM = {**NO_RW_CHECK, "ram_style": "block"}

#: Registers from a read address to :func:`registered_read`'s data.
READ_LATENCY = 2


def registered_read(m, mem, addr, ce=None, *, name):
    """Read ``mem`` at ``addr``; the data comes :data:`READ_LATENCY` cycles later, after the
    read port's register and a read-data register, both advancing when ``ce`` is high (always
    when None). Returns the data signal."""
    port = mem.read_port(domain="comb")
    m.d.comb += port.addr.eq(addr)
    stage = port.data
    for k in range(READ_LATENCY):
        reg = Signal.like(port.data, name=f"{name}_{'port' if k == 0 else 'data'}",
                          reset_less=True)
        if ce is None:
            m.d.sync += reg.eq(stage)
        else:
            with m.If(ce):
                m.d.sync += reg.eq(stage)
        stage = reg
    return stage
