"""Board targets: which amaranth-boards platform, which pins, which synthesis options.

Each :class:`Board` names an amaranth-boards platform class and everything the synthesis
flow needs on top of it: the FPGA family, the four pins the scan harness uses, the bitstream
suffix, the place-and-route clock target, the Yosys cell names that count as LUTs, flip-flops,
carry cells, DSP blocks and block RAMs, and the device facts reports and estimates rest on (its
short label, how logic cells are counted, how long synthesis takes).
"""

from dataclasses import dataclass, field

from amaranth.build import Attrs, Clock, Connector, Pins, Resource, Subsignal
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.tang_nano_9k import TangNano9kPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from ..golden.checks import UsageError

__all__ = ["Board", "PLL", "ICE40PLL", "PLL_KINDS", "BOARDS", "DEFAULT_BOARD", "HARNESS_PINS",
           "CELL_CLASSES", "get_board"]

#: The four harness signals, in the order :attr:`Board.pins` lists their connector pins.
HARNESS_PINS = ("din", "shift", "capture", "dout")

#: Resource categories reported for a netlist, in report order.
CELL_CLASSES = ("lut", "ff", "carry", "dsp", "bram")


@dataclass(frozen=True)
class PLL:
    """An ECP5 EHXPLLL with feedback from CLKOP: ``out_hz = in_hz / clki_div * clkfb_div``,
    the VCO at ``out_hz * clkop_div`` (400..800 MHz), the phase detector at
    ``in_hz / clki_div`` (>= 3.125 MHz)."""

    in_hz: int
    clki_div: int
    clkfb_div: int
    clkop_div: int

    #: CLKOP's range (ECP5 family data sheet, sysCLOCK PLL timing).
    OUT_HZ = (3_125_000, 400_000_000)

    def __post_init__(self):
        pfd = self.in_hz / self.clki_div
        vco = self.out_hz * self.clkop_div
        if (pfd < 3.125e6 or not 400e6 <= vco <= 800e6
                or not self.OUT_HZ[0] <= self.out_hz <= self.OUT_HZ[1]):
            raise ValueError(f"PLL out of range: PFD {pfd / 1e6:g} MHz, VCO {vco / 1e6:g} MHz, "
                             f"output {self.out_hz / 1e6:g} MHz")

    @property
    def out_hz(self):
        return self.in_hz * self.clkfb_div // self.clki_div

    @classmethod
    def for_output(cls, in_hz, out_hz):
        """The EHXPLLL that makes exactly ``out_hz`` from ``in_hz`` (the smallest dividers;
        VCO nearest 600 MHz among them), or None."""
        if not cls.OUT_HZ[0] <= out_hz <= cls.OUT_HZ[1]:
            return None
        best = None
        for clki_div in range(1, 129):
            if in_hz / clki_div < 3.125e6:
                break
            clkfb_div, rem = divmod(out_hz * clki_div, in_hz)
            if rem or not 1 <= clkfb_div <= 80:
                continue
            for clkop_div in range(1, 129):
                if 400e6 <= out_hz * clkop_div <= 800e6:
                    key = (clki_div, abs(out_hz * clkop_div - 600e6))
                    if best is None or key < best[0]:
                        best = (key, cls(in_hz, clki_div, clkfb_div, clkop_div))
        return best and best[1]

    @property
    def summary(self):
        return (f"EHXPLLL {self.in_hz / 1e6:g} MHz / {self.clki_div} x {self.clkfb_div} = "
                f"{self.out_hz / 1e6:g} MHz (VCO {self.out_hz * self.clkop_div / 1e6:g} MHz)")


