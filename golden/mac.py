"""Fixed-point multiply-accumulate: parameters and the bit-exact reference model.

The MAC (SPEC section 2): signed ``a: <il_a, fl_a>`` times ``b: <il_b, fl_b>``, exact product
of ``WL_a + WL_b`` bits, exact accumulator with ``guard`` extra bits (room for ``2**guard``
full-scale terms; past that it wraps, as two's complement hardware does), one rounding to the
output ``<il_o, fl_o>`` and saturation with an overflow flag.

With ``round_products`` each product is rounded to ``fl_o`` fractional bits before it is
accumulated (the other variant Gupta et al. studied); the final conversion then only
saturates. Stochastic rounding takes one LFSR sample per rounding event, in stream order.
"""

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .checks import UsageError
from .fixed import (
    FixedFormat,
    check_format,
    check_rounding,
    quantize,
    round_shift,
    saturate,
    wrap_signed,
)
from .job import Comparison, Job
from .lfsr import LFSRModel, LFSRParams, check_lfsr

__all__ = ["MACParams", "mac_golden", "mac_job", "mac_compare", "MAX_GUARD", "MAX_PIPELINE"]

MAX_GUARD = 32
MAX_PIPELINE = 4
MIN_CARRY_CHAIN, MAX_CARRY_CHAIN = 4, 128


