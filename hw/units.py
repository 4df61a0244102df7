"""The unit registry: each unit defined once, for every layer above the hardware.

Adding a unit: its golden model, parameters and adapter (``golden/``), its component
(``hw/``), one :class:`Unit` entry here, and its tests (docs/adding-a-unit.md).
"""

import dataclasses
from dataclasses import dataclass

from ..golden import LFSRParams, MACParams
from ..golden.binary import (
    BMVUParams,
    PopcountParams,
    XnorParams,
    bmvu_compare,
    bmvu_job,
    popcount_compare,
    popcount_job,
    xnor_compare,
    xnor_job,
)
from ..golden.bitserial import (
    BitSerialParams,
    DPUParams,
    P2SParams,
    bitserial_compare,
    bitserial_job,
    bitserial_shape_params,
    dpu_compare,
    dpu_job,
    dpu_shape_params,
    p2s_compare,
    p2s_job,
    p2s_shape_params,
)
from ..golden.bnnchip import BNNChipParams, bnn_chip_compare, bnn_chip_job
from ..golden.checks import UsageError
from ..golden.gemm import SystolicParams, systolic_compare, systolic_job
from ..golden.job import UserData
from ..golden.mac import mac_compare, mac_job
from ..golden.winograd import (
    Conv2dParams,
    Direct3x3Params,
    Winograd1DParams,
    Winograd2DParams,
    conv2d_compare,
    conv2d_job,
    conv2d_shape_params,
    tiles_compare,
    tiles_job,
)
from .bitserial import P2S, DotProductUnit
from .bmvu import BinaryMVU
from .bnnchip import BNNChip
from .conv2d import Conv2dLayer
from .lfsr import LFSR
from .link import HostLink, LinkParams
from .mac import FixedPointMAC
from .matmul import BitSerialMatmul
from .popcount import Popcount, XnorPopcount
from .systolic import SystolicArray
from .winograd import DirectConv3x3, WinogradF23, WinogradF23x23

__all__ = ["Unit", "UNITS", "get_unit", "Hosted", "hosted_unit", "hosted"]


@dataclass(frozen=True)
class Unit:
    """One unit, defined once: everything the generator, the simulator, ``compare``, the host
    driver, ``list``, ``bench`` and the tests take from the registry.

    Parameters
    ----------
    name : str
        The unit's name on the command line.
    summary : str
        One line for ``lowbit list``.
    params_cls : type
        Its parameter object (a frozen dataclass of :mod:`lowbit.golden` that validates
        itself).
    component : callable
        ``component(params)`` -> the Amaranth component.
    top : str
        The Verilog top module's name.
    marker : str
        The pytest marker of its tests (``lowbit test UNIT``).
    adapter : callable, optional
        ``adapter(params, *data, **options)`` -> :class:`~lowbit.golden.job.Job`: user data
        (numpy) to the unit's beats, memory loads and side ports, and its outputs back. Every
        unit with streams ``i`` and ``o`` has one; call it through :meth:`job`.
    compare : UserData, optional
        How ``lowbit compare`` reads the unit's data from files
        (:class:`~lowbit.golden.job.UserData`); every unit with an adapter has one.
    sizes : dict
        ``{board: {parameter: value}}``: the unit's size on each board, leaving room for the
        host link (:mod:`lowbit.boards.sizes`); a board or parameter not listed takes the
        default.
    no_dsp : tuple of str
        Boards whose DSP blocks are too few for the unit's multiplies: there they go into
        LUTs.
    synth_seconds : tuple of float
        A guess of one synthesis with place and route on the UP5K, with DSPs and with
        multiplies in LUTs (the progress line of ``lowbit bench``; boards scale it).
    link_clocks : dict
        ``{board: MHz}``: the clock the unit runs at behind the host link, made by the
        board's PLL, where the unit with the link closes timing above the board's own link
        clock (``lowbit synth --clock-mhz`` overrides it).
    """

    name: str
    summary: str
    params_cls: type
    component: type
    top: str
    marker: str
    adapter: object = None
    compare: UserData | None = None
    sizes: dict = dataclasses.field(default_factory=dict)
    no_dsp: tuple = ()
    synth_seconds: tuple = (8, 60)
    link_clocks: dict = dataclasses.field(default_factory=dict)

    def job(self, params, *data, **options):
        """This unit's :class:`~lowbit.golden.job.Job` for ``data`` (its adapter's
        arguments)."""
        if self.adapter is None:
            raise ValueError(f"unit {self.name} has no streams to run data through")
        return dataclasses.replace(self.adapter(params, *data, **options), unit=self.name)

    def fields(self):
        return dataclasses.fields(self.params_cls)

    def defaults(self):
        return self.params_cls()


