"""The driver: frames over a transport, then one call per unit with numpy in and out.

The protocol is :mod:`lowbit.golden.link`'s. A :class:`Device` talks to one harnessed unit
(its :class:`~lowbit.golden.link.UnitMap`): it writes the unit's configuration registers,
streams input words with SEND while reading results with RECV (never more than the device
says it has room for, so the link cannot overrun), and turns the words back into arrays.
"""

import json
from pathlib import Path

import numpy as np

from ..golden.link import (
    ERROR,
    LINK_FILE,
    REG_BYTES,
    RESPONSE,
    SYNC,
    UNIT_REG_BASE,
    Command,
    ErrorCode,
    UnitMap,
    crc16,
    encode_frame,
)
from ..golden.payload import pack_fields, unpack_fields
from .transport import SerialTransport

__all__ = ["Device", "DeviceError", "LinkError", "NoAnswer", "LINK_FILE", "load_link_file"]

class DeviceError(RuntimeError):
    """The device is there but cannot do what was asked (wrong bitstream, wrong unit)."""


class LinkError(DeviceError):
    """The device answered with an error frame, or with a frame that makes no sense."""

    def __init__(self, message, code=None, cmd=None):
        super().__init__(message)
        self.code = code
        self.cmd = cmd


class NoAnswer(DeviceError):
    """Nothing (or not enough) came back within the timeout."""


