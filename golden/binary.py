"""Binarized arithmetic: XNOR-popcount dot products and FINN-style thresholds (SPEC section 4).

Encoding (BinaryNet, Courbariaux et al. 2016; XNOR-Net, Rastegari et al. 2016): bit 1 means +1,
bit 0 means -1. For ``n`` valid bits, ``dot(a, w) = 2 * popcount(~(a ^ w) & mask) - n``.
:func:`binarize` maps 0 to +1 (bit 1), as ``sign`` with ``x >= 0``; BinaryNet does the same.

Thresholds (FINN, Umuroglu et al. 2017): batch norm followed by sign (or by a k-level
quantizer) folds into integer thresholds on the accumulator. A neuron with a negative
batch-norm scale compares the negated accumulator: ``out = #{i : T_i <= s * acc}`` with
``s = -1`` for an inverted neuron, ``+1`` otherwise, and ``T_1 <= ... <= T_k``.

Bit vectors are packed little-endian: element ``j`` is bit ``j`` of the integer.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .checks import UsageError, only_bits
from .checks import check_int as _check_int
from .checks import check_product as _check_product
from .fixed import wrap_signed
from .job import Comparison, Job
from .payload import PLAIN

__all__ = [
    "PopcountParams", "XnorParams", "BMVUParams", "MAX_N", "binarize", "pack_bits",
    "unpack_bits", "popcount", "xnor_dot", "threshold", "fold_batchnorm", "bmvu_golden",
    "acc_width", "count_width", "threshold_width", "xnor_stream_golden", "POPCOUNT_STYLES",
    "bmvu_images", "popcount_job", "xnor_chunks", "xnor_job", "bmvu_job", "popcount_compare",
    "xnor_compare", "bmvu_compare", "bmvu_rows",
]

#: Widest popcount / chunk / SIMD the generator accepts.
MAX_N = 4096
#: The bmvu's weight memory (rows x cols bits): 1 Mi, a quarter of the block RAM of the
#: largest supported device (ECP5-85F: 208 DP16KD, 3.7 Mbit), as the weights are generated
#: into the Verilog (1 Mi: 3.7 s, bench/param-corners); and its lanes (pe x simd).
MAX_BMVU_BITS = 1 << 20
MAX_BMVU_LANES = 1 << 14
POPCOUNT_STYLES = ("tree", "plain", "packed")


def count_width(n):
    """Bits of an unsigned count 0..n."""
    return max(1, n.bit_length())


def acc_width(length):
    """Bits of a signed dot product in [-length, length]."""
    return length.bit_length() + 1


def threshold_width(length):
    """Bits of a threshold: the dot range plus one, so 'never' and 'always' fit."""
    return acc_width(length) + 1


@dataclass(frozen=True)
class PopcountParams:
    """A pipelined popcount of ``n`` bits.

    Parameters
    ----------
    n : int
        Input width, 1..4096 (any, not only powers of two).
    spacing : int
        Register every ``spacing`` levels of the adder tree (0: no registers, combinational).
    style : str
        ``tree`` (full adders, then a balanced adder tree), ``packed`` (pair counts, 6:3
        counters, several additions in one carry chain: fewer LUTs on ECP5, the same latency)
        or ``plain`` (the baseline: the bits summed in a row, left to Yosys).
    """

    n: int = field(default=64, metadata={"help": "input bits N (1..4096)"})
    spacing: int = field(default=2, metadata={
        "help": "register every S adder-tree levels (0..16; 0: combinational)"})
    style: str = field(default="tree", metadata={
        "help": "tree: lowbit's compressor tree; packed: pair counts and packed carry "
                "chains (fewer LUTs on ECP5); plain: a sum of bits Yosys maps itself"})

    def __post_init__(self):
        _check_int("n", self.n, 1, MAX_N)
        _check_int("spacing", self.spacing, 0, 16)
        if self.style not in POPCOUNT_STYLES:
            raise ValueError(f"style must be one of {', '.join(map(repr, POPCOUNT_STYLES))}, "
                             f"not {self.style!r}")


@dataclass(frozen=True)
class XnorParams:
    """XNOR-popcount over ``n``-bit chunks, accumulated over vectors up to ``max_length`` bits.

    Parameters
    ----------
    n : int
        Chunk width N per cycle, 1..4096.
    max_length : int
        Longest vector (bits) a dot product may span; sizes the accumulator.
    spacing : int
        Register spacing of the popcount tree.
    io_registers : int
        Registers around the tree, each one cycle of latency: 0 none; 1 the masked XNOR
        before the tree (the length mask's comparators and the XNOR then have a cycle of
        their own); 2 also the dot product after the accumulator (its subtraction off the
        output path).
    """

    n: int = field(default=32, metadata={"help": "chunk bits N per cycle (1..4096)"})
    max_length: int = field(default=1024, metadata={
        "help": "longest vector in bits (sizes the accumulator), N..2**24"})
    spacing: int = field(default=2, metadata={
        "help": "popcount register spacing (0..16; 0: none)"})
    io_registers: int = field(default=2, metadata={
        "help": "0..2: register the masked XNOR (1), and the dot product too (2); +1 latency "
                "each"})

    def __post_init__(self):
        _check_int("n", self.n, 1, MAX_N)
        _check_int("max_length", self.max_length, self.n, 1 << 24)
        _check_int("spacing", self.spacing, 0, 16)
        _check_int("io_registers", self.io_registers, 0, 2)


@dataclass(frozen=True)
class BMVUParams:
    """FINN-class binary matrix-vector-threshold unit.

    Parameters
    ----------
    rows, cols : int
        Matrix height H (neurons) and width W (input bits).
    pe, simd : int
        Neurons in parallel, input bits per cycle: ceil(H/PE) * ceil(W/SIMD) cycles a vector.
    thresholds : int
        0: output the raw dot products; k >= 1: k sorted thresholds per neuron, output the
        count met (1: a binary activation).
    spacing : int
        Register spacing of each PE's popcount tree.
    """

    rows: int = field(default=16, metadata={
        "help": f"matrix rows H (output neurons), 1..65536; rows x cols <= {MAX_BMVU_BITS:,}"})
    cols: int = field(default=64, metadata={"help": "matrix columns W (input bits), 1..65536"})
    pe: int = field(default=4, metadata={
        "help": f"processing elements (rows in parallel), 1..1024; pe x simd <= "
                f"{MAX_BMVU_LANES:,}"})
    simd: int = field(default=16, metadata={"help": "input bits per cycle per PE (1..4096)"})
    thresholds: int = field(default=1, metadata={
        "help": "0: raw dot products out; k in 1..15: k thresholds, output = count met"})
    spacing: int = field(default=2, metadata={
        "help": "popcount register spacing (0..16; 0: none)"})

    def __post_init__(self):
        _check_int("rows", self.rows, 1, 1 << 16)
        _check_int("cols", self.cols, 1, 1 << 16)
        _check_int("pe", self.pe, 1, 1024)
        _check_int("simd", self.simd, 1, MAX_N)
        _check_int("thresholds", self.thresholds, 0, 15)
        _check_int("spacing", self.spacing, 0, 16)
        _check_product("rows x cols", self.rows * self.cols, MAX_BMVU_BITS,
                       "the weight memory's bits")
        _check_product("pe x simd", self.pe * self.simd, MAX_BMVU_LANES,
                       "the XNOR-popcount lanes")
        if self.pe > self.rows:
            raise ValueError(f"pe must be <= rows = {self.rows}, not {self.pe}")
        if self.simd > self.cols:
            raise ValueError(f"simd must be <= cols = {self.cols}, not {self.simd}")
        _check_product("pe x thresholds x threshold width",
                       self.pe * self.thresholds * self.threshold_width, MAX_BMVU_LANES,
                       "the threshold memory's word")

    @property
    def nf(self):
        """Neuron folds: ceil(rows / pe)."""
        return -(-self.rows // self.pe)

    @property
    def sf(self):
        """Synapse folds: ceil(cols / simd)."""
        return -(-self.cols // self.simd)

    @property
    def peak_binary_ops_per_cycle(self):
        """``2 pe simd``: an XNOR and an add per weight bit a lane takes each cycle."""
        return 2 * self.pe * self.simd

    @property
    def cycles_per_vector(self):
        return self.nf * self.sf

    @property
    def acc_width(self):
        return acc_width(self.cols)

    @property
    def threshold_width(self):
        return threshold_width(self.cols)

    @property
    def out_width(self):
        return self.acc_width if self.thresholds == 0 else count_width(self.thresholds)


def binarize(x):
    """Real values to bits: 1 (+1) where ``x >= 0``, 0 (-1) where ``x < 0``."""
    return (np.asarray(x) >= 0).astype(np.uint8)


def pack_bits(bits):
    """Rows of bits (..., n) to Python ints, element j at bit j."""
    bits = np.asarray(bits, dtype=np.uint8)
    flat = bits.reshape(-1, bits.shape[-1])
    out = [int("".join("1" if b else "0" for b in row[::-1]) or "0", 2) for row in flat]
    return np.array(out, dtype=object).reshape(bits.shape[:-1])


def unpack_bits(words, n):
    """Python ints to rows of ``n`` bits (element j from bit j)."""
    words = np.asarray(words, dtype=object)
    flat = [[(int(w) >> j) & 1 for j in range(n)] for w in words.reshape(-1)]
    return np.array(flat, dtype=np.uint8).reshape(words.shape + (n,))


def popcount(bits):
    """Number of ones along the last axis."""
    return np.asarray(bits, dtype=np.int64).sum(axis=-1)


def xnor_dot(a_bits, w_bits):
    """±1 dot products of bit vectors (last axis), broadcasting: ``2*popcount(xnor) - n``."""
    a = np.asarray(a_bits, dtype=np.int64)
    w = np.asarray(w_bits, dtype=np.int64)
    n = a.shape[-1]
    if w.shape[-1] != n:
        raise ValueError(f"vectors of {n} and {w.shape[-1]} bits")
    agree = (a == w).astype(np.int64).sum(axis=-1)
    return 2 * agree - n


def threshold(acc, thresholds, invert=None):
    """FINN multi-threshold activation.

    ``acc`` (..., H); ``thresholds`` (H, k) sorted along k; ``invert`` (H,) booleans.
    Returns the number of thresholds met by ``s * acc`` (``s = -1`` where inverted).
    """
    acc = np.asarray(acc, dtype=np.int64)
    t = np.asarray(thresholds, dtype=np.int64)
    if t.ndim != 2 or t.shape[0] != acc.shape[-1]:
        raise ValueError(f"thresholds must have shape ({acc.shape[-1]}, k), not {t.shape}")
    if np.any(np.diff(t, axis=1) < 0):
        raise ValueError("thresholds must be sorted (non-decreasing) for every neuron")
    s = np.where(np.asarray(invert, dtype=bool), -1, 1) if invert is not None else 1
    val = acc * s
    return (val[..., None] >= t).sum(axis=-1)


def fold_batchnorm(gamma, beta, mean, var, *, eps=1e-5, bias=None, levels=1, length=None):
    """Fold ``BN(acc + bias)`` followed by a quantizer into integer thresholds (FINN).

    With ``y = gamma * (acc + bias - mean) / sqrt(var + eps) + beta``, a binary activation
    (``levels=1``) is ``y >= 0``; a ``levels``-threshold activation counts the ``y >= j``
    for ``j = 0 .. levels-1``. For an integer ``acc`` and ``gamma > 0``, ``y >= j`` holds iff
    ``acc >= ceil(tau_j)``; for ``gamma < 0`` iff ``-acc >= ceil(-tau_j)``, an inverted neuron;
    for ``gamma == 0`` the answer is constant and the threshold is set past the range
    ``[-length, length]`` (given ``length``).

    Returns ``(thresholds (H, levels) int64, invert (H,) bool)``.
    """
    gamma, beta, mean, var = (np.asarray(v, dtype=np.float64) for v in (gamma, beta, mean, var))
    bias = np.zeros_like(mean) if bias is None else np.asarray(bias, dtype=np.float64)
    for name, v in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var),
                    ("bias", bias)):
        if not np.all(np.isfinite(v)):
            raise ValueError(f"batch-norm {name} holds NaN or infinite values")
    if np.any(var < 0):
        raise ValueError("batch-norm variances must be >= 0")
    sigma = np.sqrt(var + eps)
    h = gamma.shape[0]
    lim = None if length is None else length + 1
    t = np.zeros((h, levels), dtype=np.int64)
    invert = gamma < 0
    for i in range(h):
        for j in range(levels):
            if gamma[i] == 0:
                met = beta[i] >= j
                if lim is None:
                    raise ValueError("a zero batch-norm scale needs length= for its threshold")
                t[i, j] = -lim if met else lim
                continue
            with np.errstate(over="ignore"):
                tau = (j - beta[i]) * sigma[i] / gamma[i] + mean[i] - bias[i]
            tau = -tau if invert[i] else tau
            if lim is not None and (not math.isfinite(tau) or abs(tau) > lim):
                # A tiny scale puts the threshold past any accumulator value: clamp first.
                t[i, j] = lim if tau > 0 else -lim
            elif not math.isfinite(tau):
                raise ValueError("a vanishing batch-norm scale needs length= for its threshold")
            else:
                t[i, j] = math.ceil(tau)
    return t, invert


def xnor_stream_golden(params, a, w, length, first, last):
    """What :class:`XnorPopcount` outputs for a stream of chunks (words, lengths, flags).

    Matches and valid-bit counts accumulate in ``count_width(max_length)``-bit registers and
    the dot is ``2 * matches - bits`` in ``acc_width(max_length)`` bits; both wrap, as the
    hardware does, only past ``max_length``.
    """
    n = params.n
    cw = count_width(params.max_length)
    matches = total = 0
    out = []
    for aw, ww, ln, f, la in zip(a, w, length, first, last):
        ln = int(ln)
        if not 0 <= ln <= n:
            raise ValueError(f"chunk length must be between 0 and {n}, not {ln}")
        agree = ~(int(aw) ^ int(ww)) & ((1 << ln) - 1)
        pc = bin(agree).count("1")
        matches = (pc + (0 if f else matches)) % (1 << cw)
        total = (ln + (0 if f else total)) % (1 << cw)
        if la:
            out.append(wrap_signed(2 * matches - total, acc_width(params.max_length)))
    return np.array(out, dtype=np.int64)


def bmvu_images(params, weights, thresholds=None, invert=None):
    """The BinaryMVU's memory images: ``(weight words, threshold words)`` as Python ints.

    Weight word ``nf * sf_count + s``: for lane ``p`` (row ``nf * pe + p``), bits
    ``[p*simd, (p+1)*simd)`` hold columns ``s*simd ..``; padding rows and columns are 0.
    Threshold word ``nf``: per lane, ``k`` thresholds of ``threshold_width`` bits (two's
    complement) then the invert bit.
    """
    p = params
    w = np.asarray(weights)
    if w.shape != (p.rows, p.cols):
        raise ValueError(f"weights must have shape ({p.rows}, {p.cols}), not {w.shape}")
    wpad = np.zeros((p.nf * p.pe, p.sf * p.simd), dtype=np.uint8)
    wpad[:p.rows, :p.cols] = w
    words = []
    for f in range(p.nf):
        for s in range(p.sf):
            word = 0
            for lane in range(p.pe):
                chunk = wpad[f * p.pe + lane, s * p.simd:(s + 1) * p.simd]
                word |= int(pack_bits(chunk)) << (lane * p.simd)
            words.append(word)
    if p.thresholds == 0:
        return words, []
    t = np.asarray(thresholds, dtype=np.int64)
    if t.shape != (p.rows, p.thresholds):
        raise ValueError(f"thresholds must have shape ({p.rows}, {p.thresholds}), not {t.shape}")
    if np.any(np.diff(t, axis=1) < 0):
        raise ValueError("thresholds must be sorted (non-decreasing) for every neuron")
    inv = np.zeros(p.rows, dtype=bool) if invert is None else np.asarray(invert, dtype=bool)
    tw = p.threshold_width
    lo, hi = -(1 << (tw - 1)), (1 << (tw - 1)) - 1
    if t.min(initial=0) < lo or t.max(initial=0) > hi:
        raise ValueError(f"thresholds must lie in [{lo}, {hi}] for cols = {p.cols}")
    lane_w = p.thresholds * tw + 1
    t_words = []
    for f in range(p.nf):
        word = 0
        for lane in range(p.pe):
            r = f * p.pe + lane
            if r >= p.rows:
                continue
            bits = sum((int(t[r, i]) & ((1 << tw) - 1)) << (i * tw)
                       for i in range(p.thresholds))
            bits |= int(inv[r]) << (p.thresholds * tw)
            word |= bits << (lane * lane_w)
        t_words.append(word)
    return words, t_words


def bmvu_golden(params, weights, x_bits, thresholds=None, invert=None):
    """What the BinaryMVU outputs for each input vector.

    ``weights`` (H, W) bits, ``x_bits`` (V, W) bits; thresholds (H, k) and invert (H,) when
    ``params.thresholds > 0``. Returns (V, H) dot products or activation counts.
    """
    w = np.asarray(weights)
    x = np.asarray(x_bits)
    if w.shape != (params.rows, params.cols):
        raise ValueError(f"weights must have shape ({params.rows}, {params.cols}), "
                         f"not {w.shape}")
    if x.ndim != 2 or x.shape[1] != params.cols:
        raise ValueError(f"inputs must have shape (vectors, {params.cols}), not {x.shape}")
    for name, bits in (("weights", w), ("inputs", x)):
        if not np.isin(bits, (0, 1)).all():
            raise ValueError(f"{name} must be bits (0 for -1, 1 for +1)")
    # The ±1 matrix product equals 2 * popcount(xnor) - W, without a V x H x W temporary.
    dots = (2 * x.astype(np.int64) - 1) @ (2 * w.astype(np.int64) - 1).T
    if params.thresholds == 0:
        return dots
    t = np.asarray(thresholds)
    if t.shape != (params.rows, params.thresholds):
        raise ValueError(f"thresholds must have shape ({params.rows}, {params.thresholds}), "
                         f"not {t.shape}")
    return threshold(dots, t, invert)


def popcount_job(params, words):
    """The popcount's adapter: ``words`` (ints of ``n`` bits) in, their popcounts out."""
    words = [int(w) for w in words]
    return Job({PLAIN: words}, len(words),
               lambda out: np.asarray(out[PLAIN], dtype=np.int64),
               last_beats=list(range(len(words))))