@dataclass(frozen=True)
class ICE40PLL:
    """An iCE40 SB_PLL40_PAD in simple feedback: ``out_hz = in_hz (divf + 1) / ((divr + 1)
    2**divq)``, the phase detector at ``in_hz / (divr + 1)`` (10..133 MHz), the VCO at
    ``out_hz 2**divq`` (533..1066 MHz), the loop filter's range from the phase detector's
    frequency (the iCE40 sysCLOCK PLL guide's table, as ``icepll`` picks it)."""

    in_hz: int
    divr: int
    divf: int
    divq: int

    #: PLLOUT's range (iCE40 sysCLOCK PLL design and usage guide; ``icepll`` checks the same).
    OUT_HZ = (16_000_000, 275_000_000)

    def __post_init__(self):
        pfd, vco = self.in_hz / (self.divr + 1), self.out_hz * 2 ** self.divq
        if not (0 <= self.divr <= 15 and 0 <= self.divf <= 127 and 1 <= self.divq <= 6
                and 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6
                and self.OUT_HZ[0] <= self.out_hz <= self.OUT_HZ[1]):
            raise ValueError(f"PLL out of range: PFD {pfd / 1e6:g} MHz, VCO {vco / 1e6:g} MHz, "
                             f"output {self.out_hz / 1e6:g} MHz")

    @property
    def out_hz(self):
        return self.in_hz * (self.divf + 1) // ((self.divr + 1) * 2 ** self.divq)

    @property
    def filter_range(self):
        pfd = self.in_hz / (self.divr + 1) / 1e6
        return next(r for r, top in enumerate((17, 26, 44, 66, 101), 1) if pfd < top) \
            if pfd < 101 else 6

    @classmethod
    def for_output(cls, in_hz, out_hz):
        """The SB_PLL40 that makes exactly ``out_hz`` from ``in_hz`` (the smallest ``divr``),
        or None."""
        if not cls.OUT_HZ[0] <= out_hz <= cls.OUT_HZ[1]:
            return None
        for divr in range(16):
            if not 10e6 <= in_hz / (divr + 1) <= 133e6:
                continue
            for divq in range(1, 7):
                num, rem = divmod(out_hz * (divr + 1) * 2 ** divq, in_hz)
                if rem or not 1 <= num <= 128 or not 533e6 <= out_hz * 2 ** divq <= 1066e6:
                    continue
                return cls(in_hz, divr, num - 1, divq)
        return None

    @property
    def summary(self):
        return (f"SB_PLL40_PAD {self.in_hz / 1e6:g} MHz x {self.divf + 1} / {self.divr + 1} / "
                f"{2 ** self.divq} = {self.out_hz / 1e6:g} MHz "
                f"(VCO {self.out_hz * 2 ** self.divq / 1e6:g} MHz)")


#: The PLL lowbit instantiates on each family (none yet on Gowin).
PLL_KINDS = {"ecp5": PLL, "ice40": ICE40PLL}