#: Tile engines share their compare front-end.
_TILES = UserData(tiles_compare, ("filt",))
#: The bit-serial engine as ``lowbit fit bitserial`` sized it with room for the link (UP5K,
#: double-buffered: 4448 of 5280 logic cells, 27 of 30 block RAMs, 23.4 MHz with the link at
#: first, bench/bitserial-overlap/synth-report-icebreaker-link.txt; with the control copies,
#: the output skid and the link's registered checks, 4827 cells and 40.7 MHz at the 36 MHz
#: PLL clock, bench/link-clocks).
#: On boards the operands come as bit planes (operands=planes): packed at the run's precision
#: on the link (a 1-bit A costs an eighth of its 8-bit words: bench/bnn), and no converter.
_BITSERIAL_SMALL = dict(dm=2, dn=2, dk=32, max_m=8, max_n=8, max_k=128, operands="planes")
#: On the ECP5-85F, the packed popcount (fewer LUT4, more of its carry chains) and a copy of
#: each broadcast register for every two DPUs (a memory an operand bank): the options of the
#: fastest routed 8 x 256 x 8 (every routed one had packed and broadcast copies), and with
#: which the board's 'lowbit fit' choice routes. With the board's earlier options
#: (popcount=tree, no copies) its fits did not finish routing with router1 or router2
#: (bench/bitserial-fanout, fit-ulx3s-85f-router1-attempt.json, -router2-attempt.json,
#: -budget70-attempt.json).
_BITSERIAL_ECP5 = dict(dm=4, dn=4, dk=64, max_m=32, max_n=32, max_k=512, operands="planes",
                       popcount="packed", bcast_fanout=2)
_BMVU_SMALL = dict(rows=16, cols=64, pe=4, simd=16)
#: The MAC at every register stage with the accumulator's and rounding adders' carry chains cut
#: every 12 bits (latency 11): UP5K 63.9 MHz against 38.3; ECP5-85F 204.2 against 138.2, with
#: the multiplier's input and output registers in the MULT18X18D (bench/unit-timing).
_MAC_FAST = {"icebreaker": dict(pipeline=4, carry_chain=12),
             "ulx3s-85f": dict(pipeline=4, carry_chain=12)}