def xnor_chunks(params, pairs):
    """``pairs`` of bit vectors ``(a, w)`` (equal lengths, up to ``max_length``) cut into
    ``n``-bit chunks (the last one partial): columns ``a, w, length, first, last``."""
    n = params.n
    cols = {k: [] for k in ("a", "w", "length", "first", "last")}
    for a_bits, w_bits in pairs:
        total = len(a_bits)
        if len(w_bits) != total or not 1 <= total <= params.max_length:
            raise ValueError(f"each vector pair must have one length in 1..max_length="
                             f"{params.max_length}, not {len(a_bits)} and {len(w_bits)}")
        chunks = -(-total // n)
        for c in range(chunks):
            lo, hi = c * n, min((c + 1) * n, total)
            cols["a"].append(int(pack_bits(a_bits[lo:hi])))
            cols["w"].append(int(pack_bits(w_bits[lo:hi])))
            cols["length"].append(hi - lo)
            cols["first"].append(int(c == 0))
            cols["last"].append(int(c == chunks - 1))
    return cols


def xnor_job(params, a, w, length, first, last, *, labels=None):
    """The XNOR-popcount's adapter: chunk words ``a``, ``w`` with their valid ``length`` and
    ``first``/``last`` flags (:func:`xnor_chunks` cuts vectors); one dot product per
    ``last``."""
    cols = {"a": a, "w": w, "length": length, "first": first, "last": last}
    cols = {k: [int(x) for x in v] for k, v in cols.items()}
    ends = [k for k, flag in enumerate(cols["last"]) if flag]
    return Job(cols, len(ends), lambda out: np.asarray(out["dot"], dtype=np.int64),
               last_beats=ends, labels=labels)


def bmvu_job(params, weights, x_bits, thresholds=None, invert=None, *, pad_rng=None):
    """The BinaryMVU's adapter: load the weight (and threshold) memories, stream the input
    vectors ``x_bits`` (V, cols) as ``sf`` chunks each; the result is (V, rows). Columns past
    ``cols`` in each last chunk are zero, or seeded random bits from ``pad_rng`` (the unit must
    mask them)."""
    p = params
    w_words, t_words = bmvu_images(p, weights, thresholds, invert)
    loads = [{"w_addr": a, "w_data": d, "w_en": 1} for a, d in enumerate(w_words)]
    loads += [{"t_addr": a, "t_data": d, "t_en": 1} for a, d in enumerate(t_words)]
    x = np.asarray(x_bits, dtype=np.uint8)
    if x.ndim != 2 or x.shape[1] != p.cols:
        raise ValueError(f"inputs must have shape (vectors, {p.cols}), not {x.shape}")
    padded = np.zeros((x.shape[0], p.sf * p.simd), dtype=np.uint8)
    padded[:, :p.cols] = x
    if pad_rng is not None:
        padded[:, p.cols:] = pad_rng.integers(0, 2, size=(x.shape[0], p.sf * p.simd - p.cols))
    beats = [int(pack_bits(padded[v, s * p.simd:(s + 1) * p.simd]))
             for v in range(x.shape[0]) for s in range(p.sf)]
    v = x.shape[0]
    return Job({PLAIN: beats}, v * p.nf, lambda out: bmvu_rows(p, out, v), loads=loads)


def bmvu_rows(params, out, vectors):
    """The BinaryMVU's output beats (``lane<j>`` columns, one beat a neuron fold) as
    (vectors, rows); None when there are not ``vectors x nf`` beats."""
    p = params
    lanes = np.array([out[f"lane{j}"] for j in range(p.pe)], dtype=np.int64).T
    if len(lanes) != vectors * p.nf:
        return None
    return lanes.reshape(vectors, p.nf * p.pe)[:, :p.rows]


def _bits(arr, what):
    """0/1 integers or booleans as they are; real numbers binarized (x >= 0 is +1)."""
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        if not np.isin(arr, (0, 1)).all():
            raise UsageError(f"{what} must hold bits 0 (-1) and 1 (+1), or real numbers to "
                             f"binarize; found values {sorted(set(np.unique(arr)) - {0, 1})[:5]}")
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise UsageError(f"{what} holds NaN or infinite values")
        return binarize(arr)
    raise UsageError(f"{what} must hold integers, booleans or floats, not {arr.dtype}")


def popcount_compare(params, arr, **_):
    """``lowbit compare popcount``: ``arr`` (V, n), V words of n bits."""
    if arr.ndim != 2 or arr.shape[1] != params.n or arr.shape[0] == 0:
        raise UsageError(f"--input for popcount must have shape (words, n={params.n}), "
                         f"not {arr.shape}")
    bits = _bits(arr, "--input")
    words = [sum(int(b) << j for j, b in enumerate(row)) for row in bits]
    return Comparison(popcount_job(params, words), [int(x) for x in bits.sum(axis=1)])


def xnor_compare(params, arr, **_):
    """``lowbit compare xnor``: ``arr`` (V, 2, L), V pairs (activations, weights) of
    L <= max_length bits."""
    if arr.ndim != 3 or arr.shape[1] != 2 or not 1 <= arr.shape[2] <= params.max_length \
            or arr.shape[0] == 0:
        raise UsageError(f"--input for xnor must have shape (vectors, 2, L) with "
                         f"1 <= L <= max_length={params.max_length}, not {arr.shape}")
    bits = _bits(arr, "--input")
    cols = xnor_chunks(params, [(a, w) for a, w in bits])
    want = xnor_stream_golden(params, cols["a"], cols["w"], cols["length"], cols["first"],
                              cols["last"])
    return Comparison(xnor_job(params, **cols), [int(x) for x in want])


def bmvu_compare(params, arr, *, weights=None, thresholds=None, invert=None, seed=1, **_):
    """``lowbit compare bmvu``: ``arr`` (V, cols) input vectors; ``weights`` (rows, cols);
    ``thresholds`` (rows, k) and optional ``invert`` (rows,) when the unit has thresholds.
    The padding past ``cols`` carries random bits (from ``seed``): the unit must mask them."""
    if arr.ndim != 2 or arr.shape[1] != params.cols or arr.shape[0] == 0:
        raise UsageError(f"--input for bmvu must have shape (vectors, cols={params.cols}), "
                         f"not {arr.shape}")
    if weights is None:
        raise UsageError("bmvu needs --weights FILE.npy of shape (rows, cols)")
    if weights.shape != (params.rows, params.cols):
        raise UsageError(f"--weights must have shape (rows={params.rows}, "
                         f"cols={params.cols}), not {weights.shape}")
    x, w = _bits(arr, "--input"), _bits(weights, "--weights")
    if params.thresholds:
        if thresholds is None:
            raise UsageError(f"bmvu with thresholds={params.thresholds} needs --thresholds "
                             f"FILE.npy of shape (rows, {params.thresholds})")
        if not np.issubdtype(thresholds.dtype, np.integer):
            raise UsageError(f"--thresholds must hold integers, not {thresholds.dtype}")
        if invert is not None and invert.shape != (params.rows,):
            raise UsageError(f"--invert must have shape (rows={params.rows},), "
                             f"not {invert.shape}")
        if invert is not None:
            invert = only_bits(invert, "--invert")
        try:
            bmvu_images(params, w, thresholds, invert)
        except ValueError as exc:
            raise UsageError(f"--thresholds: {exc}") from None
    elif thresholds is not None:
        raise UsageError("--thresholds given, but the unit has thresholds=0 (raw dot products)")
    want = bmvu_golden(params, w, x, thresholds, invert)
    job = bmvu_job(params, w, x, thresholds, invert, pad_rng=np.random.default_rng(seed))
    return Comparison(job, want.reshape(-1).tolist(),
                      lambda got: got.reshape(-1).tolist(), {"shape": list(want.shape)})
