"""The host side of the link: a driver with one call per unit, numpy in and out.

>>> from lowbit.host import Device
>>> dev = Device.open("/dev/ttyUSB1", "lowbit-out/bitserial-icebreaker")  # doctest: +SKIP
>>> C = dev.matmul(A, B, wa=4, wb=4)                                    # doctest: +SKIP

The same :class:`Device` runs on a serial port (:class:`SerialTransport`, pyserial) and in
simulation (:class:`lowbit.sim.host.CocotbTransport`, the harness's UART pins under cocotb).
"""

import importlib

#: Each name the package exports, and its module. Imported on first use (PEP 562), so that
#: the testbench inside a simulation (lowbit.sim.tb, through lowbit.host.transport) does not
#: import the driver and numpy: half a second of every simulation run's start.
_EXPORTS = {"Device": "device", "DeviceError": "device", "LinkError": "device",
            "NoAnswer": "device", "LinkUnavailable": "transport",
            "SerialTransport": "transport", "Transport": "transport"}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