UNITS = {u.name: u for u in [
    Unit("mac", "fixed-point multiply-accumulate with stochastic rounding (Gupta 2015)",
         MACParams, FixedPointMAC, "lowbit_mac", "mac", mac_job,
         UserData(mac_compare, ("terms", "quantize")), sizes=_MAC_FAST),
    Unit("lfsr", "leap-forward maximal-length LFSR (XAPP052 taps)",
         LFSRParams, LFSR, "lowbit_lfsr", "lfsr"),
    Unit("popcount", "pipelined popcount of any width (compressor tree)",
         PopcountParams, Popcount, "lowbit_popcount", "binary", popcount_job,
         UserData(popcount_compare)),
    Unit("xnor", "XNOR-popcount binary dot product over N-bit chunks (BinaryNet)",
         XnorParams, XnorPopcount, "lowbit_xnor", "binary", xnor_job, UserData(xnor_compare)),
    Unit("bmvu", "binary matrix-vector-threshold unit, PE x SIMD (FINN MVTU)",
         BMVUParams, BinaryMVU, "lowbit_bmvu", "binary", bmvu_job,
         UserData(bmvu_compare, ("weights", "thresholds", "invert")),
         sizes={"icebreaker": _BMVU_SMALL, "tangnano9k": _BMVU_SMALL,
                "ulx3s-85f": dict(rows=64, cols=256, pe=8, simd=32, spacing=1)},
         synth_seconds=(11, 60)),
    # The digits network's sizes (64-256-10) by default; a trained network with -p
    # network=FILE.npz (lowbit experiment bnn writes one).
    Unit("bnn", "binarized network on chip: bmvu layers, weights resident, class out (FINN "
         "dataflow)", BNNChipParams, BNNChip, "lowbit_bnn", "binary", bnn_chip_job,
         UserData(bnn_chip_compare), synth_seconds=(20, 60)),
    # On the ECP5 the tile engines and the conv layer take every register stage they have
    # (bench/unit-timing: winograd1d 101.5 -> 210.7 MHz at pipeline 4, winograd2d 101.9 ->
    # 172.8 at 5, direct3x3 87.2 -> 198.3 at 6, conv2d 88.9 -> 157.9 at 5), and so do the
    # engines on the UP5K (scan harness: winograd1d 45.8 -> 64.8 MHz, winograd2d 30.2 ->
    # 43.4, direct3x3 22.9 -> 59.7).
    Unit("winograd1d", "Winograd F(2,3) 1-D engine, 4 multiplies a channel",
         Winograd1DParams, WinogradF23, "lowbit_winograd1d", "winograd", tiles_job, _TILES,
         sizes={"icebreaker": dict(pipeline=4), "ulx3s-85f": dict(pipeline=4)}),
    # 16 multiplies, 8 SB_MAC16 on the UP5K: in LUTs there, at 4 x 3 bits, each split in two
    # stages (pipeline 6: 43.4 -> 60.9 MHz, 2631 -> 2311 LUT4 alone, bench/unit-timing).
    Unit("winograd2d", "Winograd F(2x2,3x3) tile engine, 16 multiplies a channel",
         Winograd2DParams, WinogradF23x23, "lowbit_winograd2d", "winograd", tiles_job, _TILES,
         sizes={"icebreaker": dict(data_width=4, weight_width=3, pipeline=6),
                "ulx3s-85f": dict(pipeline=5)}, no_dsp=("icebreaker",),
         synth_seconds=(20, 90)),
    # 36 multiplies: in LUTs on the UP5K (1546 LUT4 alone at 4 x 3 bits) and on the GW1NR-9's
    # 20 multiplier blocks (5457 LUT4 alone at 4 bits).
    Unit("direct3x3", "direct 3x3 tile engine, 36 multiplies a channel (baseline)",
         Direct3x3Params, DirectConv3x3, "lowbit_direct3x3", "winograd", tiles_job, _TILES,
         sizes={"icebreaker": dict(data_width=4, weight_width=3, pipeline=6),
                "tangnano9k": dict(data_width=4, weight_width=4),
                "ulx3s-85f": dict(pipeline=6)},
         no_dsp=("icebreaker", "tangnano9k"), synth_seconds=(20, 90)),
    # UP5K: multiplies in LUTs; 8-bit data needs 7000+ cells. 4-bit data and 3-bit weights
    # with every register stage (pipeline 6): 53.1 MHz alone (27.5 at the default 1), and
    # 5214 of 5280 logic cells with the link (bench/unit-timing, bench/link-clocks).
    Unit("conv2d", "streaming 3x3xC -> K convolution layer: line buffers + Winograd tiles",
         Conv2dParams, Conv2dLayer, "lowbit_conv2d", "winograd", conv2d_job,
         UserData(conv2d_compare, ("filt", "bias"), conv2d_shape_params),
         sizes={"icebreaker": dict(data_width=4, weight_width=3, height=16, width=16,
                                   channels=1, pipeline=6),
                "tangnano9k": dict(height=32, width=32, channels=1),
                "ulx3s-85f": dict(height=64, width=64, channels=3, pipeline=5)},
         no_dsp=("icebreaker",), synth_seconds=(32, 60)),
    Unit("dpu", "bit-serial dot product: AND, popcount, shift/negate accumulate (BISMO DPU)",
         DPUParams, DotProductUnit, "lowbit_dpu", "bitserial", dpu_job,
         UserData(dpu_compare, ("shift", "negate", "beats_per_sum"), dpu_shape_params)),
    Unit("p2s", "parallel-to-serial converter: words of E elements to bit planes, LSB first",
         P2SParams, P2S, "lowbit_p2s", "bitserial", p2s_job,
         UserData(p2s_compare, ("w",), p2s_shape_params)),
    Unit("bitserial", "bit-serial matrix engine, run-time precision (BISMO): P2S, "
         "Dm x Dn DPUs, C out", BitSerialParams, BitSerialMatmul, "lowbit_bitserial",
         "bitserial", bitserial_job,
         UserData(bitserial_compare, ("rhs", "wa", "wb", "a_signed", "b_signed"),
                  bitserial_shape_params),
         sizes={"icebreaker": _BITSERIAL_SMALL, "tangnano9k": _BITSERIAL_SMALL,
                "ulx3s-85f": _BITSERIAL_ECP5},
         # Behind the link, from the board's PLL: the UP5K design places at 40.7 MHz (36 MHz
         # = 3 Mbaud x 12; 12 MHz oscillator), the ECP5-85F's at 92.7 with the packed
         # popcount and broadcast copies (8d8090a, one seed, its critical path in the link
         # harness; 106.75 at aba9e4e) (90 MHz = 3 Mbaud x 30; its link clock is otherwise
         # 45): bench/link-clocks.
         link_clocks={"icebreaker": 36, "ulx3s-85f": 90}),
    # 16-bit MACs, a DSP multiplier each: 2 x 2 of the UP5K's 8 SB_MAC16 (room for the link);
    # 8 x 8 of the ECP5-85F's 156 MULT18X18D (12 x 12 is the most that has one each:
    # bench/unit-timing). Gupta et al.'s prototype: 28 x 28 on a Kintex-7.
    Unit("systolic", "R x C systolic array of fixed-point MACs, stochastic rounding per PE "
         "(Gupta 2015)", SystolicParams, SystolicArray, "lowbit_systolic", "mac",
         systolic_job, UserData(systolic_compare, ("rhs",)),
         sizes={"icebreaker": dict(rows=2, cols=2, **_MAC_FAST["icebreaker"]),
                "tangnano9k": dict(rows=2, cols=2),
                "ulx3s-85f": dict(rows=8, cols=8, **_MAC_FAST["ulx3s-85f"])},
         synth_seconds=(30, 120)),
    Unit("link", "host link: 8N1 UART, framed commands with CRC-16, error frames",
         LinkParams, HostLink, "lowbit_link", "link"),
]}


@dataclass(frozen=True)
class Hosted:
    """A unit behind the host link: the unit's name and parameters, and the link's."""

    unit: str
    params: object
    link: LinkParams = LinkParams()


def _hosted_component(hosted):
    inner = get_unit(hosted.unit)
    return HostLink(hosted.link, unit=inner.component(hosted.params), unit_name=inner.name)


def hosted_unit(name):
    """The :class:`Unit` that builds unit ``name`` behind the host link (top
    ``lowbit_<name>_link``, ports ``rx`` and ``tx``); its parameters are a :class:`Hosted`."""
    inner = get_unit(name)
    return Unit(f"{inner.name}+link", f"{inner.name} behind the host link", Hosted,
                _hosted_component, f"lowbit_{inner.name}_link", "link")


def hosted(name, params=None, link=None):
    """``(unit, parameters)`` for unit ``name`` behind the link, for :func:`generated`."""
    inner = get_unit(name)
    return hosted_unit(name), Hosted(inner.name, params if params is not None
                                     else inner.defaults(), link or LinkParams())


def get_unit(name):
    try:
        return UNITS[name]
    except KeyError:
        raise UsageError(f"unknown unit {name!r}; choose one of: {', '.join(UNITS)}") from None
