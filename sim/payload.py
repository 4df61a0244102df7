"""Pack and unpack stream payloads with the field layout the manifest records."""

import numpy as np

__all__ = ["port", "pack", "unpack"]


def port(manifest, name):
    for p in manifest["ports"]:
        if p["name"] == name:
            return p
    raise KeyError(f"{manifest['top']} has no port {name!r}")


def pack(port_entry, **fields):
    """Columns of field values (signed allowed) -> list of payload integers."""
    layout = port_entry["fields"]
    missing = set(layout) - set(fields)
    if missing:
        raise ValueError(f"missing payload fields: {sorted(missing)}")
    n = len(next(iter(fields.values())))
    words = [0] * n
    for name, spec in layout.items():
        mask = (1 << spec["width"]) - 1
        off = spec["offset"]
        col = fields[name]
        for k in range(n):
            words[k] |= (int(col[k]) & mask) << off
    return words


def unpack(port_entry, words):
    """Payload integers -> dict of field columns (int object arrays, sign-extended)."""
    out = {}
    for name, spec in port_entry["fields"].items():
        w, off = spec["width"], spec["offset"]
        mask = (1 << w) - 1
        col = []
        for word in words:
            v = (int(word) >> off) & mask
            if spec["signed"] and v >> (w - 1):
                v -= 1 << w
            col.append(v)
        out[name] = np.array(col, dtype=object)
    return out
