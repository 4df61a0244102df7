"""Pack and unpack stream payloads: columns of field values <-> payload integers.

A layout is ``{field: {"offset", "width", "signed"}}``, as the generated manifest and the
host link's :class:`~lowbit.golden.unitmap.UnitMap` record it. Plain Python, no HDL.
"""

import numpy as np

__all__ = ["pack_fields", "unpack_fields"]


def pack_fields(layout, **fields):
    """Columns of field values (signed allowed) -> list of payload integers."""
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


def unpack_fields(layout, words):
    """Payload integers -> dict of field columns (int object arrays, sign-extended)."""
    out = {}
    for name, spec in layout.items():
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
