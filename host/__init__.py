"""The host side of the link: a driver with one call per unit, numpy in and out.

>>> from lowbit.host import Device
>>> dev = Device.open("/dev/ttyUSB1", "lowbit-out/bitserial-icebreaker")  # doctest: +SKIP
>>> C = dev.matmul(A, B, wa=4, wb=4)                                    # doctest: +SKIP

The same :class:`Device` runs on a serial port (:class:`SerialTransport`, pyserial) and in
simulation (:class:`lowbit.sim.host.CocotbTransport`, the harness's UART pins under cocotb).
"""

from .device import Device, DeviceError, LinkError, NoAnswer
from .transport import LinkUnavailable, SerialTransport, Transport

__all__ = ["Device", "DeviceError", "LinkError", "NoAnswer", "LinkUnavailable",
           "SerialTransport", "Transport"]
