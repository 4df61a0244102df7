"""The fixed-point GEMM of Gupta et al. 2015 with lowbit's exact arithmetic (SPEC section 9),
vectorized: the golden model of the ``systolic`` array and the arithmetic of the training
experiment (:mod:`lowbit.golden.training`).

``C = convert(A B)``: ``A`` is ``M x K`` codes of ``<il_a, fl_a>``, ``B`` is ``K x N`` codes of
``<il_b, fl_b>``; products and their sum are exact (``WL_a + WL_b + guard`` bits, wrapping past
that as the MAC's accumulator does); each output is converted once to ``<il_o, fl_o>`` with
one of section 2's rounding modes and saturated (or, with ``round_products``, each product is
rounded to ``fl_o`` before it is added, as the MAC does). Every output element is exactly
:func:`lowbit.golden.mac.mac_golden`'s result for its dot product.

**Lanes and the order of random numbers.** The array has ``rows x cols`` processing elements
(PEs); output element ``(m, n)`` is computed by PE ``(m mod rows, n mod cols)`` in output tile
``t = (m div rows) * n_tiles + (n div cols)`` (tiles in row-major order, ``n_tiles = ceil(N /
cols)``). PE ``(r, c)`` is lane ``r * cols + c`` and has its own leap-forward LFSR, seeded
``lane_seeds(seed, rows * cols, lfsr_width)[lane]`` (:func:`lowbit.golden.lfsr.lane_seeds`).
A PE converts one output every tile, the tiles at the matrix's edges included (the outputs
outside the matrix are computed from zero padding and dropped), so with stochastic rounding
lane ``(r, c)`` draws its ``t``-th sample for tile ``t``; with ``round_products`` it draws
one sample a product instead, ``K`` a tile in ``k`` order. A run's lanes continue from
where the previous run left them when the caller passes the :class:`LaneLFSRs` on.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .bitserial import pack_elements, unpack_elements
from .checks import check_int
from .fixed import round_shift, saturate, wrap_signed
from .lfsr import XAPP052_TAPS, lane_seeds
from .mac import MACParams

__all__ = ["LaneLFSRs", "SystolicParams", "gemm_golden", "round_array", "saturate_array",
           "systolic_job", "systolic_compare", "MAX_DIM", "MAX_LANES"]

#: The largest ``rows`` or ``cols`` of the array.
MAX_DIM = 32
#: The most PEs (``rows * cols``): Gupta et al.'s prototype is 28 x 28.
MAX_LANES = 784
#: The deepest output queue (result tiles).
MAX_OUT_DEPTH = 64
#: Widest accumulator the int64 path takes (the object path beyond is exact but slow).
_INT64_BITS = 62


class LaneLFSRs:
    """Leap-forward LFSRs, one a lane, stepped together: the vectorized equivalent of
    :class:`lowbit.golden.lfsr.LFSRModel` (sample ``k`` of a lane is the low ``r_bits`` of its
    state after ``k * r_bits`` single steps; sample 0 is the seed).

    The ``r_bits``-step transition is linear over GF(2): column ``j`` of its matrix is the
    state reached from the state with only bit ``j`` set, found by stepping once here; a leap
    is then the XOR of the columns of the state's set bits.
    """

    def __init__(self, width, r_bits, seeds):
        self.width, self.r_bits = width, r_bits
        self.states = np.array([int(s) for s in seeds], dtype=np.uint64)
        taps = XAPP052_TAPS[width]
        mask = (1 << width) - 1

        def leap(state):
            for _ in range(r_bits):
                fb = 0
                for t in taps:
                    fb ^= (state >> (t - 1)) & 1
                state = ((state << 1) | fb) & mask
            return state
        self._cols = np.array([leap(1 << j) for j in range(width)], dtype=np.uint64)
        self._rmask = np.uint64((1 << r_bits) - 1)

    @property
    def lanes(self):
        return len(self.states)

    def _leap(self, s):
        out = np.zeros_like(s)
        one = np.uint64(1)
        for j in range(self.width):
            out ^= ((s >> np.uint64(j)) & one) * self._cols[j]
        return out

    def draw(self, n):
        """The next ``n`` samples of every lane: ``(lanes, n)`` int64."""
        out = np.empty((self.lanes, n), dtype=np.int64)
        s = self.states
        for k in range(n):
            out[:, k] = (s & self._rmask).astype(np.int64)
            s = self._leap(s)
        self.states = s
        return out


@dataclass(frozen=True)
class SystolicParams:
    """One object for the systolic array's hardware, golden model and generator, and for the
    GEMM of the training experiment.

    Parameters
    ----------
    rows, cols : int
        The array: ``rows x cols`` PEs (1..32 each, at most 784), each a fixed-point MAC
        with its own LFSR (output-stationary: PE ``(r, c)`` keeps output ``(r, c)`` of the tile).
    il_a ... seed
        The arithmetic of every PE, as :class:`lowbit.golden.mac.MACParams` has it: formats,
        guard bits, rounding mode, ``round_products``, saturation and the LFSR (its ``seed``
        seeds the lanes through :func:`lowbit.golden.lfsr.lane_seeds`).
    pipeline, carry_chain : int
        Each PE's MAC registers (:class:`~lowbit.golden.mac.MACParams`); timing only.
    out_depth : int
        Result tiles the output queue holds: the array takes a tile's last beat only while
        the queue has room for its result, so back-pressure never loses one. Results are the
        same at any depth; the throughput is a tile every ``K`` cycles when ``out_depth >=
        latency / K + 1``, else ``out_depth`` tiles every ``latency + K`` cycles.
    """

    rows: int = field(default=4, metadata={"help": f"PE rows R (1..{MAX_DIM})"})
    cols: int = field(default=4, metadata={"help": f"PE columns C (1..{MAX_DIM})"})
    il_a: int = field(default=4, metadata={"help": "integer bits of A, sign included"})
    fl_a: int = field(default=12, metadata={"help": "fractional bits of A"})
    il_b: int = field(default=4, metadata={"help": "integer bits of B, sign included"})
    fl_b: int = field(default=12, metadata={"help": "fractional bits of B"})
    il_o: int = field(default=8, metadata={"help": "integer bits of C, sign included"})
    fl_o: int = field(default=8, metadata={"help": "fractional bits of C"})
    guard: int = field(default=8, metadata={
        "help": "accumulator guard bits G: exact for K <= 2**G full-scale terms (0..32)"})
    rounding: str = field(default="stochastic", metadata={
        "help": "truncate | nearest | nearest_even | stochastic"})
    round_products: bool = field(default=False, metadata={
        "help": "round every product to fl_o before accumulating"})
    saturate: bool = field(default=True, metadata={
        "help": "saturate on overflow (false: wrap); the overflow flag is set either way"})
    lfsr_width: int = field(default=16, metadata={"help": "LFSR width L of each PE (2..64)"})
    r_bits: int = field(default=8, metadata={"help": "random bits R per rounding (1..L)"})
    seed: int = field(default=1, metadata={"help": "seed of the lanes' seeds (nonzero)"})
    pipeline: int = field(default=2, metadata={
        "help": "each PE's MAC register stages 0..4 (product, input, output, rounding)"})
    carry_chain: int = field(default=0, metadata={
        "help": "cut each PE's accumulator and rounding adders every N bits (0: no cut)"})
    out_depth: int = field(default=4, metadata={
        "help": f"result tiles the output queue holds (2..{MAX_OUT_DEPTH}); a tile every K "
                f"cycles needs out_depth >= latency / K + 1"})

    def __post_init__(self):
        check_int("rows", self.rows, 1, MAX_DIM)
        check_int("cols", self.cols, 1, MAX_DIM)
        if self.rows * self.cols > MAX_LANES:
            raise ValueError(f"rows x cols must be at most {MAX_LANES} PEs, not "
                             f"{self.rows} x {self.cols} = {self.rows * self.cols}")
        check_int("out_depth", self.out_depth, 2, MAX_OUT_DEPTH)
        _ = self.mac  # the MAC checks the arithmetic's fields, with its messages

    @property
    def mac(self):
        """The arithmetic of one PE (lane 0's seed)."""
        names = [f.name for f in dataclasses.fields(MACParams)]
        mine = {n: getattr(self, n) for n in names if hasattr(self, n)}
        return MACParams(**mine)

    @property
    def lanes(self):
        return self.rows * self.cols

    def lane_seeds(self):
        return lane_seeds(self.seed, self.lanes, self.lfsr_width)

    def pe(self, r, c):
        """PE ``(r, c)``'s arithmetic as a :class:`MACParams`, with its own seed."""
        return dataclasses.replace(self.mac, seed=self.lane_seeds()[r * self.cols + c])

    def lfsrs(self):
        """Fresh lanes (their seeds), for :func:`gemm_golden`."""
        return LaneLFSRs(self.lfsr_width, self.r_bits, self.lane_seeds())

    def tiles(self, M, N):
        """``(m_tiles, n_tiles)`` for an ``M x N`` output."""
        return -(-M // self.rows), -(-N // self.cols)



def round_array(x, d, mode, r=None, r_bits=None):
    """:func:`lowbit.golden.fixed.round_shift` on an int64 array of any shape: drop ``d``
    fractional bits (``d <= 0``: shift left); ``r`` holds the stochastic samples, one an
    element."""
    if d <= 0:
        return x << -d
    if mode == "truncate":
        return x >> d
    if mode == "nearest":
        return (x + (1 << (d - 1))) >> d
    if mode == "nearest_even":
        q = x >> d
        rem = x - (q << d)
        half = 1 << (d - 1)
        return q + ((rem > half) | ((rem == half) & ((q & 1) == 1)))
    rp = min(r_bits, d)
    return (x + ((r & ((1 << rp) - 1)) << (d - rp))) >> d


def saturate_array(y, wl, *, wrap=False):
    """:func:`lowbit.golden.fixed.saturate` on an int64 array: ``(codes, overflow)``."""
    lo, hi = -(1 << (wl - 1)), (1 << (wl - 1)) - 1
    ovf = ((y < lo) | (y > hi)).astype(np.int64)
    return (_wrap(y, wl) if wrap else np.clip(y, lo, hi)), ovf


def _wrap(x, width):
    half = 1 << (width - 1)
    return ((x + half) & ((1 << width) - 1)) - half


def _check_codes(name, X, fmt, shape_text):
    X = np.asarray(X)
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.integer):
        raise ValueError(f"{name} must be a 2-D array of integer codes ({shape_text}), not "
                         f"{X.dtype} of shape {X.shape}")
    if X.size and (X.min() < fmt.min_int or X.max() > fmt.max_int):
        raise ValueError(f"{name} codes must lie in [{fmt.min_int}, {fmt.max_int}] for {fmt}")
    return X.astype(np.int64)


def gemm_golden(params, A, B, lfsrs=None):
    """``convert(A @ B)``, exactly as the ``systolic`` array computes it.

    Parameters
    ----------
    params : SystolicParams
    A, B : array_like of int
        ``M x K`` codes of ``<il_a, fl_a>`` and ``K x N`` codes of ``<il_b, fl_b>``.
    lfsrs : LaneLFSRs, optional
        The lanes' LFSRs, advanced in place (default: fresh ones from the seeds). Only
        stochastic rounding draws from them.

    Returns
    -------
    (C, overflow) : int64 arrays, ``M x N``
        Codes of ``<il_o, fl_o>`` and the overflow flags.
    """
    p, mac = params, params.mac
    A = _check_codes("A", A, mac.fmt_a, "M x K")
    B = _check_codes("B", B, mac.fmt_b, "K x N")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A is {A.shape[0]} x {A.shape[1]} and B is {B.shape[0]} x "
                         f"{B.shape[1]}: K must agree")
    M, K = A.shape
    N = B.shape[1]
    mt, nt = p.tiles(M, N)
    stochastic = p.rounding == "stochastic"
    if stochastic and lfsrs is None:
        lfsrs = p.lfsrs()
    rows = np.arange(M)[:, None]
    colsn = np.arange(N)[None, :]
    lane = (rows % p.rows) * p.cols + colsn % p.cols          # M x N
    tile = (rows // p.rows) * nt + colsn // p.cols            # M x N
    exact = mac.acc_width + K.bit_length() <= _INT64_BITS and mac.product_width \
        + K.bit_length() <= _INT64_BITS
    if not exact:  # beyond int64: the object path, element by element
        return _gemm_objects(p, A, B, lfsrs, lane, tile, mt * nt)
    if mac.product_drop > 0:  # round_products: each product rounded, then summed
        r = None
        if stochastic:
            draws = lfsrs.draw(mt * nt * K).reshape(p.lanes, mt * nt, K)
            r = draws[lane, tile]                              # M x N x K
        prods = A[:, None, :] * B.T[None, :, :]                # M x N x K
        terms = round_array(prods, mac.product_drop, p.rounding, r, p.r_bits)
        acc = terms.sum(axis=2)
    else:
        acc = (A @ B) << max(0, -mac.product_drop)
    acc = _wrap(acc, mac.acc_width)
    d = mac.output_drop
    r = None
    if stochastic and d > 0:
        r = lfsrs.draw(mt * nt)[lane, tile]
    y = round_array(acc, d, p.rounding, r, p.r_bits)
    return saturate_array(y, mac.fmt_o.wl, wrap=not p.saturate)


def _gemm_objects(p, A, B, lfsrs, lane, tile, tiles):
    mac = p.mac
    M, K = A.shape
    N = B.shape[1]
    stochastic = p.rounding == "stochastic"
    A = A.astype(object)
    B = B.astype(object)
    if mac.product_drop > 0:
        draws = (lfsrs.draw(tiles * K).reshape(p.lanes, tiles, K) if stochastic else None)
        acc = np.empty((M, N), dtype=object)
        for m in range(M):
            for n in range(N):
                prods = A[m, :] * B[:, n]
                s = draws[lane[m, n], tile[m, n]] if stochastic else None
                terms = round_shift(prods, mac.product_drop, p.rounding, s, p.r_bits)
                acc[m, n] = sum(int(t) for t in terms)
    else:
        acc = A.dot(B) * (1 << max(0, -mac.product_drop))
    acc = np.array([[wrap_signed(v, mac.acc_width) for v in row] for row in acc], dtype=object)
    d = mac.output_drop
    s = None
    if stochastic and d > 0:
        s = lfsrs.draw(tiles)[lane, tile].reshape(-1)
    y = round_shift(acc.reshape(-1), d, p.rounding, s, p.r_bits)
    codes, ovf = saturate(y, mac.fmt_o.wl, wrap=not p.saturate)
    return (np.array(codes, dtype=np.int64).reshape(M, N),
            np.array(ovf, dtype=np.int64).reshape(M, N))



def systolic_job(params, A, B):
    """The systolic array's adapter: ``C = convert(A B)`` for codes ``A`` (M, K) and ``B``
    (K, N), fed as tiles in row-major order, ``K`` beats each, the edges padded with zeros;
    the result is ``(C, overflow)``, ``M x N`` int64 each."""
    p, mac = params, params.mac
    A = _check_codes("A", A, mac.fmt_a, "M x K")
    B = _check_codes("B", B, mac.fmt_b, "K x N")
    (M, K), N = A.shape, B.shape[1]
    if B.shape[0] != K:
        raise ValueError(f"A is {A.shape}, B is {B.shape}: K must agree")
    mt, nt = p.tiles(M, N)
    Ap = np.zeros((mt * p.rows, K), dtype=np.int64)
    Ap[:M] = A
    Bp = np.zeros((K, nt * p.cols), dtype=np.int64)
    Bp[:, :N] = B
    wa, wb, wo = mac.fmt_a.wl, mac.fmt_b.wl, mac.fmt_o.wl
    cols = {"a": [], "b": [], "first": [], "last": []}
    ends = []
    for t in range(mt * nt):
        rows = Ap[(t // nt) * p.rows:(t // nt + 1) * p.rows]
        colsb = Bp[:, (t % nt) * p.cols:(t % nt + 1) * p.cols]
        for k in range(K):
            cols["a"].append(pack_elements(rows[:, k], wa))
            cols["b"].append(pack_elements(colsb[k], wb))
            cols["first"].append(int(k == 0))
            cols["last"].append(int(k == K - 1))
        ends.append(len(cols["a"]) - 1)

    def decode(out):
        if len(out["value"]) != mt * nt:
            return None
        Cp = np.zeros((mt * p.rows, nt * p.cols), dtype=np.int64)
        Op = np.zeros_like(Cp)
        for t, (word, flags) in enumerate(zip(out["value"], out["overflow"], strict=True)):
            vals = unpack_elements(word, p.lanes, wo, signed=True).reshape(p.rows, p.cols)
            ovf = unpack_elements(flags, p.lanes, 1).reshape(p.rows, p.cols)
            r0, c0 = (t // nt) * p.rows, (t % nt) * p.cols
            Cp[r0:r0 + p.rows, c0:c0 + p.cols] = vals
            Op[r0:r0 + p.rows, c0:c0 + p.cols] = ovf
        return Cp[:M, :N], Op[:M, :N]

    from .job import Job

    return Job(cols, mt * nt, decode, last_beats=ends, calm_beats=K,
               cycles=8 * len(cols["a"]) + 64 * (p.rows + p.cols) + 200)


def _codes_of(arr, fmt, option, name):
    """A user's matrix as codes of ``fmt``: :func:`lowbit.golden.mac`'s reading of integers
    (raw codes, checked) and floats (quantized to nearest); returns ``(codes, saturated)``."""
    from .checks import UsageError
    from .mac import _codes

    arr = np.asarray(arr)
    if arr.ndim != 2 or 0 in arr.shape:
        raise UsageError(f"{option} must be a non-empty 2-D matrix, not shape {arr.shape}")
    codes, saturated = _codes(arr, fmt, name, "nearest")
    return np.array(codes, dtype=np.int64).reshape(arr.shape), saturated


def systolic_compare(params, arr, *, rhs=None, **_):
    """``lowbit compare systolic``: ``C = convert(A B)`` for ``arr`` = A (M, K) and ``rhs`` =
    B (K, N): integers are raw codes of the input formats, floats are quantized to them
    (round to nearest). Golden: :func:`gemm_golden`."""
    from .checks import UsageError
    from .job import Comparison

    if rhs is None:
        raise UsageError("systolic needs --rhs FILE.npy, the right matrix B of shape (K, N)")
    mac = params.mac
    A, sat_a = _codes_of(arr, mac.fmt_a, "--input (A)", "A")
    B, sat_b = _codes_of(rhs, mac.fmt_b, "--rhs (B)", "B")
    if A.shape[1] != B.shape[0]:
        raise UsageError(f"--input (A) and --rhs (B) must agree on K: A is {A.shape}, "
                         f"B is {B.shape}")
    if A.shape[0] * B.shape[1] * A.shape[1] > 1 << 24:
        raise UsageError(f"M K N must be at most {1 << 24} for a simulation, not "
                         f"{A.shape[0]} x {A.shape[1]} x {B.shape[1]}")
    C, O = gemm_golden(params, A, B)
    want = list(zip(C.reshape(-1).tolist(), O.reshape(-1).tolist()))
    M, K = A.shape
    N = B.shape[1]
    extra = {"shape": [M, N], "format": f"{mac.fmt_a} x {mac.fmt_b} -> {mac.fmt_o}",
             "rounding": params.rounding,
             "notes": [f"A {M}x{K} {mac.fmt_a}, B {K}x{N} {mac.fmt_b} -> {mac.fmt_o}, "
                       f"{params.rounding} rounding on a {params.rows} x {params.cols} array",
                       f"saturated outputs: {int(O.sum())}; inputs saturated when "
                       f"quantizing: {sat_a + sat_b}"]}
    return Comparison(systolic_job(params, A, B), want,
                      lambda got: list(zip(got[0].reshape(-1).tolist(),
                                           got[1].reshape(-1).tolist())), extra)

