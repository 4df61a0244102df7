"""Fixed point ``<IL, FL>`` arithmetic, exactly as the hardware computes it (SPEC section 2).

Two's complement, word length ``WL = IL + FL`` (``IL`` counts the sign bit), value =
integer / 2**FL. Every function here works on Python integers held in numpy ``object`` arrays,
so widths past 63 bits stay exact; nothing here knows about HDL.

Rounding a value held with ``F`` fractional bits to ``FL`` fractional bits drops
``D = F - FL`` bits (Gupta et al. 2015, "Deep Learning with Limited Numerical Precision"):

``truncate``
    ``floor(x / 2**D)``.
``nearest``
    ``floor((x + 2**(D-1)) / 2**D)``: exact ties go toward +inf. The paper's formula sends
    exact ties down; we chose +inf because it is one adder with a constant, and say so here.
``nearest_even``
    Ties go to the even neighbour (IEEE 754 default).
``stochastic``
    ``floor((x + (r << (D - R'))) / 2**D)`` with ``r`` uniform on ``[0, 2**R')``,
    ``R' = min(R, D)``: rounds up with a probability equal to the dropped fraction quantized
    to ``R'`` bits, so the expected error is at most ``2**-R' * eps``.

When ``D <= 0`` nothing is dropped and the value is shifted left, exactly.
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = [
    "ROUNDING_MODES", "MAX_WL", "FixedFormat", "check_format", "check_rounding",
    "round_shift", "saturate", "convert", "quantize", "to_float", "as_int_array", "wrap_signed",
    "requantize",
]

ROUNDING_MODES = ("truncate", "nearest", "nearest_even", "stochastic")

#: Widest word (IL + FL) a fixed-point operand or result may have.
MAX_WL = 32


def check_format(il, fl, *, il_name="il", fl_name="fl", max_wl=MAX_WL):
    """Validate one ``<IL, FL>`` pair; messages name the parameter, the value, what is allowed."""
    if not isinstance(il, int) or isinstance(il, bool):
        raise TypeError(f"{il_name} must be an integer, not {il!r}")
    if not isinstance(fl, int) or isinstance(fl, bool):
        raise TypeError(f"{fl_name} must be an integer, not {fl!r}")
    if il < 1:
        raise ValueError(f"{il_name} must be >= 1 (it counts the sign bit), not {il!r}")
    if fl < 0:
        raise ValueError(f"{fl_name} must be >= 0, not {fl!r}")
    if il + fl > max_wl:
        raise ValueError(
            f"word length {il_name} + {fl_name} must be <= {max_wl}, not {il} + {fl} = {il + fl}")


def check_rounding(mode, *, name="rounding"):
    if mode not in ROUNDING_MODES:
        allowed = ", ".join(repr(m) for m in ROUNDING_MODES)
        raise ValueError(f"{name} must be one of {allowed}, not {mode!r}")


@dataclass(frozen=True)
class FixedFormat:
    """A signed fixed-point format ``<il, fl>``."""

    il: int
    fl: int

    def __post_init__(self):
        check_format(self.il, self.fl)

    @property
    def wl(self):
        return self.il + self.fl

    @property
    def min_int(self):
        return -(1 << (self.wl - 1))

    @property
    def max_int(self):
        return (1 << (self.wl - 1)) - 1

    @property
    def eps(self):
        return Fraction(1, 1 << self.fl)

    def __str__(self):
        return f"<{self.il},{self.fl}>"


def as_int_array(x):
    """Python integers in a 1-D numpy object array (exact at any width)."""
    arr = np.asarray(x)
    if arr.dtype != object:
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"expected integers, got dtype {arr.dtype}")
        arr = arr.astype(object)
    return np.array([int(v) for v in arr.reshape(-1)], dtype=object).reshape(arr.shape)


def round_shift(x, d, mode, samples=None, r_bits=None):
    """Drop ``d`` fractional bits of the integers ``x`` with rounding ``mode``.

    Stochastic rounding needs one ``r_bits``-bit LFSR sample per element in ``samples``;
    its low ``R' = min(r_bits, d)`` bits are the random integer ``r``, added at bit ``d - R'``.
    """
    check_rounding(mode)
    x = as_int_array(x)
    if d <= 0:
        return x * (1 << -d)
    scale = 1 << d
    if mode == "truncate":
        return x // scale
    if mode == "nearest":
        return (x + scale // 2) // scale
    if mode == "nearest_even":
        q = x // scale
        rem = x - q * scale
        half = scale // 2
        up = [int(rm > half or (rm == half and qq % 2 == 1)) for rm, qq in zip(rem, q)]
        return q + np.array(up, dtype=object)
    # stochastic
    if samples is None or r_bits is None:
        raise ValueError("stochastic rounding needs the LFSR samples and r_bits")
    samples = as_int_array(samples)
    if samples.shape != x.shape:
        raise ValueError(f"samples have shape {samples.shape}, x has shape {x.shape}")
    rp = min(r_bits, d)
    r = np.array([int(s) % (1 << rp) for s in samples], dtype=object)
    return (x + r * (1 << (d - rp))) // scale


def wrap_signed(v, width):
    """The Python integer ``v`` as a ``width``-bit two's complement value (what a register
    of that width holds after an overflow)."""
    half = 1 << (width - 1)
    return ((int(v) + half) % (1 << width)) - half


def saturate(y, wl, *, wrap=False):
    """Fit integers into a signed ``wl``-bit word: saturate (default) or wrap.

    Returns ``(codes, overflow)``; overflow is 1 wherever the value did not fit.
    """
    y = as_int_array(y)
    lo, hi = -(1 << (wl - 1)), (1 << (wl - 1)) - 1
    ovf = np.array([int(v < lo or v > hi) for v in y], dtype=object)
    if wrap:
        out = np.array([wrap_signed(v, wl) for v in y], dtype=object)
    else:
        out = np.array([min(max(v, lo), hi) for v in y], dtype=object)
    return out, ovf


def requantize(acc, *, shift, out_width, mode, bias=0, relu=False, samples=None,
               r_bits=None):
    """A layer's accumulators to its output width (SPEC section 8): ``acc + bias``, an
    arithmetic right shift by ``shift`` rounded by ``mode`` (:func:`round_shift`; stochastic
    takes one LFSR sample an element, in order), saturation to ``out_width`` signed bits,
    then ReLU (``max(0, .)``) when ``relu``. Integers in, integers (object array) out."""
    shape = np.shape(acc)
    x = (as_int_array(acc) + as_int_array(np.broadcast_to(bias, shape))).reshape(-1)
    if samples is not None:
        samples = as_int_array(samples).reshape(-1)
    y, _ = saturate(round_shift(x, shift, mode, samples, r_bits), out_width)
    if relu:
        y = np.array([max(int(v), 0) for v in y], dtype=object)
    return y.reshape(shape)


def convert(x, f_in, fmt, mode, *, samples=None, r_bits=None, wrap=False):
    """Convert integers ``x`` with ``f_in`` fractional bits to ``fmt``: round, then saturate."""
    return saturate(round_shift(x, f_in - fmt.fl, mode, samples, r_bits), fmt.wl, wrap=wrap)


def quantize(values, fmt, mode="nearest", *, samples=None, r_bits=None, wrap=False):
    """Quantize real numbers to ``fmt`` codes, with the same rounding rules as hardware.

    Every finite float is a dyadic rational, so it is first made an exact integer with enough
    fractional bits; the only rounding is then the one ``mode`` asks for.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        raise ValueError("cannot quantize NaN or infinite values")
    fracs = [Fraction(float(v)) for v in values]
    f_in = max([fmt.fl] + [f.denominator.bit_length() - 1 for f in fracs])
    scaled = np.array([int(f * (1 << f_in)) for f in fracs], dtype=object)
    return convert(scaled, f_in, fmt, mode, samples=samples, r_bits=r_bits, wrap=wrap)


def to_float(codes, fmt):
    """Codes of ``fmt`` to float64 values."""
    return np.array([float(Fraction(int(c), 1 << fmt.fl)) for c in np.asarray(codes).reshape(-1)])
