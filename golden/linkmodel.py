"""The golden model of the host link's device side (:class:`LinkModel`).

The protocol it follows is specified in :mod:`lowbit.golden.link`; ``hw/link.py`` implements
it, and ``tests/test_link_sim.py`` checks the hardware against this model byte for byte.
"""

import numpy as np

from .link import (
    _REQUEST_LENGTH,
    REG_BYTES,
    UNIT_ONLY,
    Command,
    ErrorCode,
    FrameError,
    LinkParams,
    decode_frames,
    error_frame,
    ok_frame,
    request_length,
)

__all__ = ["LinkModel"]


class LinkModel:
    """The device side: host bytes in, response bytes out, the register file kept across calls.

    >>> from lowbit.golden.link import encode_frame
    >>> m = LinkModel(LinkParams())
    >>> m.respond(encode_frame(Command.PING, b"hi")) == ok_frame(Command.PING, b"hi")
    True
    """

    def __init__(self, params=None):
        self.params = params if params is not None else LinkParams()
        self.registers = np.zeros(self.params.registers, dtype=np.int64)

    def decode(self, host_bytes, *, gaps=None, bad_stop=()):
        p = self.params
        return decode_frames(host_bytes, max_payload=p.max_payload, timeout_bits=p.timeout_bits,
                             gaps=gaps, bad_stop=bad_stop)

    def execute(self, event):
        """The response bytes to one parsed frame or parser error."""
        if isinstance(event, FrameError):
            return error_frame(event.code, event.cmd)
        cmd, payload = event.cmd, event.payload
        if cmd not in _REQUEST_LENGTH or cmd in UNIT_ONLY:
            return error_frame(ErrorCode.UNKNOWN_COMMAND, cmd)
        want = request_length(cmd)
        if want is not None and len(payload) != want:
            return error_frame(ErrorCode.BAD_LENGTH, cmd)
        if cmd == Command.PING:
            return ok_frame(cmd, payload)
        addr = payload[0]
        if addr >= self.params.registers:
            return error_frame(ErrorCode.BAD_ADDRESS, cmd)
        if cmd == Command.WRITE_REG:
            self.registers[addr] = int.from_bytes(payload[1:5], "little") & 0xFFFF_FFFF
            return ok_frame(cmd)
        return ok_frame(cmd, int(self.registers[addr]).to_bytes(REG_BYTES, "little"))

    def respond(self, host_bytes, *, gaps=None, bad_stop=()):
        """Everything the device sends for ``host_bytes`` (see :func:`decode_frames`)."""
        return b"".join(self.execute(e)
                        for e in self.decode(host_bytes, gaps=gaps, bad_stop=bad_stop))
