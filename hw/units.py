"""The unit registry: one entry per generated unit, tying its parameter object to hardware."""

import dataclasses
from dataclasses import dataclass

from ..golden import LFSRParams, MACParams
from ..golden.binary import BMVUParams, PopcountParams, XnorParams
from ..golden.bitserial import BitSerialParams, DPUParams, P2SParams
from ..golden.checks import UsageError
from ..golden.winograd import Conv2dParams, Direct3x3Params, Winograd1DParams, Winograd2DParams
from .bitserial import P2S, DotProductUnit
from .bmvu import BinaryMVU
from .conv2d import Conv2dLayer
from .lfsr import LFSR
from .link import HostLink, LinkParams
from .mac import FixedPointMAC
from .matmul import BitSerialMatmul
from .popcount import Popcount, XnorPopcount
from .winograd import DirectConv3x3, WinogradF23, WinogradF23x23

__all__ = ["Unit", "UNITS", "get_unit", "Hosted", "hosted_unit", "hosted"]


@dataclass(frozen=True)
class Unit:
    name: str
    summary: str
    params_cls: type
    component: type
    top: str
    marker: str  # the pytest marker of the unit's tests (``lowbit test UNIT``)

    def fields(self):
        return dataclasses.fields(self.params_cls)

    def defaults(self):
        return self.params_cls()


UNITS = {
    "mac": Unit("mac", "fixed-point multiply-accumulate with stochastic rounding (Gupta 2015)",
                MACParams, FixedPointMAC, "lowbit_mac", "mac"),
    "lfsr": Unit("lfsr", "leap-forward maximal-length LFSR (XAPP052 taps)",
                 LFSRParams, LFSR, "lowbit_lfsr", "lfsr"),
    "popcount": Unit("popcount", "pipelined popcount of any width (compressor tree)",
                     PopcountParams, Popcount, "lowbit_popcount", "binary"),
    "xnor": Unit("xnor", "XNOR-popcount binary dot product over N-bit chunks (BinaryNet)",
                 XnorParams, XnorPopcount, "lowbit_xnor", "binary"),
    "bmvu": Unit("bmvu", "binary matrix-vector-threshold unit, PE x SIMD (FINN MVTU)",
                 BMVUParams, BinaryMVU, "lowbit_bmvu", "binary"),
    "winograd1d": Unit("winograd1d", "Winograd F(2,3) 1-D engine, 4 multiplies a channel",
                       Winograd1DParams, WinogradF23, "lowbit_winograd1d", "winograd"),
    "winograd2d": Unit("winograd2d", "Winograd F(2x2,3x3) tile engine, 16 multiplies a channel",
                       Winograd2DParams, WinogradF23x23, "lowbit_winograd2d", "winograd"),
    "direct3x3": Unit("direct3x3", "direct 3x3 tile engine, 36 multiplies a channel (baseline)",
                      Direct3x3Params, DirectConv3x3, "lowbit_direct3x3", "winograd"),
    "conv2d": Unit("conv2d", "streaming 3x3xC convolution layer: line buffers + Winograd tiles",
                   Conv2dParams, Conv2dLayer, "lowbit_conv2d", "winograd"),
    "dpu": Unit("dpu", "bit-serial dot product: AND, popcount, shift/negate accumulate (BISMO DPU)",
                DPUParams, DotProductUnit, "lowbit_dpu", "bitserial"),
    "p2s": Unit("p2s", "parallel-to-serial converter: words of E elements to bit planes, LSB first",
                P2SParams, P2S, "lowbit_p2s", "bitserial"),
    "bitserial": Unit("bitserial", "bit-serial matrix engine, run-time precision (BISMO): P2S, "
                      "Dm x Dn DPUs, C out", BitSerialParams, BitSerialMatmul,
                      "lowbit_bitserial", "bitserial"),
    "link": Unit("link", "host link: 8N1 UART, framed commands with CRC-16, error frames",
                 LinkParams, HostLink, "lowbit_link", "link"),
}


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
