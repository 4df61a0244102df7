"""Pack and unpack stream payloads: columns of field values <-> payload integers.

A layout is ``{field: {"offset", "width", "signed"}}``, as the generated manifest and the
host link's :class:`~lowbit.golden.unitmap.UnitMap` record it. A payload without named fields
(an empty layout) is the one column :data:`PLAIN`. Plain Python, no HDL.
"""

import numpy as np

__all__ = ["PLAIN", "pack_fields", "unpack_fields"]

#: The column name of a payload that has no named fields (a plain integer).
PLAIN = "payload"


def pack_fields(layout, **fields):
    """Columns of field values (signed allowed) -> list of payload integers."""
    if not layout:
        if set(fields) != {PLAIN}:
            raise ValueError(f"a plain payload takes one column {PLAIN!r}, not {sorted(fields)}")
        return [int(x) for x in fields[PLAIN]]
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
    if not layout:
        return {PLAIN: np.array([int(w) for w in words], dtype=object)}
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
