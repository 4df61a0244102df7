"""Fixed-point conversion logic: rounding shifter and saturator (SPEC section 2).

These build combinational Amaranth expressions; the units decide where registers go.
"""

from amaranth.hdl import Const, Mux, signed

__all__ = ["round_shift", "saturate"]


def round_shift(x, d, mode, r=None, r_bits=0):
    """Drop ``d`` low bits of the signed value ``x`` with rounding ``mode``.

    Every mode is one add of a small value followed by an arithmetic shift, so the whole
    conversion is one carry chain. ``r`` is the ``r_bits``-bit random value (stochastic only);
    it is added at bit ``d - r_bits``. ``d <= 0`` shifts left, exactly.
    """
    if d <= 0:
        return x << -d
    if mode == "truncate":
        return x >> d
    if mode == "nearest":
        return (x + Const(1 << (d - 1))) >> d
    if mode == "nearest_even":
        # x + (half - 1) + lsb_of_quotient: a tie rounds up only when the quotient is odd.
        q_lsb = (x >> d)[0]
        return (x + Const((1 << (d - 1)) - 1) + q_lsb) >> d
    if mode == "stochastic":
        assert r is not None and 1 <= r_bits <= d
        return (x + (r[:r_bits] << (d - r_bits))) >> d
    raise ValueError(f"unknown rounding mode {mode!r}")


def saturate(v, wl, *, wrap=False):
    """Fit the signed value ``v`` into ``wl`` bits. Returns ``(value, overflow)`` expressions."""
    width = len(v)
    if width <= wl:
        return v.as_signed() if v.shape().signed else v, Const(0, 1)
    lo, hi = -(1 << (wl - 1)), (1 << (wl - 1)) - 1
    # The value fits when every bit from wl-1 up is a copy of the sign.
    top = v[wl - 1:]
    fits = (top == 0) | (top == (1 << len(top)) - 1)
    ovf = ~fits
    if wrap:
        return v[:wl].as_signed(), ovf
    sign = v[-1]
    clipped = Mux(sign, Const(lo, signed(wl)), Const(hi, signed(wl)))
    return Mux(fits, v[:wl].as_signed(), clipped), ovf