@dataclass(frozen=True)
class Board:
    """One board target.

    Parameters
    ----------
    name : str
        The name users type (``--board``).
    summary : str
        One line for ``lowbit list``.
    platform : type
        The amaranth-boards platform class.
    family : str
        ``"ice40"``, ``"ecp5"`` or ``"gowin"``; selects ``synth_<family>`` and
        ``nextpnr-<family>``.
    connector : tuple of (str, int)
        The connector that carries the harness pins.
    pins : tuple of str
        Connector pin names for ``din``, ``shift``, ``capture`` and ``dout``, in that order.
    io_attrs : dict
        I/O standard attributes for the harness pins.
    bitstream_ext : str
        Suffix of the bitstream the platform's build writes (``.bin``, ``.bit`` or ``.fs``).
    pnr_target_mhz : float
        Clock constraint given to nextpnr, set above what the board oscillator needs so the
        placer and router work for Fmax instead of stopping at the board clock.
    label : str
        Short name of the device in tables and plots (``UP5K``, ``ECP5-85F``).
    synth_opts : tuple of str
        Extra options for ``synth_<family>`` (``-dsp`` on iCE40: without it the UP5K's
        SB_MAC16 blocks go unused, TOOLCHAIN pitfall 8).
    cells : dict of str to tuple of str
        Yosys cell types (after ``synth_<family>``) counted in each of :data:`CELL_CLASSES`.
        A name ending in ``*`` is a prefix.
    pnr_cells : tuple of str
        nextpnr cell (bel) types the report always lists, used or not; the first is the cell
        that holds the logic (:attr:`logic_cell`).
    capacity : dict of str to int
        What the device has, by class of :data:`CELL_CLASSES` (LUTs, flip-flops, DSP blocks,
        block RAMs), for fitting units to the board.
    link_baud : int
        The host link's default baud rate: the fastest the link's clock divides to within 2%
        (at least 4 cycles a bit) that the board's USB-serial bridge makes.
    link_clock : float or None
        The clock (MHz) of a unit behind the host link, made by the board's PLL
        (:meth:`pll_for`) where the oscillator cannot divide to the baud rate; None: the
        oscillator.
    ff_cell_share : float
        Logic cells a flip-flop adds beyond the LUTs, on average (:meth:`logic_cells`); 0 where
        flip-flops do not share the cells that count against the LUT budget.
    carry_cell_share, lutram_cell_share : float
        Logic cells a carry cell and a LUT RAM unit (Yosys's counts, not in its LUT count)
        take, on average (:meth:`logic_cells`); 0 where they take none of their own.
    synth_time_factor : float
        How long synthesis and place and route take here, against the iCE40 UP5K (1.0): scales
        the bench's prior guesses of each step's time.
    """

    name: str
    summary: str
    platform: type
    family: str
    connector: tuple
    pins: tuple
    io_attrs: dict
    bitstream_ext: str
    pnr_target_mhz: float
    label: str
    synth_opts: tuple = ()
    cells: dict = field(default_factory=dict)
    pnr_cells: tuple = ()
    capacity: dict = field(default_factory=dict)
    link_baud: int = 115_200
    link_clock: float | None = None
    ff_cell_share: float = 0.0
    carry_cell_share: float = 0.0
    lutram_cell_share: float = 0.0
    synth_time_factor: float = 1.0

    @property
    def link_clock_mhz(self):
        """The board's clock for a unit behind the host link: :attr:`link_clock`, else the
        oscillator's (a unit's ``link_clocks`` entry overrides it:
        :func:`lowbit.boards.sizes.link_clock_mhz`)."""
        return self.link_clock or self.board_clock_mhz

    def clock_pll(self, clock_mhz):
        """What makes ``clock_mhz`` on this board: None for the oscillator's own frequency,
        else the board's PLL (:meth:`pll_for`; UsageError if it cannot)."""
        if round(clock_mhz * 1e6) == round(self.board_clock_mhz * 1e6):
            return None
        return self.pll_for(clock_mhz)

    def link_params(self, baud=None, clock_mhz=None, clock_from="--clock-mhz"):
        """The host link for this board: its clock (``clock_mhz``, default
        :attr:`link_clock_mhz`), ``baud`` (default :attr:`link_baud`). ``clock_from`` names
        where ``clock_mhz`` came from, for the error message."""
        from ..golden.link import LinkParams

        clk_hz = int(round((clock_mhz or self.link_clock_mhz) * 1e6))
        try:
            return LinkParams(clk_hz=clk_hz, baud=baud or self.link_baud)
        except ValueError as exc:
            what = f"--baud {baud or self.link_baud}" + (
                f" at {clock_from} {clock_mhz:g}" if clock_mhz else "")
            raise UsageError(f"{what} on {self.name}: {exc}") from None

    def pll_for(self, clock_mhz):
        """The board's PLL making ``clock_mhz`` from its oscillator (UsageError if the family
        has none in lowbit, or it cannot make that frequency exactly)."""
        kind = PLL_KINDS.get(self.family)
        if kind is None:
            raise UsageError(f"--clock-mhz: lowbit has no PLL for {self.name} ({self.family}); "
                             f"its designs run at the {self.link_clock_mhz:g} MHz oscillator")
        in_hz = int(round(self.board_clock_mhz * 1e6))
        out_hz = int(round(clock_mhz * 1e6))
        pll = kind.for_output(in_hz, out_hz) if out_hz == clock_mhz * 1e6 else None
        if pll is None:
            near = ", ".join(f"{f:g}" for f in self.pll_frequencies(clock_mhz))
            raise UsageError(f"--clock-mhz {clock_mhz:g}: the {self.name} PLL cannot make it "
                             f"exactly from {self.board_clock_mhz:g} MHz; nearby: {near} MHz")
        return pll

    def pll_frequencies(self, around_mhz, count=6):
        """Whole-MHz frequencies the board's PLL makes exactly, nearest ``around_mhz``."""
        kind = PLL_KINDS.get(self.family)
        if kind is None:
            return []
        in_hz = int(round(self.board_clock_mhz * 1e6))
        low, high = (-(-kind.OUT_HZ[0] // 1_000_000), kind.OUT_HZ[1] // 1_000_000)
        made = [f for f in range(low, high + 1) if kind.for_output(in_hz, f * 1_000_000)]
        return sorted(sorted(made, key=lambda f: abs(f - around_mhz))[:count])

    @property
    def device(self):
        """The FPGA part, as the platform names it (``iCE40UP5K``, ``LFE5U-85F``, ``GW1NR-9C``)."""
        # Amaranth's GowinPlatform has no ``device``: its ``family`` is the device as Gowin's
        # tools name it, its ``part`` the full part number with package and speed grade.
        device = getattr(self.platform, "device", None)
        return device if isinstance(device, str) else self.platform.family

    @property
    def package(self):
        """The package (``SG48``, ``CABGA381``, ``QN88P``)."""
        package = getattr(self.platform, "package", None)
        if isinstance(package, str):
            return package
        # GowinPlatform parses ``part`` into ``package`` only when it is instantiated.
        return self.platform().package

    @property
    def clock_resource(self):
        """Name of the platform's default clock resource (the board oscillator)."""
        return self.platform.default_clk

    @property
    def board_clock_mhz(self):
        """Frequency of the board oscillator that clocks the design, in MHz."""
        for res in self.platform.resources:
            if res.name == self.clock_resource and res.clock is not None:
                return res.clock.frequency / 1e6
        raise ValueError(f"board {self.name}: platform {self.platform.__name__} has no clock "
                         f"constraint on its default clock {self.clock_resource!r}")

    @property
    def logic_cell(self):
        """The nextpnr cell that holds the logic, whose utilization is the design's
        (``ICESTORM_LC``, ``TRELLIS_COMB``, ``LUT4``): the first of :attr:`pnr_cells`."""
        return self.pnr_cells[0] if self.pnr_cells else None

    def logic_cells(self, lut, ff, carry=0, lutram=0):
        """Logic cells (:attr:`logic_cell`) that ``lut`` LUTs, ``ff`` flip-flops, ``carry``
        carry cells and ``lutram`` LUT RAM units (Yosys's counts) take, what a LUT budget is
        checked against: the LUTs, plus the shares of the others (:attr:`ff_cell_share`,
        :attr:`carry_cell_share`, :attr:`lutram_cell_share`)."""
        return lut + int(round(self.ff_cell_share * ff + self.carry_cell_share * carry
                               + self.lutram_cell_share * lutram))

    @property
    def logic_name(self):
        """What :meth:`logic_cells` counts, in words: ``"logic cells"`` where anything but
        the LUTs takes them, else ``"LUTs"``."""
        return "logic cells" if (self.ff_cell_share or self.carry_cell_share
                                 or self.lutram_cell_share) else "LUTs"

    @property
    def synth_command(self):
        return f"synth_{self.family}"

    def harness_resource(self, name="scan", number=0):
        """The harness pins as one amaranth-boards resource with subsignals
        ``din``, ``shift``, ``capture`` (inputs) and ``dout`` (output)."""
        subsignals = [
            Subsignal(sig, Pins(pin, dir="o" if sig == "dout" else "i", conn=self.connector))
            for sig, pin in zip(HARNESS_PINS, self.pins, strict=True)
        ]
        return Resource(name, number, *subsignals, Attrs(**self.io_attrs))

    def make_platform(self, clock_mhz=None):
        """An instance of the board's platform, its oscillator constrained to ``clock_mhz``.

        The constraint only steers nextpnr (``set_frequency`` / ``FREQUENCY PORT``); the design
        still runs from the board oscillator. ``None`` keeps the board's own frequency.
        """
        if clock_mhz is None:
            return self.platform()
        resources = []
        for res in self.platform.resources:
            if res.name == self.clock_resource and res.clock is not None:
                res = Resource(res.name, res.number, *res.ios, Clock(clock_mhz * 1e6), res.attrs)
            resources.append(res)
        retimed = type(self.platform.__name__, (self.platform,), {"resources": resources})
        return retimed()


class TangNano9kHeaderPlatform(TangNano9kPlatform):
    """The Tang Nano 9K with four pins of its pin header as a connector (amaranth-boards 0.0.21
    defines none). The board labels its header pins with the FPGA's pin numbers, so the
    connector's pin names are those numbers too."""

    connectors = [Connector("header", 0, {pin: pin for pin in ("25", "26", "27", "28")})]


BOARDS = {
    "icebreaker": Board(
        name="icebreaker",
        summary="1BitSquared iCEBreaker, Lattice iCE40UP5K (5280 LCs, 8 DSPs), 12 MHz",
        platform=ICEBreakerPlatform,
        family="ice40",
        connector=("pmod", 0),                     # PMOD1A
        pins=("1", "2", "3", "4"),
        io_attrs={"IO_STANDARD": "SB_LVCMOS"},
        bitstream_ext=".bin",
        # The UP5K's SB_MAC16 path and LUT carry chains top out around 50-70 MHz.
        pnr_target_mhz=60.0,
        label="UP5K",
        synth_opts=("-dsp",),
        cells={
            "lut": ("SB_LUT4",),
            "ff": ("SB_DFF*",),
            "carry": ("SB_CARRY",),
            "dsp": ("SB_MAC16",),
            "bram": ("SB_RAM40_4K",),
        },
        pnr_cells=("ICESTORM_LC", "ICESTORM_DSP", "ICESTORM_RAM", "ICESTORM_SPRAM", "SB_IO"),
        capacity={"lut": 5280, "ff": 5280, "dsp": 8, "bram": 30},
        # 12 MHz / 4: the FT2232H makes 3 Mbaud exactly.
        link_baud=3_000_000,
        # An iCE40 logic cell holds a LUT4 and a flip-flop: nextpnr packs a flip-flop with the
        # LUT that drives it, the rest take a cell of their own. Measured on the UP5K for three
        # bit-serial arrays (2x64x3, 4x48x4, 2x48x8 with the scan harness): cells = LUT4 +
        # 0.59..0.63 x FF.
        ff_cell_share=0.62,
    ),
    "ulx3s-85f": Board(
        name="ulx3s-85f",
        summary="Radiona ULX3S, Lattice ECP5 LFE5U-85F (84k LUTs, 156 DSP multipliers), 25 MHz",
        platform=ULX3S_85F_Platform,
        family="ecp5",
        connector=("gpio", 0),
        pins=("0+", "0-", "1+", "1-"),
        io_attrs={"IO_TYPE": "LVCMOS33"},
        bitstream_ext=".bit",
        # Speed grade 6 fabric and MULT18X18D reach roughly 100-250 MHz.
        pnr_target_mhz=200.0,
        label="ECP5-85F",
        cells={
            "lut": ("LUT4",),
            "ff": ("TRELLIS_FF",),
            "carry": ("CCU2C",),
            "dsp": ("MULT18X18D",),
            "bram": ("DP16KD", "PDPW16KD"),
        },
        pnr_cells=("TRELLIS_COMB", "TRELLIS_FF", "MULT18X18D", "ALU54B", "DP16KD",
                   "TRELLIS_IO"),
        capacity={"lut": 83640, "ff": 83640, "dsp": 156, "bram": 208},
        # 3 Mbaud, the FT231X's fastest, is 4% off any divisor of 25 MHz; the PLL makes
        # 45 MHz (25 / 5 x 9, VCO 585 MHz), and 45 MHz / 15 is 3 Mbaud exactly.
        link_baud=3_000_000,
        link_clock=45,
        # nextpnr's TRELLIS_COMB (a LUT4 site) count: Yosys's LUT4s, 3 a CCU2C and 4.8 a
        # TRELLIS_DPR16X4. Fitted to the bit-serial engine's 42 place-and-route runs then in
        # bench/bitserial-fanout, -timing and -overlap (2 x 256 x 2 to 8 x 256 x 8; least
        # squares gives 3.07 and 4.26), every one within 2%; tests/test_costmodel.py checks
        # every recorded run;
        # Yosys's LUT4 count alone is 20% to 40% short (37,246 LUT4 against 61,304
        # TRELLIS_COMB at 8 x 256 x 8).
        carry_cell_share=3.0,
        lutram_cell_share=4.8,
        # A device 16 times the UP5K's, placed toward 200 MHz: the bench's earlier guesses per
        # board and unit put it at 1.5 to 3.7 times the UP5K's for the same unit.
        synth_time_factor=2.5,
    ),
    "tangnano9k": Board(
        name="tangnano9k",
        summary="Sipeed Tang Nano 9K, Gowin GW1NR-9 (8640 LUT4s, 20 18x18 multipliers), 27 MHz",
        platform=TangNano9kHeaderPlatform,
        family="gowin",
        connector=("header", 0),
        pins=("25", "26", "27", "28"),
        io_attrs={"IO_TYPE": "LVCMOS33"},
        bitstream_ext=".fs",
        # The default MAC places at about 185 MHz (nextpnr-himbaechel-gowin's timing, which leaves
        # out paths through MULT and BSRAM cells: see the report's notes).
        pnr_target_mhz=200.0,
        label="GW1NR-9C",
        cells={
            # MUX2_LUT5..8 combine LUT4 outputs into wider functions; they are not LUTs.
            "lut": ("LUT1", "LUT2", "LUT3", "LUT4"),
            "ff": ("DFF*",),
            "carry": ("ALU",),
            "dsp": ("MULT*",),
            "bram": ("SDPB", "SDPX9B", "DPB", "DPX9B", "SP", "SPX9", "pROM", "pROMX9"),
        },
        pnr_cells=("LUT4", "DFF", "ALU", "MULT18X18", "BSRAM", "IOB"),
        # DSP capacity in 18x18 multipliers; block RAMs are 18 kbit BSRAMs.
        capacity={"lut": 8640, "ff": 6480, "dsp": 20, "bram": 26},
        # 27 MHz / 9: 3 Mbaud exactly; the BL702 bridge runs 3 Mbaud cleanly (reported in
        # sipeed/TangNano-9K-example#7).
        link_baud=3_000_000,
    ),
}

DEFAULT_BOARD = "icebreaker"


def get_board(name):
    """The :class:`Board` called ``name``.

    Raises
    ------
    lowbit.golden.checks.UsageError
        When no board has that name; the message lists the boards there are.
    """
    try:
        return BOARDS[name]
    except (KeyError, TypeError):
        raise UsageError(f"unknown board {name!r}; choose one of: {', '.join(BOARDS)} "
                         f"(default: {DEFAULT_BOARD})") from None
