"""The unit registry: one entry per generated unit, tying its parameter object to hardware."""

import dataclasses
from dataclasses import dataclass

from ..golden import LFSRParams, MACParams
from ..golden.binary import BMVUParams, PopcountParams, XnorParams, bmvu_job, popcount_job, xnor_job
from ..golden.bitserial import (
    BitSerialParams,
    DPUParams,
    P2SParams,
    bitserial_job,
    dpu_job,
    p2s_job,
)
from ..golden.checks import UsageError
from ..golden.mac import mac_job
from ..golden.winograd import (
    Conv2dParams,
    Direct3x3Params,
    Winograd1DParams,
    Winograd2DParams,
    conv2d_job,
    tiles_job,
)
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
    """

    name: str
    summary: str
    params_cls: type
    component: type
    top: str
    marker: str
    adapter: object = None

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


UNITS = {
    "mac": Unit("mac", "fixed-point multiply-accumulate with stochastic rounding (Gupta 2015)",
                MACParams, FixedPointMAC, "lowbit_mac", "mac", mac_job),
    "lfsr": Unit("lfsr", "leap-forward maximal-length LFSR (XAPP052 taps)",
                 LFSRParams, LFSR, "lowbit_lfsr", "lfsr"),
    "popcount": Unit("popcount", "pipelined popcount of any width (compressor tree)",
                     PopcountParams, Popcount, "lowbit_popcount", "binary", popcount_job),
    "xnor": Unit("xnor", "XNOR-popcount binary dot product over N-bit chunks (BinaryNet)",
                 XnorParams, XnorPopcount, "lowbit_xnor", "binary", xnor_job),
    "bmvu": Unit("bmvu", "binary matrix-vector-threshold unit, PE x SIMD (FINN MVTU)",
                 BMVUParams, BinaryMVU, "lowbit_bmvu", "binary", bmvu_job),
    "winograd1d": Unit("winograd1d", "Winograd F(2,3) 1-D engine, 4 multiplies a channel",
                       Winograd1DParams, WinogradF23, "lowbit_winograd1d", "winograd",
                       tiles_job),
    "winograd2d": Unit("winograd2d", "Winograd F(2x2,3x3) tile engine, 16 multiplies a channel",
                       Winograd2DParams, WinogradF23x23, "lowbit_winograd2d", "winograd",
                       tiles_job),
    "direct3x3": Unit("direct3x3", "direct 3x3 tile engine, 36 multiplies a channel (baseline)",
                      Direct3x3Params, DirectConv3x3, "lowbit_direct3x3", "winograd", tiles_job),
    "conv2d": Unit("conv2d", "streaming 3x3xC convolution layer: line buffers + Winograd tiles",
                   Conv2dParams, Conv2dLayer, "lowbit_conv2d", "winograd", conv2d_job),
    "dpu": Unit("dpu", "bit-serial dot product: AND, popcount, shift/negate accumulate (BISMO DPU)",
                DPUParams, DotProductUnit, "lowbit_dpu", "bitserial", dpu_job),
    "p2s": Unit("p2s", "parallel-to-serial converter: words of E elements to bit planes, LSB first",
                P2SParams, P2S, "lowbit_p2s", "bitserial", p2s_job),
    "bitserial": Unit("bitserial", "bit-serial matrix engine, run-time precision (BISMO): P2S, "
                      "Dm x Dn DPUs, C out", BitSerialParams, BitSerialMatmul,
                      "lowbit_bitserial", "bitserial", bitserial_job),
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
