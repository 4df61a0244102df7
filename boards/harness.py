"""A scan harness that fits any unit onto four pins and a clock.

A bare unit rarely fits a package (a 16x16 MAC has 55 data ports; the UP5K SG48 has 39 user
pins; TOOLCHAIN pitfall 10), and pins left unconnected let Yosys delete the logic behind them.
The harness drives every input port of the unit from a serial-in shift register and captures
every output port into a register that shifts out serially, so

- all of the unit's logic is observable and stays in the netlist, and
- every timing path of the unit starts and ends at a flip-flop (register to register), which is
  what the post-route Fmax then measures.

::

    din ─▶ [in_width-bit shift register] ═▶ unit inputs      unit outputs ═▶ [capture/shift] ─▶ dout

:class:`LinkTop` puts a unit behind the host link on the board's UART instead, and
:func:`default_harness` chooses between the two (:data:`HARNESSES`) for a unit.
"""

from amaranth.hdl import Cat, ClockDomain, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from ..golden.checks import UsageError
from ..golden.unitmap import STREAM_PORTS
from ..hw.build import elaborate
from ..hw.keep import register_copies
from ..hw.link import HostLink, unit_map
from ..hw.ports import discard, port_list, unit_ports
from ..hw.units import get_unit
from .targets import HARNESS_PINS, ICE40PLL

__all__ = ["ScanHarness", "ScanTop", "LinkTop", "HARNESSES", "default_harness"]

#: Capture-register bits steered by one copy of the harness's capture and shift registers.
SCAN_SLICE = 256


class ScanHarness(wiring.Component):
    """Wrap ``unit`` so that it needs four single-bit ports and the ``sync`` clock domain.

    Parameters
    ----------
    unit : amaranth.lib.wiring.Component
        Any unit. Its clocked logic must be in the ``sync`` domain; the harness shares it.

    Members
    -------
    din : In(1)
        Serial data for the input shift register.
    shift : In(1)
        While high, both registers shift by one bit per cycle: ``din`` enters the input
        register at the top, and the capture register moves one bit toward ``dout``.
    capture : In(1)
        Load the capture register from the unit's outputs (takes precedence over ``shift``).
    dout : Out(1)
        Bit 0 of the capture register.

    Notes
    -----
    The input register holds the unit's input ports in signature order from bit 0; shift the
    word in bit 0 first (after :attr:`in_width` shifts the first bit is in bit 0). The capture
    register holds the output ports in signature order from bit 0 and shifts out bit 0 first.
    The three input pins are registered once on entry, so pin delays never join the unit's
    paths and every pin acts one cycle after it is sampled. The unit's inputs follow the input
    register a cycle later, through a register stage of their own.

    Latency and throughput
    ----------------------
    Loading all inputs takes :attr:`in_width` shifting cycles, reading all outputs one capture
    and :attr:`out_width` - 1 shifting cycles. The harness is for synthesis, not throughput.
    """

    din: In(1)
    shift: In(1)
    capture: In(1)
    dout: Out(1)

    def __init__(self, unit):
        if not isinstance(unit, wiring.Component):
            raise TypeError(f"unit must be an amaranth.lib.wiring.Component, not {unit!r}")
        self.unit = unit
        self._inputs, self._outputs = unit_ports(unit)
        if not self._outputs:
            raise ValueError(f"unit {type(unit).__name__} has no output ports; a harness could "
                             f"not observe it and synthesis would remove all of its logic")
        super().__init__()

    @property
    def inputs(self):
        """``(name, width)`` of each unit input port, in register order."""
        return [(name, len(v)) for name, v in self._inputs]

    @property
    def outputs(self):
        """``(name, width)`` of each unit output port, in register order."""
        return [(name, len(v)) for name, v in self._outputs]

    @property
    def in_width(self):
        return sum(w for _, w in self.inputs)

    @property
    def out_width(self):
        return sum(w for _, w in self.outputs)

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = self.unit

        din_q = Signal()
        shift_q = Signal()
        m.d.sync += [din_q.eq(self.din), shift_q.eq(self.shift)]

        if self.in_width:
            scan_in = Signal(self.in_width)
            with m.If(shift_q):
                m.d.sync += scan_in.eq(Cat(scan_in[1:], din_q))
            # The unit's inputs through a register stage of their own (`unit_in`), which the
            # placer puts beside the unit's logic: straight from the shift register, wherever
            # it lies, a long wire joined the unit's input paths. At 8 x 256 x 8 on the
            # ECP5-85F the bit-serial engine's critical path was the scan bit of `i.valid`
            # through the unit's accept, 44 rows across the die, to the loader's word counters
            # (8.31 ns, 6.20 of it routing, 3.88 on the one wire from the scan register;
            # bench/bitserial-fanout), a limit of the harness rather than of the unit.
            unit_in = Signal(self.in_width, reset_less=True)
            m.d.sync += unit_in.eq(scan_in)
            offset = 0
            for _, value in self._inputs:
                m.d.comb += value.eq(unit_in[offset:offset + len(value)])
                offset += len(value)

        # The capture register in slices of SCAN_SLICE bits, each steered by its own kept
        # copy of the registered capture and shift pins: one shift register reaching the
        # enables of all 1668 capture bits across the die was the critical path of the
        # 8 x 256 x 8 bit-serial engine on the ECP5-85F (8.68 ns, 7.92 of it routing,
        # bench/bitserial-fanout), a limit of the harness rather than of the unit.
        scan_out = Signal(self.out_width)
        captured = Cat(*(value for _, value in self._outputs))
        shifted = Cat(scan_out[1:], Const(0, 1))
        slices = range(0, self.out_width, SCAN_SLICE)
        controls = register_copies(m, "scan_ctl", Cat(self.capture, self.shift), len(slices))
        for lo, ctl in zip(slices, controls):
            hi = min(lo + SCAN_SLICE, self.out_width)
            with m.If(ctl[0]):
                m.d.sync += scan_out[lo:hi].eq(captured[lo:hi])
            with m.Elif(ctl[1]):
                m.d.sync += scan_out[lo:hi].eq(shifted[lo:hi])
        m.d.comb += self.dout.eq(scan_out[0])
        return m


