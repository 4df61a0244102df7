"""Parameter and array checks shared by the golden models: one wording for every unit.

Each raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for one out of
range, with a message that names the parameter, the value and what is allowed.
"""

import dataclasses
from pathlib import Path

import numpy as np

__all__ = ["parse_bool", "check_int", "check_product", "check_bool", "check_max", "check_choice",
           "int_array",
           "UsageError",
           "parse_params", "load_array", "int_codes", "only_bits", "checked", "where",
           "unless_given"]


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(name, value, lo, hi=None):
    """``value`` as an int in ``[lo, hi]`` (``hi=None``: no upper bound)."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        allowed = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise ValueError(f"{name} must be {allowed}, not {value!r}")
    return int(value)


def check_product(name, value, limit, what):
    """A size made of several parameters (``name``: how, e.g. ``"dm x dn x dk"``) against
    ``limit``: ValueError naming the product, its value, the limit and what it bounds."""
    if value > limit:
        raise ValueError(f"{name} must be <= {limit:,} ({what}), not {value:,}")
    return value


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a boolean, not {value!r}")
    return bool(value)


def check_max(name, value, max_name, max_value):
    """A run-time value against a generated maximum: ``1 .. max_value``."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not 1 <= value <= max_value:
        raise ValueError(f"{name} must be between 1 and {max_name} (= {max_value}), "
                         f"not {value!r}")
    return int(value)


def check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, "
                         f"not {value!r}")
    return value


def int_array(name, x):
    """``x`` as an integer array: int64, or Python ints (object) for uint64 and object input."""
    a = np.asarray(x)
    if a.dtype.kind == "O":
        for v in a.flat:
            if not _is_int(v):
                raise TypeError(f"{name} must hold integers, not {v!r}")
        return a
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, not dtype {a.dtype}")
    if a.dtype == np.uint64:
        return a.astype(object)
    return a.astype(np.int64)


class UsageError(ValueError):
    """Bad input from the user: reported as one message, exit status 2."""


def parse_bool(name, text):
    """``1 true yes on`` / ``0 false no off`` (any case) as a bool, or UsageError naming
    ``name``."""
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"parameter {name} must be true or false, not {text!r} (1/0, yes/no and "
                     f"on/off also)")


def _convert(field, text):
    convert = field.metadata.get("convert")
    if convert is not None:  # a parameter given as a file (bnn's -p network=FILE.npz)
        return convert(text)
    kind = type(field.default)
    if kind is bool:
        return parse_bool(field.name, text)
    if kind is int:
        try:
            return int(text, 0)
        except ValueError:
            raise UsageError(f"parameter {field.name} must be an integer, not {text!r}") from None
    return text


def parse_params(unit, items=()):
    """Build ``unit``'s parameter object from ``key=value`` strings (validated on creation)."""
    fields = {f.name: f for f in dataclasses.fields(unit.params_cls)}
    values = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"parameter {item!r} must be written key=value")
        if key not in fields:
            raise UsageError(f"unknown parameter {key!r} for unit {unit.name}; "
                             f"allowed: {', '.join(fields)}")
        if key in values:
            raise UsageError(f"parameter {key} is given twice (-p {key}=...); give each "
                             f"parameter once")
        values[key] = _convert(fields[key], text.strip())
    try:
        return unit.params_cls(**values)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{unit.name}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# A user's arrays (lowbit compare): one wording for every unit.

#: The most elements an input file may hold (64 Mi): far beyond what a simulation runs in
#: minutes, and refused from the file's header, before any of its data is read.
MAX_ELEMENTS = 1 << 26


def _header(path, option):
    """The ``.npy`` header of ``path``: ``(shape, dtype, data offset)``, checked against the
    file's size, or UsageError."""
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":
            raise UsageError(f"{option} {path} holds an archive (.npz), not one array")
        f.seek(0)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f".npy format version {version[0]}.{version[1]}, which lowbit "
                             f"does not read (1.0 and 2.0 it does)")
        return shape, dtype, f.tell()


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def load_array(path, option="--input"):
    """Load a ``.npy`` file, or raise UsageError naming the option, the file and the reason.

    The header is checked before any data is read: a numeric dtype (booleans, integers,
    floats), at most :data:`MAX_ELEMENTS` elements, and a file as long as the header says.
    Unsigned 64-bit integers come back as int64, refused when a value does not fit (so a
    later check against a unit's width sees the true value, never a wrapped one)."""
    path = Path(path)
    try:
        if path.is_dir():
            raise UsageError(f"cannot read {option} {path}: it is a directory")
        shape, dtype, offset = _header(path, option)
        size = path.stat().st_size
    except FileNotFoundError:
        raise UsageError(f"cannot read {option} {path}: no such file") from None
    except UsageError:
        raise
    except Exception as exc:  # numpy parses the header with ast: any parse error is bad input
        raise UsageError(f"cannot read {option} {path}: not a readable .npy array "
                         f"({_first_line(exc)})") from None
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise UsageError(f"{option} {path} holds dtype {dtype}; lowbit reads booleans, "
                         f"integers and real numbers")
    count = int(np.prod(shape, dtype=object))
    if count > MAX_ELEMENTS:
        raise UsageError(f"{option} {path} holds {count:,} elements (shape {shape}); at most "
                         f"{MAX_ELEMENTS:,} are allowed")
    if size - offset != count * dtype.itemsize:
        raise UsageError(f"cannot read {option} {path}: its header says shape {shape} of "
                         f"{dtype} ({count * dtype.itemsize:,} bytes) but it holds "
                         f"{size - offset:,} bytes of data")
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"cannot read {option} {path}: not a readable .npy array "
                         f"({_first_line(exc)})") from None
    if arr.dtype == np.uint64:
        big = np.argwhere(arr > np.iinfo(np.int64).max)
        if len(big):
            raise UsageError(f"{option} {path}: {arr[tuple(big[0])]} at index {where(big[0])} "
                             f"is too large for any unit's width")
        arr = arr.astype(np.int64)
    return arr


def int_codes(arr, what):
    """Integers as int64 (raw two's complement codes), or UsageError naming ``what``."""
    if not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"{what} must hold integers (raw two's complement codes), "
                         f"not {arr.dtype}")
    return arr.astype(np.int64)


def where(index):
    """An array index as an int (1-D) or a tuple, for messages."""
    return tuple(int(i) for i in index) if len(index) > 1 else int(index[0])


def only_bits(arr, what):
    """0/1 integers or booleans as uint8 (nothing is binarized), or UsageError."""
    if arr.dtype != bool and not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"{what} must hold bits 0 and 1 (integers or booleans), not {arr.dtype}")
    bad = np.argwhere((arr != 0) & (arr != 1))
    if len(bad):
        raise UsageError(f"{what} must hold bits 0 and 1, not {arr[tuple(bad[0])]} at index "
                         f"{where(bad[0])}")
    return arr.astype(np.uint8)


def checked(check, what, arr):
    """``check(arr)``, its ValueError turned into UsageError prefixed with ``what``."""
    try:
        return check(arr)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None


def unless_given(items, inferred):
    """``items`` plus ``key=value`` for each inferred parameter the user did not give."""
    given = {item.partition("=")[0].strip() for item in items}
    return list(items) + [f"{k}={v}" for k, v in inferred.items() if k not in given]
