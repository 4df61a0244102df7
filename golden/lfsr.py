"""Maximal-length LFSR, stepped one bit at a time (the reference for the leap-forward hardware).

Form: Fibonacci, shifting toward the MSB. With taps ``t_1 > ... > t_k`` (1-based, from
Xilinx XAPP052 table 3, "Efficient Shift Registers, LFSR Counters, and Long Pseudo-Random
Sequence Generators", Alfke 1996) one step is::

    feedback = XOR of state bits (t_i - 1)
    state    = ((state << 1) | feedback) mod 2**L

XAPP052 lists XNOR feedback; we use XOR with the same taps (same characteristic polynomial,
so the same maximal period 2**L - 1) and the all-zero state is then the lock-up state, which
is why a zero seed is rejected.

Sampling (SPEC section 2, leap-forward): sample ``k`` is the low ``R`` bits of the state after
``k * R`` single steps; sample 0 is the seed itself. Because the register shifts toward the MSB,
the low ``R`` bits after ``R`` steps are all fresh feedback bits: successive samples share no
bits.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["XAPP052_TAPS", "MIN_WIDTH", "MAX_WIDTH", "LFSRParams", "LFSRModel", "lane_seeds"]

#: Maximal-length taps, XAPP052 table 3 (widths 3..64); width 2 is x^2 + x + 1.
XAPP052_TAPS = {
    2: (2, 1), 3: (3, 2), 4: (4, 3), 5: (5, 3), 6: (6, 5), 7: (7, 6), 8: (8, 6, 5, 4),
    9: (9, 5), 10: (10, 7), 11: (11, 9), 12: (12, 6, 4, 1), 13: (13, 4, 3, 1),
    14: (14, 5, 3, 1), 15: (15, 14), 16: (16, 15, 13, 4), 17: (17, 14), 18: (18, 11),
    19: (19, 6, 2, 1), 20: (20, 17), 21: (21, 19), 22: (22, 21), 23: (23, 18),
    24: (24, 23, 22, 17), 25: (25, 22), 26: (26, 6, 2, 1), 27: (27, 5, 2, 1), 28: (28, 25),
    29: (29, 27), 30: (30, 6, 4, 1), 31: (31, 28), 32: (32, 22, 2, 1), 33: (33, 20),
    34: (34, 27, 2, 1), 35: (35, 33), 36: (36, 25), 37: (37, 5, 4, 3, 2, 1), 38: (38, 6, 5, 1),
    39: (39, 35), 40: (40, 38, 21, 19), 41: (41, 38), 42: (42, 41, 20, 19),
    43: (43, 42, 38, 37), 44: (44, 43, 18, 17), 45: (45, 44, 42, 41), 46: (46, 45, 26, 25),
    47: (47, 42), 48: (48, 47, 21, 20), 49: (49, 40), 50: (50, 49, 24, 23),
    51: (51, 50, 36, 35), 52: (52, 49), 53: (53, 52, 38, 37), 54: (54, 53, 18, 17),
    55: (55, 31), 56: (56, 55, 35, 34), 57: (57, 50), 58: (58, 39), 59: (59, 58, 38, 37),
    60: (60, 59), 61: (61, 60, 46, 45), 62: (62, 61, 6, 5), 63: (63, 62), 64: (64, 63, 61, 60),
}
MIN_WIDTH = min(XAPP052_TAPS)
MAX_WIDTH = max(XAPP052_TAPS)


def check_lfsr(width, r_bits, seed, *, prefix="lfsr_"):
    """Validate LFSR parameters; shared by every unit that embeds an LFSR."""
    for name, value in ((f"{prefix}width", width), ("r_bits", r_bits), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer, not {value!r}")
    if width not in XAPP052_TAPS:
        raise ValueError(
            f"{prefix}width must be between {MIN_WIDTH} and {MAX_WIDTH}, not {width!r}")
    if not 1 <= r_bits <= width:
        raise ValueError(
            f"r_bits must be between 1 and {prefix}width = {width} "
            f"(R random bits per sample come from an L-bit LFSR), not {r_bits!r}")
    if seed == 0:
        raise ValueError("seed must not be 0: the all-zero LFSR state locks up")
    if not 0 < seed < (1 << width):
        raise ValueError(
            f"seed must be between 1 and 2**{prefix}width - 1 = {(1 << width) - 1}, "
            f"not {seed!r}")


@dataclass(frozen=True)
class LFSRParams:
    """Parameters of a leap-forward LFSR.

    Parameters
    ----------
    width : int
        State width L, 2..64; taps come from :data:`XAPP052_TAPS`.
    r_bits : int
        R, random bits per sample, 1..L; the state advances R steps per sample.
    seed : int
        Initial state, nonzero, below 2**L.
    """

    width: int = field(default=16, metadata={"help": "state width L (2..64, XAPP052 taps)"})
    r_bits: int = field(default=8, metadata={
        "help": "bits R per sample (1..L); R steps per sample"})
    seed: int = field(default=1, metadata={"help": "initial state (nonzero, < 2**L)"})

    def __post_init__(self):
        check_lfsr(self.width, self.r_bits, self.seed, prefix="")

    @property
    def taps(self):
        return XAPP052_TAPS[self.width]


class LFSRModel:
    """Bit-at-a-time reference model of :class:`LFSRParams`."""

    def __init__(self, params):
        self.params = params
        self.state = params.seed
        self._mask = (1 << params.width) - 1

    def step(self):
        fb = 0
        for t in self.params.taps:
            fb ^= (self.state >> (t - 1)) & 1
        self.state = ((self.state << 1) | fb) & self._mask

    def states(self, n):
        """The state before each of ``n`` samples: seed, then every R steps."""
        out = np.empty(n, dtype=object)
        for k in range(n):
            out[k] = self.state
            for _ in range(self.params.r_bits):
                self.step()
        return out

    def samples(self, n):
        """The next ``n`` R-bit samples (low R bits of each state)."""
        mask = (1 << self.params.r_bits) - 1
        return np.array([s & mask for s in self.states(n)], dtype=object)


def lane_seeds(seed, lanes, width):
    """Deterministic, distinct, nonzero seeds for ``lanes`` parallel LFSRs of ``width`` bits.

    Lane ``i`` gets ``splitmix64(seed + i * 0x9E3779B97F4A7C15)`` reduced to ``width`` bits
    (0 becomes 1); splitmix64 (Steele et al., "Fast splittable pseudorandom number
    generators", OOPSLA 2014) scatters neighbouring lanes across the whole state space, so the
    lanes start far apart on the m-sequence. Collisions are resolved by taking the next value.
    """
    check_lfsr(width, 1, seed if seed else 1, prefix="")
    mask64 = (1 << 64) - 1
    out, seen = [], set()
    x = seed
    for _ in range(lanes):
        while True:
            x = (x + 0x9E3779B97F4A7C15) & mask64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask64
            z ^= z >> 31
            s = (z & ((1 << width) - 1)) or 1
            if s not in seen or len(seen) >= (1 << width) - 1:
                break
        seen.add(s)
        out.append(s)
    return out