class ScanTop(Elaboratable):
    """Top level for a board: a :class:`ScanHarness` on the platform resource ``resource``.

    The resource must have the subsignals ``din``, ``shift``, ``capture`` (inputs) and ``dout``
    (output), as :meth:`lowbit.boards.targets.Board.harness_resource` makes. The ``sync`` domain
    is the platform's default clock.
    """

    def __init__(self, harness, resource=("scan", 0)):
        self.harness = harness
        self.resource = resource

    def elaborate(self, platform):
        m = Module()
        m.submodules.harness = h = self.harness
        pins = platform.request(*self.resource, dir="-")
        for name in ("din", "shift", "capture"):
            m.submodules[f"{name}_buf"] = buf = io.Buffer("i", getattr(pins, name))
            m.d.comb += getattr(h, name).eq(buf.i)
        m.submodules.dout_buf = buf = io.Buffer("o", pins.dout)
        m.d.comb += buf.o.eq(h.dout)
        return m


class LinkTop(Elaboratable):
    """Top level for a board: a unit behind the host link (:class:`lowbit.hw.link.HostLink`
    with ``unit``) on the board's USB-serial UART (the platform resource ``uart`` 0: on the
    iCEBreaker the FT2232H's channel B, on the ULX3S the FT231X). The ``sync`` domain is the
    platform's default clock, or with ``pll`` (a :class:`~lowbit.boards.targets.PLL`, ECP5
    EHXPLLL, or an :class:`~lowbit.boards.targets.ICE40PLL`, SB_PLL40_PAD) the PLL's
    output, held in reset until the PLL locks; the link's ``clk_hz`` must match it."""

    def __init__(self, link, resource=("uart", 0), pll=None):
        self.harness = link  # named "harness" in the netlist, like ScanTop's
        self.resource = resource
        self.pll = pll

    def _ecp5_pll(self, m, platform):
        pll = self.pll
        clk_in = platform.request(platform.default_clk, dir="-")
        m.submodules.clk_in_buf = clk_buf = io.Buffer("i", clk_in)
        clk_out = Signal()
        locked = Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{pll.in_hz / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{pll.out_hz / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=pll.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=pll.clkop_div,
            p_CLKOP_CPHASE=(pll.clkop_div - 1) // 2, p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=pll.clkfb_div,
            i_RST=0, i_STDBY=0, i_CLKI=clk_buf.i, o_CLKOP=clk_out, i_CLKFB=clk_out,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        m.domains.sync = sync = ClockDomain("sync")
        m.d.comb += sync.clk.eq(clk_out)
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")

    def _ice40_pll(self, m, platform):
        """SB_PLL40_PAD straight from the oscillator's pin (on the iCEBreaker, pin 35 is the
        PLL's input pad). The design stays in reset until the PLL locks and then for 15 us
        more: iCE40 block RAMs read as zeroes for about 3 us after configuration (Amaranth's
        own iCE40 clock domain waits likewise)."""
        pll = self.pll
        clk_in = platform.request(platform.default_clk, dir="-")
        clk_out = Signal()
        locked = Signal()
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE", p_DIVR=pll.divr, p_DIVF=pll.divf, p_DIVQ=pll.divq,
            p_FILTER_RANGE=pll.filter_range,
            io_PACKAGEPIN=clk_in.io, i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=clk_out, o_LOCK=locked)
        m.domains.por = por = ClockDomain("por", reset_less=True, local=True)
        m.d.comb += por.clk.eq(clk_out)
        wait = int(15e-6 * pll.out_hz)
        count = Signal(range(wait + 1))
        with m.If(~locked):
            m.d.por += count.eq(0)
        with m.Elif(count != wait):
            m.d.por += count.eq(count + 1)
        m.domains.sync = sync = ClockDomain("sync")
        m.d.comb += sync.clk.eq(clk_out)
        m.submodules.reset_sync = ResetSynchronizer(~locked | (count != wait), domain="sync")

    def elaborate(self, platform):
        m = Module()
        if isinstance(self.pll, ICE40PLL):
            self._ice40_pll(m, platform)
        elif self.pll is not None:
            self._ecp5_pll(m, platform)
        m.submodules.harness = link = self.harness
        pins = platform.request(*self.resource, dir="-")
        m.submodules.rx_buf = rx = io.Buffer("i", pins.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", pins.tx)
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx)]
        return m


