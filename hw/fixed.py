"""Fixed-point conversion logic: rounding offsets and the saturator (SPEC section 2).

Every rounding mode is ``(x + offset) >> d`` with a small ``offset < 2**d``, so a conversion
is one carry chain (which :func:`lowbit.hw.arith.pipelined_add` may cut) and a shift.
"""

from amaranth.hdl import Const, Mux, signed

__all__ = ["round_offset", "saturate"]


def round_offset(x, d, mode, r=None, r_bits=0):
    """The offset that makes ``(x + offset) >> d`` round ``x`` by ``mode``; None for none.

    ``nearest``: half. ``nearest_even``: half - 1 plus the quotient's LSB, so a tie rounds up
    only when the quotient is odd. ``stochastic``: the ``r_bits``-bit random ``r`` placed at
    bit ``d - r_bits``.
    """
    if d <= 0 or mode == "truncate":
        return None
    if mode == "nearest":
        return Const(1 << (d - 1), d)
    if mode == "nearest_even":
        q_lsb = (x >> d)[0]  # x >> d keeps the sign bit when d >= len(x)
        return Const((1 << (d - 1)) - 1, d) + q_lsb
    if mode == "stochastic":
        assert r is not None and 1 <= r_bits <= d
        return r[:r_bits] << (d - r_bits)
    raise ValueError(f"unknown rounding mode {mode!r}")


def saturate(v, wl, *, wrap=False):
    """Fit the signed value ``v`` into ``wl`` bits. Returns ``(value, overflow)`` expressions."""
    width = len(v)
    if width <= wl:
        return v, Const(0, 1)
    lo, hi = -(1 << (wl - 1)), (1 << (wl - 1)) - 1
    # The value fits when every bit from wl-1 up is a copy of the sign.
    top = v[wl - 1:]
    fits = (top == 0) | (top == (1 << len(top)) - 1)
    ovf = ~fits
    if wrap:
        return v[:wl].as_signed(), ovf
    clipped = Mux(v[-1], Const(lo, signed(wl)), Const(hi, signed(wl)))
    return Mux(fits, v[:wl].as_signed(), clipped), ovf
