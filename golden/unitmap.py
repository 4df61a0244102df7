"""A unit behind the host link: its register map (:class:`UnitMap`), as the hardware builds it
and the host driver reads it (the protocol: :mod:`lowbit.golden.link`, "A unit behind the
link"). Plain data, JSON in and out; no HDL.
"""

import dataclasses
import importlib
import json
import zlib
from dataclasses import dataclass

__all__ = ["UNIT_REG_BASE", "STREAM_PORTS", "LINK_FILE", "UnitPort", "UnitMap"]

#: The first unit register (the signature); side ports follow.
UNIT_REG_BASE = 0x80


#: The unit's input and output streams, by their flattened port names.
STREAM_PORTS = ("i__payload", "i__valid", "i__ready", "o__payload", "o__valid", "o__ready")

#: The file ``lowbit synth`` writes beside a bitstream with the host link: the unit map and
#: the link's parameters, for :meth:`lowbit.host.Device.open`.
LINK_FILE = "link.json"


@dataclass(frozen=True)
class UnitPort:
    """A side port of a unit behind the link, as registers from ``addr`` up.

    ``output``: the unit drives it (read only). ``strobe``: a 1-bit input named ``*_en``,
    pulsed for a cycle by writing 1.
    """

    name: str
    width: int
    addr: int
    output: bool = False
    strobe: bool = False

    @property
    def words(self):
        return -(-self.width // 32)

    @property
    def writable(self):
        return not self.output


@dataclass(frozen=True)
class UnitMap:
    """How a unit sits behind the link: its streams, its registers, its queues.

    Built by the hardware (:meth:`from_ports`) and read by the host driver, which checks
    :attr:`signature` against the device's register 0x80. Plain data: JSON in and out.

    Parameters
    ----------
    unit : str
        The unit's name (``"bitserial"``).
    params : dict
        The unit's parameters.
    params_type : str
        Their class, ``module:qualname`` (``lowbit.golden.bitserial:BitSerialParams``), so a
        host can rebuild the parameter object without the hardware.
    in_width, out_width : int
        Payload bits of the ``i`` and ``o`` streams.
    in_fields, out_fields : dict
        ``{field: {"offset", "width", "signed"}}`` of each payload (empty: one plain value).
    ports : tuple of UnitPort
        The side ports, in register order.
    in_queue : int
        Bytes of the input queue: ``2 x max_payload``, so one SEND's words can be taken by
        the unit while the next SEND arrives (the driver keeps the line busy with them).
    out_queue : int
        Words of the output queue.
    max_payload : int
        The link's largest payload.
    """

    unit: str
    params: dict
    params_type: str
    in_width: int
    out_width: int
    in_fields: dict
    out_fields: dict
    ports: tuple
    in_queue: int
    out_queue: int
    max_payload: int

    @classmethod
    def from_ports(cls, unit, params, ports, link, *, fields=None):
        """The map of a unit with parameter object ``params`` and ``ports``, a list of
        ``(name, direction, width)`` with direction ``"in"``/``"out"`` (from the unit's point
        of view) and flattened names (``i__payload``), behind a link with :class:`LinkParams`
        ``link``."""
        fields = fields or {}
        names = {name for name, _, _ in ports}
        missing = [n for n in STREAM_PORTS if n not in names]
        if missing:
            raise ValueError(f"unit {unit} cannot sit behind the host link: it has no "
                             f"{', '.join(missing)} (the link needs an input stream i and an "
                             f"output stream o)")
        widths = {name: width for name, _, width in ports}
        side, addr = [], UNIT_REG_BASE + 1
        for name, direction, width in ports:
            if name in STREAM_PORTS:
                continue
            strobe = direction == "in" and width == 1 and name.endswith("_en")
            port = UnitPort(name, width, addr, output=direction == "out", strobe=strobe)
            side.append(port)
            addr += port.words
        if addr > 0x100:
            raise ValueError(f"unit {unit}: its side ports need {addr - UNIT_REG_BASE - 1} "
                             f"registers, more than the {0xFF - UNIT_REG_BASE} there are")
        in_bytes = -(-widths["i__payload"] // 8)
        out_bytes = -(-widths["o__payload"] // 8)
        if in_bytes > link.max_payload or out_bytes > link.max_payload:
            raise ValueError(f"unit {unit}: its words ({in_bytes} and {out_bytes} bytes) must "
                             f"fit a payload of max_payload={link.max_payload} bytes")
        kind = type(params)
        return cls(unit=unit, params=dataclasses.asdict(params),
                   params_type=f"{kind.__module__}:{kind.__qualname__}",
                   in_width=widths["i__payload"],
                   out_width=widths["o__payload"],
                   in_fields=dict(fields.get("i__payload", {})),
                   out_fields=dict(fields.get("o__payload", {})), ports=tuple(side),
                   in_queue=2 * link.max_payload,
                   out_queue=max(4, link.max_payload // out_bytes),
                   max_payload=link.max_payload)

    @property
    def in_bytes(self):
        return -(-self.in_width // 8)

    @property
    def out_bytes(self):
        return -(-self.out_width // 8)

    @property
    def recv_max(self):
        """The most words one RECV returns."""
        return self.max_payload // self.out_bytes

    def port(self, name):
        for p in self.ports:
            if p.name == name:
                return p
        raise KeyError(f"unit {self.unit} has no side port {name!r}; it has: "
                       f"{', '.join(p.name for p in self.ports) or 'none'}")

    def to_dict(self):
        return {"unit": self.unit, "params": self.params, "params_type": self.params_type,
                "in_width": self.in_width,
                "out_width": self.out_width, "in_fields": self.in_fields,
                "out_fields": self.out_fields,
                "ports": [dict(name=p.name, width=p.width, addr=p.addr, output=p.output,
                               strobe=p.strobe) for p in self.ports],
                "in_queue": self.in_queue, "out_queue": self.out_queue,
                "max_payload": self.max_payload}

    @classmethod
    def from_dict(cls, d):
        return cls(**{**d, "ports": tuple(UnitPort(**p) for p in d["ports"])})

    def params_object(self):
        """The unit's parameter object, rebuilt from :attr:`params_type` and :attr:`params`."""
        module, _, name = self.params_type.partition(":")
        return getattr(importlib.import_module(module), name)(**self.params)

    @property
    def signature(self):
        """CRC-32 of the map's JSON: which unit, parameters, layout and queues."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return zlib.crc32(blob.encode())
