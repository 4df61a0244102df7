"""MAC vectors: directed edge cases and seeded random sums, and Gupta et al.'s small increments."""

from dataclasses import dataclass, field
from fractions import Fraction

from ..golden import mac_golden
from ..hw.units import get_unit
from .runner import run_job

__all__ = ["MacVectors", "directed_vectors", "random_vectors", "sum_of_products",
           "small_increments"]


@dataclass
class MacVectors:
    """A stream of MAC beats; ``labels`` names the case of each result (each ``last``)."""

    a: list = field(default_factory=list)
    b: list = field(default_factory=list)
    first: list = field(default_factory=list)
    last: list = field(default_factory=list)
    labels: list = field(default_factory=list)

    def add_sum(self, label, pairs, *, first=True):
        """Append one sum of the ``(a, b)`` pairs, ending in a result labelled ``label``."""
        pairs = list(pairs)
        for k, (a, b) in enumerate(pairs):
            self.a.append(int(a))
            self.b.append(int(b))
            self.first.append(int(first and k == 0))
            self.last.append(int(k == len(pairs) - 1))
        self.labels.append(label)

    def extend(self, other):
        for name in ("a", "b", "first", "last", "labels"):
            getattr(self, name).extend(getattr(other, name))

    def __len__(self):
        return len(self.a)

    def job(self, params):
        """These beats as the MAC's :class:`~lowbit.golden.job.Job` (its adapter)."""
        return get_unit("mac").job(params, self.a, self.b, self.first, self.last,
                                   labels=self.labels)

    def golden(self, params):
        """The golden ``(value, overflow)`` of each result."""
        value, ovf = mac_golden(params, self.a, self.b, self.first, self.last)
        return list(zip(value, ovf))


def _pow2_pair(p, sign, k):
    """Codes (a, b) with a * b == sign * 2**k, or None when the formats cannot hold it."""
    wa, wb = p.fmt_a.wl, p.fmt_b.wl
    top_i = wa - 1 if sign < 0 else wa - 2  # -2**(wa-1) is a code; +2**(wa-1) is not
    for i in range(top_i + 1):
        j = k - i
        if 0 <= j <= wb - 2:
            return sign * (1 << i), 1 << j
    return None


def _corners(fmt):
    """Most negative, most positive, zero, +-1 and one above the most negative, if codes."""
    candidates = {fmt.min_int, fmt.max_int, 0, 1, -1, fmt.min_int + 1}
    return sorted(c for c in candidates if fmt.min_int <= c <= fmt.max_int)


def directed_vectors(p):
    """Edge cases of SPEC section 2 for the formats of ``p``: extremes, zero, exact ties,
    saturation on both sides, and (when the guard is small) an accumulator that wraps."""
    v = MacVectors()
    fa, fb = p.fmt_a, p.fmt_b
    for a in _corners(fa):
        for b in _corners(fb):
            v.add_sum(f"extreme a={a} b={b}", [(a, b)])
    v.add_sum("zero sum", [(0, 0)] * 5)
    v.add_sum("cancel", [(fa.max_int, fb.max_int), (-fa.max_int, fb.max_int)])

    # Exact ties at the rounding point: +-2**(D-1), and with an odd quotient (+-3 * 2**(D-1)).
    d = p.product_drop if p.product_drop > 0 else p.output_drop
    if d > 0:
        half, one = d - 1, d
        for sign in (1, -1):
            tie = _pow2_pair(p, sign, half)
            whole = _pow2_pair(p, sign, one)
            if tie:
                v.add_sum(f"tie {sign:+d}*2^{half}", [tie])
                if whole:
                    v.add_sum(f"tie {sign:+d}*3*2^{half}", [tie, whole])
                    v.add_sum(f"tie {sign:+d}*5*2^{half}", [tie, whole, whole])

    # Saturation both sides: repeat the largest product of each sign until the output overflows.
    max_o = p.fmt_o.max_int * (1 << max(p.output_drop, 0))
    for label, pair in (("saturate +", (fa.min_int, fb.min_int)),
                        ("saturate -", (fa.min_int, fb.max_int))):
        prod = abs(pair[0] * pair[1])
        if prod == 0:
            continue
        n = max_o // prod + 2
        n = min(n, 1 << p.guard, 4096)
        v.add_sum(f"{label} x{n}", [pair] * n)

    # Accumulator wrap: more than 2**(guard+1) full-scale terms (documented two's complement).
    n_wrap = (1 << (p.guard + 1)) + 1
    if n_wrap <= 1024:
        v.add_sum(f"acc wrap x{n_wrap}", [(fa.min_int, fb.min_int)] * n_wrap)
    return v


def random_vectors(p, rng, n, *, max_len=16):
    """About ``n`` beats of seeded random sums: full-range and small operands, sums of 1 to
    ``max_len`` terms, one in eight sums continuing the previous accumulator (no ``first``)."""
    v = MacVectors()
    fa, fb = p.fmt_a, p.fmt_b
    while len(v) < n:
        length = int(rng.integers(1, max_len + 1)) if rng.random() < 0.8 else 1
        if rng.random() < 0.7:
            a = rng.integers(fa.min_int, fa.max_int + 1, size=length)
            b = rng.integers(fb.min_int, fb.max_int + 1, size=length)
            kind = "random full"
        else:
            sa = int(rng.integers(1, fa.wl + 1))
            sb = int(rng.integers(1, fb.wl + 1))
            a = rng.integers(-(1 << (sa - 1)), 1 << (sa - 1), size=length)
            b = rng.integers(-(1 << (sb - 1)), 1 << (sb - 1), size=length)
            kind = "random small"
        v.add_sum(kind, zip(a.tolist(), b.tolist()), first=rng.random() >= 0.125)
    return v


def sum_of_products(params, a, b, length):
    """Vectors for consecutive sums of ``length`` terms of the pairs ``a[k] * b[k]``."""
    v = MacVectors()
    for k in range(0, len(a), length):
        v.add_sum("sum", zip(a[k:k + length], b[k:k + length]))
    return v


def small_increments(gen_dir, manifest, params, n_terms, a_code, b_code, *, sim="verilator",
                     seed=1):
    """Gupta et al.'s effect on the RTL: one sum of ``n_terms`` equal increments.

    Returns ``(hw_code, golden_code, exact)``: the MAC's result code, the golden model's, and
    the exact sum in output LSBs (a Fraction). With ``round_products`` and increments below
    eps/2, ``nearest`` rounds every term to zero while ``stochastic`` tracks the true sum.
    """
    vectors = sum_of_products(params, [a_code] * n_terms, [b_code] * n_terms, n_terms)
    (value, _), _, _ = run_job(gen_dir, manifest, vectors.job(params), sim=sim, seed=seed,
                               idle=0, backpressure=0)
    want, _ = vectors.golden(params)[0]
    exact = Fraction(a_code * b_code * n_terms, 1 << (params.product_fl - params.fl_o))
    return int(value[0]), int(want), exact