#: How a unit goes onto a board (:func:`lowbit.boards.flow.synth`).
HARNESSES = ("scan", "link")


def default_harness(unit_name, params):
    """``"link"`` for a unit with an input stream ``i`` and an output stream ``o`` (it can sit
    behind the host link), else ``"scan"``."""
    component = elaborate(get_unit(unit_name), params)
    discard(component)
    names = {name for name, _, _ in port_list(component)}
    return "link" if set(STREAM_PORTS) <= names else "scan"


def _link_map(unit, params, link):
    """The unit map of ``unit`` behind ``link``, without building anything (UsageError when
    the unit cannot sit behind the link)."""
    component = elaborate(unit, params)
    discard(component)
    try:
        return unit_map(component, unit.name, link)
    except ValueError as exc:
        raise UsageError(f"{exc}; use --harness scan") from None


def _hosted(unit, params, link):
    _link_map(unit, params, link)
    return HostLink(link, unit=elaborate(unit, params), unit_name=unit.name)


def _harnessed(unit, params, board, harness, link):
    """``(top, platform resources to add, harness description, unit map or None)``."""
    if harness == "scan":
        scan = ScanHarness(elaborate(unit, params))
        pins = {sig: f"{board.connector[0]}_{board.connector[1]}:{pin}"
                for sig, pin in zip(HARNESS_PINS, board.pins, strict=True)}
        info = {"kind": "scan", "in_width": scan.in_width, "out_width": scan.out_width,
                "inputs": dict(scan.inputs), "outputs": dict(scan.outputs), "pins": pins}
        return ScanTop(scan, ("scan", 0)), [board.harness_resource("scan", 0)], info, None
    hosted = _hosted(unit, params, link)
    um = hosted.unit_map
    info = {"kind": "link", "baud": link.baud, "clk_hz": link.clk_hz,
            "actual_baud": round(link.uart.actual_baud), "in_bytes": um.in_bytes,
            "out_bytes": um.out_bytes, "registers": {p.name: p.addr for p in um.ports},
            "signature": f"0x{um.signature:08x}", "pins": {"rx": "uart_0:rx", "tx": "uart_0:tx"}}
    pll = board.clock_pll(link.clk_hz / 1e6)
    if pll is not None:
        info["pll_mhz"] = pll.out_hz / 1e6
        info["pll"] = pll.summary
    return LinkTop(hosted, pll=pll), [], info, um
