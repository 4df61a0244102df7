"""Test vectors for the binarized units: popcount words and XNOR dot products."""

from dataclasses import dataclass, field

import numpy as np

from ..golden.binary import xnor_chunks, xnor_stream_golden
from ..hw.units import get_unit

__all__ = ["popcount_words", "XnorVectors", "xnor_vectors"]


def popcount_words(n, rng, count):
    """Directed words (zeros, ones, alternating, single bits) then seeded random words with
    every density from sparse to dense."""
    full = (1 << n) - 1
    alt = int("01" * n, 2) & full
    words = [0, full, alt, full ^ alt]
    words += [1 << j for j in sorted({0, n // 2, n - 1})]
    words += [full ^ (1 << j) for j in sorted({0, n - 1})]
    for _ in range(count):
        density = rng.random()
        bits = rng.random(n) < density
        words.append(sum(1 << int(j) for j in np.flatnonzero(bits)))
    return words


@dataclass
class XnorVectors:
    a: list = field(default_factory=list)
    w: list = field(default_factory=list)
    length: list = field(default_factory=list)
    first: list = field(default_factory=list)
    last: list = field(default_factory=list)
    labels: list = field(default_factory=list)

    def add_vector(self, label, a_bits, w_bits, params):
        """One dot product of two bit vectors, cut into ``n``-bit chunks (the last one
        partial) by the unit's adapter (:func:`lowbit.golden.binary.xnor_chunks`)."""
        for name, column in xnor_chunks(params, [(a_bits, w_bits)]).items():
            getattr(self, name).extend(column)
        self.labels.append(label)

    def job(self, params):
        """These chunks as the XNOR unit's :class:`~lowbit.golden.job.Job`."""
        return get_unit("xnor").job(params, self.a, self.w, self.length, self.first,
                                    self.last, labels=self.labels)

    def golden(self, params):
        """The golden dot product of each vector."""
        return xnor_stream_golden(params, self.a, self.w, self.length, self.first, self.last)


def xnor_vectors(params, rng, n_random):
    """Directed: all agree, all disagree, alternating, single bit, lengths that are not
    multiples of N (including 1 and max_length); then seeded random vectors and lengths."""
    n, top = params.n, params.max_length
    v = XnorVectors()
    lengths = sorted({1, n, min(top, n + 1), min(top, 2 * n - 1), top,
                      max(1, n - 1), min(top, 3 * n + 2)})
    for length in lengths:
        ones = [1] * length
        zeros = [0] * length
        alt = [j % 2 for j in range(length)]
        single = [int(j == length // 2) for j in range(length)]
        v.add_vector(f"agree len={length}", ones, ones, params)
        v.add_vector(f"disagree len={length}", ones, zeros, params)
        v.add_vector(f"agree zeros len={length}", zeros, zeros, params)
        v.add_vector(f"alternating len={length}", alt, ones, params)
        v.add_vector(f"single bit len={length}", single, zeros, params)
    for _ in range(n_random):
        length = int(rng.integers(1, top + 1)) if rng.random() < 0.5 else \
            int(rng.integers(1, min(top, 4 * n) + 1))
        density = rng.random()
        a = (rng.random(length) < density).astype(int).tolist()
        w = (rng.random(length) < 0.5).astype(int).tolist()
        v.add_vector("random", a, w, params)
    return v
