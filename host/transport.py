"""Byte transports for the driver: a serial port, or anything with the same four methods."""

import time

__all__ = ["Transport", "SerialTransport", "LinkUnavailable"]


class LinkUnavailable(RuntimeError):
    """The transport cannot be opened (no such serial port, no permission, ...)."""


class Transport:
    """What :class:`~lowbit.host.Device` needs of a byte pipe to the board.

    ``read(n, timeout)`` returns up to ``n`` bytes, fewer only when ``timeout`` seconds pass
    first; ``now()`` is the transport's clock in seconds (wall time on a serial port,
    simulated time in a simulation).
    """

    baud = None

    def write(self, data):
        raise NotImplementedError

    def read(self, n, timeout):
        raise NotImplementedError

    def now(self):
        return time.monotonic()

    def discard_input(self):
        """Drop bytes received and not yet read."""

    def close(self):
        pass


class SerialTransport(Transport):
    """A serial port through pyserial (the board's FTDI: ``/dev/ttyUSB1`` on the iCEBreaker,
    whose channel B is the UART; ``/dev/ttyUSB0`` on the ULX3S)."""

    def __init__(self, port, baud=3_000_000):
        import serial

        self.port = port
        self.baud = baud
        try:
            self._serial = serial.Serial(port, baudrate=baud, timeout=0, write_timeout=5)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkUnavailable(
                f"cannot open serial port {port!r} at {baud} baud: {exc}. Is the board "
                f"plugged in? 'python -m serial.tools.list_ports' lists the ports there "
                f"are") from None

    def write(self, data):
        self._serial.write(bytes(data))
        self._serial.flush()

    def read(self, n, timeout):
        self._serial.timeout = timeout
        return bytes(self._serial.read(n))

    def discard_input(self):
        self._serial.reset_input_buffer()

    def close(self):
        self._serial.close()
