"""Test vectors and latency checks for the bit-serial units (dpu, p2s)."""

import numpy as np

from ..golden.bitserial import DPUBeat

__all__ = ["dpu_beats", "p2s_words", "p2s_first_plane_latency"]


# ---------------------------------------------------------------------------------------------
# Dot-product unit.

def dpu_beats(params, rng, groups):
    """Directed beats, then ``groups`` seeded random groups, as :class:`DPUBeat` s.

    Directed: a sum that starts without ``first`` (from the reset value), zero operands, all
    ones at the largest shift added and negated until the accumulator wraps both ways, groups
    of one beat back to back, and a sum that goes on without ``first`` after a ``last``.
    Random: group lengths 1..8, operand densities from sparse to dense, any shift and sign,
    and now and then no ``first`` (the sum continues).
    """
    dk, top = params.dk, params.max_shift
    ones = (1 << dk) - 1
    alt = int("01" * dk, 2) & ones
    beats = [
        DPUBeat(ones, ones, 0, False, False, False),      # no first: acc starts at 0
        DPUBeat(alt, ones, top, False, False, True),
        DPUBeat(0, ones, top, True, True, True),          # zero operands, negated
        DPUBeat(ones, 0, 0, False, True, True),
    ]
    # All ones at the largest shift, 2**k times each way: wraps any small accumulator.
    for negate in (False, True):
        for k in range(6):
            beats.append(DPUBeat(ones, ones, top, negate, k == 0, k == 5))
    # Groups of one beat, back to back, every shift and both signs.
    for s in range(top + 1):
        for negate in (False, True):
            beats.append(DPUBeat(ones ^ (1 << (s % dk)), ones, s, negate, True, True))
    # A last in the middle of a sum: the next beats add to it (no first).
    beats += [DPUBeat(alt, alt, min(1, top), False, True, True),
              DPUBeat(ones, alt, top, True, False, True),
              DPUBeat(ones, ones, 0, False, False, True)]
    for _ in range(groups):
        length = int(rng.integers(1, 9))
        restart = rng.random() >= 0.1
        for k in range(length):
            a, b = (_random_word(rng, dk) for _ in range(2))
            beats.append(DPUBeat(a, b, int(rng.integers(0, top + 1)), bool(rng.random() < 0.5),
                                 k == 0 and restart, k == length - 1))
    return beats


def _random_word(rng, n):
    bits = rng.random(n) < rng.random()
    return sum(1 << int(j) for j in np.flatnonzero(bits))


# ---------------------------------------------------------------------------------------------
# Parallel to serial.

def p2s_words(params, rng, count):
    """Directed words (zeros, all ones, most negative and most positive signed fields,
    alternating bits, one element set) then ``count`` seeded random words over the whole
    range ``-2**(W-1) .. 2**W - 1`` of a field; shape ``(n, E)`` int64."""
    E, W = params.elements, params.max_width
    lo, hi = -(1 << (W - 1)), (1 << W) - 1
    alt = int("01" * W, 2) & hi
    rows = [np.zeros(E), np.full(E, hi), np.full(E, -1), np.full(E, lo),
            np.full(E, (1 << (W - 1)) - 1), np.full(E, alt), np.full(E, alt ^ hi),
            [hi if e == E // 2 else 0 for e in range(E)],
            [(e % 2) * hi for e in range(E)]]
    directed = np.array(rows, dtype=np.int64)
    rand = rng.integers(lo, hi + 1, size=(count, E), dtype=np.int64)
    return np.concatenate([directed, rand])


def p2s_first_plane_latency(resp, w):
    """Cycles from accepting each word to its first plane, for the words whose first plane
    left before the first back-pressure cycle."""
    seen = set()
    stall = resp.get("first_stall")
    for n, cin in enumerate(resp["in_cycles"]):
        if n * w >= len(resp["out_cycles"]):
            break
        out = resp["out_cycles"][n * w]
        if stall is not None and out >= stall:
            break
        seen.add(out - cin)
    return seen
