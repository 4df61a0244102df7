"""The driver: frames over a transport, then one call per unit with numpy in and out.

The protocol is :mod:`lowbit.golden.link`'s. A :class:`Device` talks to one harnessed unit
(its :class:`~lowbit.golden.unitmap.UnitMap`): it writes the unit's configuration registers,
streams input words with SEND while reading results with RECV (never more than the device
says it has room for, so the link cannot overrun), and turns the words back into arrays.
"""

import json
from pathlib import Path

import numpy as np

from ..golden.bitserial import check_fits
from ..golden.link import (
    ERROR,
    REG_BYTES,
    RESPONSE,
    SYNC,
    Command,
    ErrorCode,
    crc16,
    encode_frame,
)
from ..golden.payload import pack_fields, unpack_fields
from ..golden.unitmap import LINK_FILE, UNIT_REG_BASE, UnitMap
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
    """The :data:`~lowbit.golden.unitmap.LINK_FILE` of build directory ``build``:
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
        self._weights = None  # load_weights: {"B", "wb", "b_signed"}
        self._resident = False  # the engine holds self._weights["B"]
        self._written = {}  # register -> the value this Device last wrote there
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
        return self.requests([(cmd, payload)])[0]

    def requests(self, frames):
        """Send ``frames`` (``(cmd, payload)`` pairs) back to back, then read their responses
        in order (the device answers in order and keeps receiving while it answers); returns
        the success payloads. The first error frame raises :class:`LinkError` after the
        responses before it were read."""
        self.transport.discard_input()
        self.transport.write(b"".join(encode_frame(cmd, payload) for cmd, payload in frames))
        out, error = [], None
        for cmd, _ in frames:
            try:
                status, body = self._read_frame(cmd)
            except DeviceError:
                if error is None:
                    raise
                break  # the answers after an error: read what comes, then report the error
            if error is not None:
                continue
            if status == ERROR and len(body) == 2:
                error = LinkError(f"the device answered {_name(ErrorCode, body[0])} to "
                                  f"{_name(Command, body[1])}", code=body[0], cmd=body[1])
            elif status != RESPONSE | cmd:
                error = LinkError(f"the device answered 0x{status:02x} to "
                                  f"{_name(Command, cmd)} (expected 0x{RESPONSE | cmd:02x})",
                                  cmd=cmd)
            else:
                out.append(body)
        if error is not None:
            raise error
        return out

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
        value = int(value) & 0xFFFF_FFFF
        self._written.pop(addr, None)
        self.request(Command.WRITE_REG, bytes([addr]) + value.to_bytes(REG_BYTES, "little"))
        self._written[addr] = value

    def read_reg(self, addr):
        return int.from_bytes(self.request(Command.READ_REG, bytes([addr])), "little")

    def reset(self):
        """Reset the unit and drop whatever its queues hold. The registers keep their values,
        but the driver forgets which it wrote, so the next run writes its configuration
        again (after a board was reprogrammed or power-cycled, say)."""
        self._resident = False
        self._written.clear()
        self.request(Command.RESET)

    def status(self):
        """``(in_free bytes, out_words)`` of the unit's queues."""
        return _queues(self.request(Command.STATUS))

    def _send_frame(self, words):
        m = self._need_map()
        return Command.SEND, b"".join(int(w).to_bytes(m.in_bytes, "little") for w in words)

    def _recv_frame(self, n):
        return Command.RECV, min(n, 0xFFFF).to_bytes(2, "little")

    def _words(self, body):
        """RECV's answer as output words (ints)."""
        k = self._need_map().out_bytes
        return [int.from_bytes(body[i:i + k], "little") for i in range(0, len(body), k)]

    def send(self, words):
        """Queue input words (ints); returns ``(in_free, out_words)`` after them."""
        return _queues(self.request(*self._send_frame(words)))

    def recv(self, n):
        """Up to ``n`` output words (ints) from the unit's queue (possibly none)."""
        return self._words(self.request(*self._recv_frame(n)))

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
            word = (value >> (32 * k)) & 0xFFFF_FFFF
            # A configuration register this Device wrote the same value to is not written
            # again (registers keep their values, RESET included): a run of the same shape
            # as the last one costs no register frames.
            if self._written.get(port.addr + k) != word:
                self.write_reg(port.addr + k, word)

    def get_port(self, name):
        """Read side port ``name`` (an output such as ``busy``, or an input read back)."""
        port = self._need_map().port(name)
        return sum(self.read_reg(port.addr + k) << (32 * k) for k in range(port.words))

    def stream(self, words, expect):
        """Send ``words`` and collect ``expect`` output words, never more than the queues hold.

        Each round writes a RECV (when results are due) and then a SEND back to back and reads
        both answers: the RECV's results travel back while the SEND's words are still on the
        line, and the input queue (two payloads) takes a SEND while the unit still works on
        the one before, so the line to the device stays busy. Raises :class:`NoAnswer` when
        the unit stops producing results for :attr:`stall_timeout` seconds."""
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
            n = min(len(words) - i, in_free // m.in_bytes, per_send)
            recv = len(out) < expect and (out_words > 0 or n == 0)
            frames = [self._recv_frame(min(m.recv_max, expect - len(out)))] if recv else []
            if n > 0:
                frames.append(self._send_frame(words[i:i + n]))
            answers = self.requests(frames)
            got = []
            if recv:
                got = self._words(answers[0])
                out += got
                out_words = max(0, out_words - len(got))
            if n > 0:
                in_free, out_words = _queues(answers[-1])
                i += n
            if n > 0 or got:
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

    def job(self, *data, **options):
        """The running unit's :class:`~lowbit.golden.job.Job` for ``data`` (its adapter's
        arguments, :attr:`lowbit.hw.units.Unit.adapter`)."""
        # Imported here: the driver also runs inside every cocotb simulation (sim.tb), which
        # need not load the hardware registry.
        from ..hw.units import get_unit

        return get_unit(self._need_map().unit).job(self.params(), *data, **options)

    def run(self, job):
        """Run ``job`` on the device: its held side ports and memory writes through the
        registers, its beats through SEND, the outputs through RECV; returns the decoded
        result. The same :class:`~lowbit.golden.job.Job` the simulator runs."""
        m = self._need_map()
        if job.unit is not None and job.unit != m.unit:
            raise DeviceError(f"the device runs unit {m.unit}, not {job.unit}")
        if job.beat_ports:
            raise DeviceError("a job with per-beat side ports (chained runs) cannot run "
                              "through the link: run its parts one by one")
        for name, value in job.hold.items():
            self.set_port(name, value)
        for write in job.loads:  # address and data first, the strobe last
            for name, value in sorted(write.items(), key=lambda kv: m.port(kv[0]).strobe):
                self.set_port(name, value)
        self._resident = False  # a run may load the engine's B: resident weights go again
        words = pack_fields(m.in_fields, **job.beats)
        result = job.decode(unpack_fields(m.out_fields, self.stream(words, job.expect)))
        if result is None:
            raise LinkError("the unit's results came back lost, duplicated or with their "
                            "'last' flags misplaced")
        return result

    def compute(self, *data, **options):
        """Any unit's data through the device: ``run(job(*data, **options))``, with the
        arguments of the unit's adapter (:attr:`lowbit.hw.units.Unit.adapter`)."""
        return self.run(self.job(*data, **options))

    # --- one call per unit --------------------------------------------------------------------

    def load_weights(self, B, *, wb=None, b_signed=True):
        """Make ``B`` (``K x N``, at most ``max_k x max_n``, ``wb`` bits, default the generated
        maximum) the engine's resident weights for :meth:`matmul` calls without ``B``: the
        first such call sends ``B`` with its ``A``, and later ones send only their ``A``
        (weight-resident runs, ``keep_b``), until other weights are loaded, a product with an
        explicit ``B`` runs, or the device is reset (then ``B`` goes again, once)."""
        p = self._unit("bitserial")
        B = np.asarray(B)
        wb = p.max_wb if wb is None else wb
        if B.ndim != 2 or not (1 <= B.shape[0] <= p.max_k and 1 <= B.shape[1] <= p.max_n):
            raise ValueError(f"resident weights must be a matrix of at most max_k x max_n = "
                             f"{p.max_k} x {p.max_n}, not shape {B.shape}")
        p.check_run(1, B.shape[0], B.shape[1], 1, wb, True, b_signed)
        self._weights = {"B": check_fits("B", B, wb, b_signed), "wb": wb,
                         "b_signed": b_signed}
        self._resident = False

    def _matmul_resident(self, A, wa, a_signed):
        p = self._unit("bitserial")
        if self._weights is None:
            raise ValueError("matmul(A) without B needs resident weights: call "
                             "load_weights(B) first, or pass B")
        w = self._weights
        B, wb = w["B"], w["wb"]
        A = np.asarray(A)
        if A.ndim != 2 or A.shape[1] != B.shape[0]:
            raise ValueError(f"A {A.shape} does not multiply the resident weights {B.shape}")
        wa = p.max_wa if wa is None else wa
        p.check_run(min(A.shape[0], p.max_m), B.shape[0], B.shape[1], wa, wb, a_signed,
                    w["b_signed"])
        A = check_fits("A", A, wa, a_signed)
        C = np.zeros((A.shape[0], B.shape[1]), dtype=np.int64)
        for m0 in range(0, A.shape[0], p.max_m):
            a = A[m0:m0 + p.max_m]
            keep = self._resident
            C[m0:m0 + a.shape[0]] = self.run(self.job(a, B, wa, wb, a_signed, w["b_signed"],
                                                      keep_b=keep))
            self._resident = True
        return C

    def matmul(self, A, B=None, *, wa=None, wb=None, a_signed=True, b_signed=True):
        """``A @ B`` on the bit-serial engine at ``wa`` x ``wb`` bits (default: the generated
        maxima), exact. Matrices larger than the engine's buffers are cut into blocks of
        ``max_m`` x ``max_k`` x ``max_n`` and the partial products summed here; each block of
        ``B`` is sent once and stays resident (``keep_b``) for the blocks of ``A`` it meets.

        Without ``B``: ``A`` times the weights of :meth:`load_weights`, which stay in the
        engine from call to call (their ``wb`` and signedness; ``wb`` and ``b_signed`` here
        are not used)."""
        if B is None:
            return self._matmul_resident(A, wa, a_signed)
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
        C = np.zeros((M, N), dtype=np.int64)
        for n0 in range(0, N, p.max_n):
            for k0 in range(0, K, p.max_k):
                b = B[k0:k0 + p.max_k, n0:n0 + p.max_n]
                for m0 in range(0, M, p.max_m):
                    a = A[m0:m0 + p.max_m, k0:k0 + p.max_k]
                    C[m0:m0 + a.shape[0], n0:n0 + b.shape[1]] += self.run(
                        self.job(a, b, wa, wb, a_signed, b_signed, keep_b=m0 > 0))
        return C

    def conv2d(self, image, filt, bias=0):
        """The 3x3 correlation of ``image`` ((H, W) or (C, H, W), the generated size) with the
        build's K filters ``filt`` (K, C, 3, 3): the feature maps (K, Ho, Wo), requantized
        (with ``bias``, one integer or K) when the build is (``out_width``). A build of one
        filter also takes ``filt`` as (C, 3, 3) or (3, 3) and then returns one map (Ho, Wo).
        Stochastic rounding's LFSR runs on from call to call (one sample an output value
        since the last reset), as it does in a stream of frames."""
        p = self._unit("conv2d")
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[None]
        want = (p.channels, p.height, p.width)
        if image.shape != want:
            raise ValueError(f"the image must have shape {want} (channels, height, width) for "
                             f"this build, not {image.shape}")
        maps = self.run(self.job(image[None], filt, bias))[0]
        return maps if np.ndim(filt) == 4 else maps[0]

    def mac_stream(self, a, b, first, last):
        """Raw MAC beats (codes of the input formats and the flags); returns the results'
        ``(values, overflow)`` codes, one per ``last``."""
        self._unit("mac")
        return self.run(self.job(a, b, first, last))

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

    def classify(self, images):
        """The class of each image on the on-chip binarized network (unit ``bnn``): ``images``
        (V, inputs) bits (1 = +1), streamed back to back; returns (V,) classes, or with a
        build of ``output=scores`` the last layer's scores (V, classes). The network is the
        one the bitstream was generated with (its unit map's parameters)."""
        self._unit("bnn")
        return self.compute(images)

    def bnn_layer(self, x_bits, weights, thresholds=None, invert=None):
        """A binarized layer on the BinaryMVU: ``x_bits`` (V, cols) 0/1 against ``weights``
        (rows, cols) 0/1 (0 is -1), with ``thresholds`` (rows, k) and ``invert`` (rows,)
        when the build has thresholds. Returns (V, rows) dot products or activations."""
        self._unit("bmvu")
        return self.run(self.job(weights, x_bits, thresholds, invert))