def load_link_file(build):
    """The :data:`~lowbit.golden.link.LINK_FILE` of build directory ``build``:
    ``{"unit_map", "link", ...}``; :class:`DeviceError` when it is missing or broken."""
    path = Path(build) / LINK_FILE
    try:
        info = json.loads(path.read_text())
        UnitMap.from_dict(info["unit_map"])
        int(info["link"]["baud"])
    except FileNotFoundError:
        raise DeviceError(f"{path} does not exist: give the directory 'lowbit synth' wrote for "
                          f"the unit on the board (with the host link)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeviceError(f"{path} is not a link file of 'lowbit synth' ({type(exc).__name__}: "
                          f"{exc}); synthesize the unit again") from None
    return info


def _queues(body):
    """STATUS's and SEND's answer: ``(in_free bytes, out_words)``."""
    return int.from_bytes(body[:2], "little"), int.from_bytes(body[2:4], "little")


def _name(table, value):
    try:
        return table(value).name
    except ValueError:
        return f"0x{value:02x}"


class Device:
    """One board (or simulation) running a unit behind the host link.

    Parameters
    ----------
    transport : lowbit.host.Transport
        The byte pipe (:class:`~lowbit.host.SerialTransport`, or a simulation's).
    unit_map : UnitMap or dict, optional
        The harnessed unit's map (``link.json`` of its build). Without one only the link's
        own commands work (ping, registers).
    timeout : float
        Seconds (of the transport's clock) to wait for each response.
    check : bool
        Read the device's signature register and refuse a device built from another unit
        or other parameters.
    """

    def __init__(self, transport, unit_map=None, *, timeout=1.0, check=True):
        self.transport = transport
        if isinstance(unit_map, dict):
            unit_map = UnitMap.from_dict(unit_map)
        self.map = unit_map
        self.timeout = timeout
        self.stall_timeout = 10 * timeout
        self._params = None
        if unit_map is not None and check:
            found = self.read_reg(UNIT_REG_BASE)
            if found != unit_map.signature:
                raise DeviceError(
                    f"the device runs a different design (signature 0x{found:08x}; this "
                    f"{unit_map.unit} build has 0x{unit_map.signature:08x}): program the "
                    f"board with this build's bitstream ('lowbit program')")

    @classmethod
    def open(cls, port, build, *, baud=None, timeout=1.0):
        """A device on serial port ``port`` running the bitstream in directory ``build`` (the
        output of ``lowbit synth``, which holds :data:`LINK_FILE`)."""
        info = load_link_file(build)
        transport = SerialTransport(port, baud or info["link"]["baud"])
        try:
            return cls(transport, info["unit_map"], timeout=timeout)
        except BaseException:
            transport.close()
            raise

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- frames -------------------------------------------------------------------------------

    def request(self, cmd, payload=b""):
        """Send one frame and return the payload of its success response.

        Raises :class:`LinkError` for an error frame and :class:`NoAnswer` when the response
        does not arrive within :attr:`timeout`. Bytes left over from an earlier exchange (after
        a timeout, say) are dropped first.
        """
        self.transport.discard_input()
        self.transport.write(encode_frame(cmd, payload))
        status, body = self._read_frame(cmd)
        if status == ERROR and len(body) == 2:
            raise LinkError(f"the device answered {_name(ErrorCode, body[0])} to "
                            f"{_name(Command, body[1])}", code=body[0], cmd=body[1])
        if status != RESPONSE | cmd:
            raise LinkError(f"the device answered 0x{status:02x} to {_name(Command, cmd)} "
                            f"(expected 0x{RESPONSE | cmd:02x})", cmd=cmd)
        return body

    def _read_exact(self, n, deadline, cmd):
        data = b""
        while len(data) < n:
            left = deadline - self.transport.now()
            if left <= 0:
                baud = f" at {self.transport.baud} baud" if self.transport.baud else ""
                raise NoAnswer(
                    f"no answer to {_name(Command, cmd)} within {self.timeout:g} s{baud} "
                    f"({len(data)} of {n} bytes): is the board connected and programmed "
                    f"with the harnessed unit, and is the baud rate right?")
            data += self.transport.read(n - len(data), left)
        return data

    def _read_frame(self, cmd):
        deadline = self.transport.now() + self.timeout
        while self._read_exact(1, deadline, cmd)[0] != SYNC:
            pass
        head = self._read_exact(3, deadline, cmd)
        n = head[1] | head[2] << 8
        rest = self._read_exact(n + 2, deadline, cmd)
        if crc16(head + rest) != 0:
            raise LinkError(f"the response to {_name(Command, cmd)} has a bad CRC "
                            f"(noise on the line, or a wrong baud rate)", cmd=cmd)
        return head[0], rest[:n]

    # --- the link's commands ------------------------------------------------------------------

    def ping(self, data=b""):
        return self.request(Command.PING, data)

    def write_reg(self, addr, value):
        self.request(Command.WRITE_REG, bytes([addr]) + int(value & 0xFFFF_FFFF).to_bytes(
            REG_BYTES, "little"))

    def read_reg(self, addr):
        return int.from_bytes(self.request(Command.READ_REG, bytes([addr])), "little")

    def reset(self):
        """Reset the unit and drop whatever its queues hold."""
        self.request(Command.RESET)

    def status(self):
        """``(in_free bytes, out_words)`` of the unit's queues."""
        return _queues(self.request(Command.STATUS))

    def send(self, words):
        """Queue input words (ints); returns ``(in_free, out_words)`` after them."""
        m = self._need_map()
        payload = b"".join(int(w).to_bytes(m.in_bytes, "little") for w in words)
        return _queues(self.request(Command.SEND, payload))

    def recv(self, n):
        """Up to ``n`` output words (ints) from the unit's queue (possibly none)."""
        m = self._need_map()
        body = self.request(Command.RECV, min(n, 0xFFFF).to_bytes(2, "little"))
        k = m.out_bytes
        return [int.from_bytes(body[i:i + k], "little") for i in range(0, len(body), k)]

    # --- the unit's ports ---------------------------------------------------------------------

    def _need_map(self):
        if self.map is None:
            raise DeviceError("this Device has no unit map: open it with the unit's build")
        return self.map

    def set_port(self, name, value):
        """Write side port ``name`` (all its registers); a strobe port is pulsed."""
        port = self._need_map().port(name)
        if port.output:
            raise DeviceError(f"port {name} of unit {self.map.unit} is an output (read only)")
        if port.strobe:
            self.write_reg(port.addr, 1)
            return
        value = int(value) & ((1 << port.width) - 1)
        for k in range(port.words):
            self.write_reg(port.addr + k, value >> (32 * k))

    def get_port(self, name):
        port = self._need_map().port(name)
        return sum(self.read_reg(port.addr + k) << (32 * k) for k in range(port.words))

    def stream(self, words, expect):
        """Send ``words`` and collect ``expect`` output words, interleaving SEND and RECV so
        neither queue overflows. Raises :class:`NoAnswer` when the unit stops producing
        results for :attr:`stall_timeout` seconds."""
        m = self._need_map()
        words = list(words)
        per_send = m.max_payload // m.in_bytes
        in_free, out_words = self.status()
        if out_words:
            raise DeviceError(f"{out_words} results of an earlier call are still queued in the "
                              f"device (an interrupted call?): dev.reset() drops them")
        out, i = [], 0
        last_progress = self.transport.now()
        while i < len(words) or len(out) < expect:
            moved = False
            n = min(len(words) - i, in_free // m.in_bytes, per_send)
            if n > 0:
                in_free, out_words = self.send(words[i:i + n])
                i += n
                moved = True
            if len(out) < expect and (out_words > 0 or i == len(words)):
                got = self.recv(min(m.recv_max, expect - len(out)))
                out += got
                out_words = max(0, out_words - len(got))
                moved = moved or bool(got)
            if moved:
                last_progress = self.transport.now()
                continue
            if self.transport.now() - last_progress > self.stall_timeout:
                raise NoAnswer(f"unit {m.unit} stopped: {len(out)} of {expect} results "
                               f"after {i} of {len(words)} input words")
            in_free, out_words = self.status()
        return out

    def params(self):
        """The unit's parameter object."""
        if self._params is None:
            self._params = self._need_map().params_object()
        return self._params

    def _unit(self, *names):
        if self._need_map().unit not in names:
            raise DeviceError(f"the device runs unit {self.map.unit}, not "
                              f"{' or '.join(names)}")
        return self.params()

    # --- one call per unit --------------------------------------------------------------------

    def matmul(self, A, B, *, wa=None, wb=None, a_signed=True, b_signed=True):
        """``A @ B`` on the bit-serial engine at ``wa`` x ``wb`` bits (default: the generated
        maxima), exact. Matrices larger than the engine's buffers are cut into blocks of
        ``max_m`` x ``max_k`` x ``max_n`` and the partial products summed here."""
        from ..golden.bitserial import check_fits, operand_words

        p = self._unit("bitserial")
        A, B = np.asarray(A), np.asarray(B)
        if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
            raise ValueError(f"A {A.shape} and B {B.shape} are not matrices that multiply")
        wa = p.max_wa if wa is None else wa
        wb = p.max_wb if wb is None else wb
        M, K = A.shape
        N = B.shape[1]
        p.check_run(min(M, p.max_m), min(K, p.max_k), min(N, p.max_n), wa, wb, a_signed,
                    b_signed)
        A = check_fits("A", A, wa, a_signed)
        B = check_fits("B", B, wb, b_signed)
        for name, value in (("wa", wa), ("wb", wb), ("a_signed", int(a_signed)),
                            ("b_signed", int(b_signed))):
            self.set_port(name, value)
        C = np.zeros((M, N), dtype=np.int64)
        field = next(iter(self.map.in_fields))
        for m0 in range(0, M, p.max_m):
            for n0 in range(0, N, p.max_n):
                for k0 in range(0, K, p.max_k):
                    a = A[m0:m0 + p.max_m, k0:k0 + p.max_k]
                    b = B[k0:k0 + p.max_k, n0:n0 + p.max_n]
                    C[m0:m0 + a.shape[0], n0:n0 + b.shape[1]] += self._matmul_block(
                        p, field, operand_words, a, b)
        return C

    def _matmul_block(self, p, field, operand_words, a, b):
        (m, k), n = a.shape, b.shape[1]
        self.set_port("m", m)
        self.set_port("n", n)
        self.set_port("k_chunks", p.k_chunks(k))
        words = pack_fields(self.map.in_fields, **{field: operand_words(p, a, b)})
        out = unpack_fields(self.map.out_fields, self.stream(words, m * n))
        self._check_last(out["last"], [m * n])
        return np.asarray(out["c"], dtype=np.int64).reshape(m, n)

    def conv2d(self, image, filt):
        """The 3x3 correlation of ``image`` ((H, W) or (C, H, W), the generated size) with
        ``filt`` ((3, 3) or (C, 3, 3)): the layer's feature map (Ho, Wo)."""
        p = self._unit("conv2d")
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[None]
        filt = np.asarray(filt)
        if filt.ndim == 2:
            filt = filt[None]
        want = (p.channels, p.height, p.width)
        if image.shape != want:
            raise ValueError(f"the image must have shape {want} (channels, height, width) for "
                             f"this build, not {image.shape}")
        for addr, word in enumerate(p.filter_image(filt)):
            self.set_port("f_addr", addr)
            self.set_port("f_data", word)
            self.set_port("f_en", 1)
        pixels = image.transpose(1, 2, 0).reshape(-1)  # raster order, channels innermost
        lo, hi = -(1 << (p.data_width - 1)), (1 << (p.data_width - 1)) - 1
        if pixels.size and (pixels.min() < lo or pixels.max() > hi):
            raise ValueError(f"image values must lie in [{lo}, {hi}] (data_width "
                             f"{p.data_width})")
        ho, wo = p.output_shape
        out = unpack_fields(self.map.out_fields,
                            self.stream(pack_fields(self.map.in_fields, x=pixels.tolist()),
                                        ho * wo))
        self._check_last(out["last"], [ho * wo])
        return np.asarray(out["y"], dtype=np.int64).reshape(ho, wo)

    def mac_stream(self, a, b, first, last):
        """Raw MAC beats (codes of the input formats and the flags); returns the results'
        ``(values, overflow)`` codes, one per ``last``."""
        self._unit("mac")
        a, b = np.asarray(a), np.asarray(b)
        words = pack_fields(self.map.in_fields, a=a.tolist(), b=b.tolist(),
                            first=np.asarray(first, dtype=int).tolist(),
                            last=np.asarray(last, dtype=int).tolist())
        out = unpack_fields(self.map.out_fields, self.stream(words, int(np.sum(last))))
        return (np.asarray(out["value"], dtype=np.int64),
                np.asarray(out["overflow"], dtype=np.int64))

    def mac(self, a, b):
        """Dot products of integer codes: ``a``, ``b`` of shape (k,) give one result, (m, k)
        give m; results are codes of the output format (saturated or wrapped as built)."""
        p = self._unit("mac")
        one = np.ndim(a) == 1
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        if a.shape != b.shape or a.shape[1] == 0:
            raise ValueError(f"a {a.shape} and b {b.shape} must have one non-empty shape")
        for name, codes, fmt in (("a", a, p.fmt_a), ("b", b, p.fmt_b)):
            if codes.min() < fmt.min_int or codes.max() > fmt.max_int:
                raise ValueError(f"{name} codes must lie in [{fmt.min_int}, {fmt.max_int}]")
        m, k = a.shape
        first = np.zeros((m, k), dtype=int)
        last = np.zeros((m, k), dtype=int)
        first[:, 0] = 1
        last[:, -1] = 1
        values, _ = self.mac_stream(a.reshape(-1), b.reshape(-1), first.reshape(-1),
                                    last.reshape(-1))
        return values[0] if one else values

    def bnn_layer(self, x_bits, weights, thresholds=None, invert=None):
        """A binarized layer on the BinaryMVU: ``x_bits`` (V, cols) 0/1 against ``weights``
        (rows, cols) 0/1 (0 is -1), with ``thresholds`` (rows, k) and ``invert`` (rows,)
        when the build has thresholds. Returns (V, rows) dot products or activations."""
        from ..golden.binary import bmvu_images, pack_bits

        p = self._unit("bmvu")
        x = np.asarray(x_bits)
        if x.ndim != 2 or x.shape[1] != p.cols:
            raise ValueError(f"inputs must have shape (vectors, {p.cols}), not {x.shape}")
        w_words, t_words = bmvu_images(p, weights, thresholds, invert)
        for addr, word in enumerate(w_words):
            self.set_port("w_addr", addr)
            self.set_port("w_data", word)
            self.set_port("w_en", 1)
        for addr, word in enumerate(t_words if p.thresholds else ()):
            self.set_port("t_addr", addr)
            self.set_port("t_data", word)
            self.set_port("t_en", 1)
        padded = np.zeros((x.shape[0], p.sf * p.simd), dtype=np.uint8)
        padded[:, :p.cols] = x
        words = [int(pack_bits(padded[v, s * p.simd:(s + 1) * p.simd]))
                 for v in range(x.shape[0]) for s in range(p.sf)]
        out = unpack_fields(self.map.out_fields, self.stream(words, x.shape[0] * p.nf))
        lanes = np.array([out[f"lane{j}"] for j in range(p.pe)], dtype=np.int64).T
        return lanes.reshape(x.shape[0], p.nf * p.pe)[:, :p.rows]

    @staticmethod
    def _check_last(flags, sizes):
        ends = np.cumsum(sizes) - 1
        if not np.array_equal(np.flatnonzero(np.asarray(flags, dtype=np.int64)), ends):
            raise LinkError("the unit's results carry 'last' flags in the wrong places: "
                            "results were lost or duplicated")