@dataclass(frozen=True)
class MACParams:
    """One object for the MAC's hardware, golden model and generator.

    Parameters
    ----------
    il_a, fl_a, il_b, fl_b : int
        Input formats ``<IL, FL>``; IL >= 1 counts the sign bit, FL >= 0, IL + FL <= 32.
    il_o, fl_o : int
        Output format.
    guard : int
        Accumulator guard bits G (0..32): exact for up to 2**G full-scale terms.
    rounding : str
        ``truncate``, ``nearest``, ``nearest_even`` or ``stochastic``.
    round_products : bool
        Round each product to ``fl_o`` before accumulating, instead of once at the output.
    saturate : bool
        Saturate on output overflow (default); False wraps. The flag is raised either way.
    lfsr_width, r_bits, seed : int
        The stochastic-rounding LFSR: L (2..64), R random bits per sample (1..L), nonzero seed.
    pipeline : int
        Extra register stages, 0..4, added in this order: product, input, output, rounding.
    carry_chain : int
        0, or the longest carry chain (4..128 bits) the accumulator and the rounding adders may
        have; each further segment adds one cycle of latency. Timing only: results are the same.
    """

    il_a: int = field(default=4, metadata={
        "help": "integer bits of a, sign included (>= 1; il_a + fl_a <= 32)"})
    fl_a: int = field(default=12, metadata={"help": "fractional bits of a (>= 0)"})
    il_b: int = field(default=4, metadata={
        "help": "integer bits of b, sign included (>= 1; il_b + fl_b <= 32)"})
    fl_b: int = field(default=12, metadata={"help": "fractional bits of b (>= 0)"})
    il_o: int = field(default=8, metadata={
        "help": "integer bits of the output (>= 1; il_o + fl_o <= 32)"})
    fl_o: int = field(default=8, metadata={"help": "fractional bits of the output (>= 0)"})
    guard: int = field(default=8, metadata={
        "help": "accumulator guard bits G: exact for 2**G full-scale terms (0..32)"})
    rounding: str = field(default="nearest", metadata={
        "help": "truncate | nearest | nearest_even | stochastic"})
    round_products: bool = field(default=False, metadata={
        "help": "round every product to fl_o before accumulating"})
    saturate: bool = field(default=True, metadata={
        "help": "saturate on overflow (false: wrap); the overflow flag is set either way"})
    lfsr_width: int = field(default=16, metadata={
        "help": "stochastic rounding LFSR width L (2..64, XAPP052 taps)"})
    r_bits: int = field(default=8, metadata={"help": "random bits R per rounding (1..L)"})
    seed: int = field(default=1, metadata={"help": "LFSR seed (nonzero, < 2**L)"})
    pipeline: int = field(default=2, metadata={
        "help": "extra register stages 0..4: product, input, output, rounding"})
    carry_chain: int = field(default=0, metadata={
        "help": "cut accumulator and rounding adders every N bits, +1 cycle per cut (0: no cut)"})

    def __post_init__(self):
        check_format(self.il_a, self.fl_a, il_name="il_a", fl_name="fl_a")
        check_format(self.il_b, self.fl_b, il_name="il_b", fl_name="fl_b")
        check_format(self.il_o, self.fl_o, il_name="il_o", fl_name="fl_o")
        check_rounding(self.rounding)
        for name in ("guard", "pipeline", "carry_chain"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an integer, not {value!r}")
        if not 0 <= self.guard <= MAX_GUARD:
            raise ValueError(f"guard must be between 0 and {MAX_GUARD}, not {self.guard!r}")
        if not 0 <= self.pipeline <= MAX_PIPELINE:
            raise ValueError(
                f"pipeline must be between 0 and {MAX_PIPELINE}, not {self.pipeline!r}")
        if self.carry_chain != 0 and not MIN_CARRY_CHAIN <= self.carry_chain <= MAX_CARRY_CHAIN:
            raise ValueError(
                f"carry_chain must be 0 (no cut) or between {MIN_CARRY_CHAIN} and "
                f"{MAX_CARRY_CHAIN}, not {self.carry_chain!r}")
        for name in ("round_products", "saturate"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a boolean, not {getattr(self, name)!r}")
        check_lfsr(self.lfsr_width, self.r_bits, self.seed)

    # Formats and derived widths, shared by hardware, golden and manifest.
    @property
    def fmt_a(self):
        return FixedFormat(self.il_a, self.fl_a)

    @property
    def fmt_b(self):
        return FixedFormat(self.il_b, self.fl_b)

    @property
    def fmt_o(self):
        return FixedFormat(self.il_o, self.fl_o)

    @property
    def product_width(self):
        return self.fmt_a.wl + self.fmt_b.wl

    @property
    def product_fl(self):
        return self.fl_a + self.fl_b

    @property
    def product_drop(self):
        """Bits dropped when a product is rounded (``round_products``); <= 0 means none."""
        return self.product_fl - self.fl_o if self.round_products else 0

    @property
    def term_width(self):
        """Width of one accumulated term: the product, or the rounded product."""
        d = self.product_drop
        if d > 0:
            # Rounding up can carry into one more bit; fewer bits are needed after the shift.
            return max(self.product_width - d + 1, 2)
        return self.product_width - d

    @property
    def acc_width(self):
        return self.term_width + self.guard

    @property
    def acc_fl(self):
        return self.fl_o if self.round_products else self.product_fl

    @property
    def output_drop(self):
        """Bits dropped at the output conversion."""
        return self.acc_fl - self.fl_o

    @property
    def lfsr(self):
        return LFSRParams(self.lfsr_width, self.r_bits, self.seed)


def mac_golden(params, a, b, first, last):
    """Stream of MAC beats in, list of results out: ``(values, overflow)`` int arrays.

    ``a``, ``b`` are raw two's complement codes of the input formats; ``first`` starts a new
    sum (the previous one is discarded unless ``last`` ended it), ``last`` ends a sum and
    produces one result. Beats before the first ``first`` add onto an accumulator of 0.
    """
    p = params
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    first, last = np.asarray(first).astype(bool), np.asarray(last).astype(bool)
    if not (a.shape == b.shape == first.shape == last.shape):
        raise ValueError("a, b, first and last must have the same length")
    for name, codes, fmt in (("a", a, p.fmt_a), ("b", b, p.fmt_b)):
        if len(codes) and not all(fmt.min_int <= int(c) <= fmt.max_int for c in codes):
            raise ValueError(f"{name} codes must lie in [{fmt.min_int}, {fmt.max_int}] "
                             f"for {name}: {fmt}")
    lfsr = LFSRModel(p.lfsr) if p.rounding == "stochastic" else None

    products = a * b
    if p.product_drop > 0:
        samples = lfsr.samples(len(products)) if lfsr else None
        terms = round_shift(products, p.product_drop, p.rounding, samples, p.r_bits)
    else:
        terms = products * (1 << -p.product_drop)

    sums = []
    acc = 0
    for t, f, la in zip(terms, first, last):
        acc = wrap_signed(int(t) + (0 if f else acc), p.acc_width)
        if la:
            sums.append(acc)
    sums = np.array(sums, dtype=object)
    d = p.output_drop
    samples = lfsr.samples(len(sums)) if (lfsr and d > 0) else None
    rounded = round_shift(sums, d, p.rounding, samples, p.r_bits)
    return saturate(rounded, p.fmt_o.wl, wrap=not p.saturate)


def mac_job(params, a, b, first, last, *, labels=None):
    """The MAC's adapter: beats of operand codes ``a``, ``b`` (ints of the input formats) and
    the ``first``/``last`` flags; the result is ``(values, overflow)``, int64 codes of the
    output format, one per ``last``."""
    a, b, first, last = ([int(x) for x in np.asarray(c).reshape(-1)]
                         for c in (a, b, first, last))
    if not len(a) == len(b) == len(first) == len(last):
        raise ValueError(f"a, b, first and last must have one length, not "
                         f"{len(a)}, {len(b)}, {len(first)}, {len(last)}")
    ends = [k for k, flag in enumerate(last) if flag]

    def decode(out):
        if len(out["value"]) != len(ends):
            return None
        return (np.asarray(out["value"], dtype=np.int64),
                np.asarray(out["overflow"], dtype=np.int64))

    return Job({"a": a, "b": b, "first": first, "last": last}, len(ends), decode,
               last_beats=ends, labels=labels, calm_beats=64)


def _codes(column, fmt, name, quantize_mode):
    if np.issubdtype(column.dtype, np.integer):
        bad = (column < fmt.min_int) | (column > fmt.max_int)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise UsageError(
                f"integer input is taken as raw {name} codes of {fmt}, which must lie in "
                f"[{fmt.min_int}, {fmt.max_int}]; element {k} is {int(column.reshape(-1)[k])}")
        return [int(x) for x in column.reshape(-1)], 0
    if np.issubdtype(column.dtype, np.floating):
        if not np.all(np.isfinite(column)):
            raise UsageError(f"the {name} column holds NaN or infinite values")
        codes, ovf = quantize(column.reshape(-1), fmt, quantize_mode)
        return [int(c) for c in codes], int(sum(ovf))
    raise UsageError(f"--input must hold integers or floats, not {column.dtype}")


def mac_compare(params, arr, *, terms=None, quantize=None, **_):
    """``lowbit compare mac``: ``arr`` is ``(n, 2)``, n pairs (a, b) summed ``terms`` at a
    time (default 1: n products), or ``(m, k, 2)``, m dot products of length k. Floats are
    quantized to the input formats with ``quantize`` (default nearest); integers are raw
    codes. The report adds the error against exact arithmetic on the quantized operands."""
    quantize_mode = quantize or "nearest"
    if arr.ndim == 3 and arr.shape[2] == 2:
        if terms is not None and terms != arr.shape[1]:
            raise UsageError(f"--terms {terms} contradicts the input shape {arr.shape}")
        terms = arr.shape[1]
        arr = arr.reshape(-1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise UsageError(f"--input for mac must have shape (n, 2) or (m, k, 2) with n, k > 0, "
                         f"not {arr.shape}")
    terms = 1 if terms is None else terms
    if terms < 1 or arr.shape[0] % terms:
        raise UsageError(f"--terms must be >= 1 and divide the {arr.shape[0]} input rows, "
                         f"not {terms}")
    a, ovf_a = _codes(arr[:, 0], params.fmt_a, "a", quantize_mode)
    b, ovf_b = _codes(arr[:, 1], params.fmt_b, "b", quantize_mode)
    n = len(a)
    first = [int(k % terms == 0) for k in range(n)]
    last = [int(k % terms == terms - 1) for k in range(n)]
    value, ovf = mac_golden(params, a, b, first, last)
    job = mac_job(params, a, b, first, last, labels=["user"] * (n // terms))

    def finish(got, resp, manifest):
        # Accuracy of the hardware against real arithmetic on the quantized operands, in eps_o.
        scale = Fraction(1, 1 << params.product_fl)
        eps = params.fmt_o.eps
        exact = [sum(Fraction(x * y) for x, y in zip(a[k:k + terms], b[k:k + terms])) * scale
                 for k in range(0, n, terms)]
        values = [Fraction(int(v)) * eps for v, _ in got or []]
        err = np.array([float((g - e) / eps) for g, e in zip(values, exact)])
        stats = {"mean": float(err.mean()) if err.size else 0.0,
                 "std": float(err.std()) if err.size else 0.0,
                 "max_abs": float(np.abs(err).max()) if err.size else 0.0}
        saturated = sum(o for _, o in got or [])
        return {"terms_per_result": terms, "input_overflow_when_quantizing": ovf_a + ovf_b,
                "output_overflow": int(saturated), "error_vs_exact_eps": stats,
                "rtl_values": [float(v) for v in values],
                "notes": [f"{params.fmt_a} x {params.fmt_b} -> {params.fmt_o}, "
                          f"{params.rounding} rounding, {terms} term(s) per result",
                          f"error vs exact arithmetic (output eps): mean {stats['mean']:+.4f}, "
                          f"std {stats['std']:.4f}, max |err| {stats['max_abs']:.4f}",
                          f"saturated results: {saturated}; inputs saturated when "
                          f"quantizing: {ovf_a + ovf_b}"]}

    return Comparison(job, list(zip(value, ovf)), lambda got: list(zip(*got)),
                      finish=finish, latency=True)
