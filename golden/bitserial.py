"""Bit-serial matrix multiplication (BISMO semantics) and the P2S converter (SPEC section 5).

Umuroglu, Rasnayake and Sjalander, "BISMO: A Scalable Bit-Serial Matrix Multiplication
Overlay for Reconfigurable Computing", FPL 2018.

``C = A B`` with ``A`` an ``M x K`` matrix of ``wa``-bit elements and ``B`` a ``K x N`` matrix
of ``wb``-bit elements, each operand signed (two's complement) or unsigned, all four chosen at
run time up to a generated maximum. With the bit planes ``A_i = (A >> i) & 1`` and
``B_j = (B >> j) & 1`` (binary matrices) and the plane signs ``s_i = -1`` for the MSB plane of a
signed operand, ``+1`` otherwise::

    C = sum_i sum_j s_i s_j 2**(i + j) popcount(A_i AND B_j along K)

A ``wa x wb``-bit product therefore costs ``wa * wb`` binary matrix products.

The engine is an array of ``Dm x Dn`` dot-product units (DPUs), each taking ``Dk`` bits of a row
of ``A_i`` and ``Dk`` bits of a column of ``B_j`` per cycle: AND, popcount, then
``acc = (first ? 0 : acc) + (negate ? -1 : +1) * (popcount << shift)`` with ``shift = i + j``
and ``negate = s_i s_j < 0``. Peak binary operations per cycle: ``2 Dm Dk Dn`` (an AND and an
add per bit). BISMO's numbers for reference (Xilinx LUT6): ``1.17 Dk + 44.1`` LUTs per DPU plus
120.1 for its result logic; 6.5 binary TOPS with an 8x256x8 array at 200 MHz (PYNQ-Z1) and
15.4 binary TOPS on the Ultra96.

Conventions the hardware follows
--------------------------------
- Bit planes are taken LSB first everywhere: plane ``i`` is bit ``i`` of the two's complement
  pattern. The sum above may run in any order (BISMO's hardware does not care); lowbit's P2S
  emits planes ``0 .. w-1`` and the controller runs ``i`` and ``j`` upwards from 0.
- Bit vectors are packed little-endian, as in :mod:`lowbit.golden.binary`: element ``e`` of a
  word is bit ``e`` of the integer.
- Matrices that are not multiples of the array are zero-padded: ``M`` up to a multiple of
  ``Dm``, ``K`` of ``Dk``, ``N`` of ``Dn``. A zero element has all planes zero, so padding in
  ``K`` adds nothing to any popcount, and padded rows and columns of ``C`` are dropped.
- The schedule (:func:`schedule`) is ``for m_tile: for n_tile: for i in range(wa): for j in
  range(wb): for k_chunk``, one step per cycle, ``Dm x Dn`` DPUs busy in every step;
  ``first`` marks the first step of an output tile, ``last`` its last step, when the ``Dm x Dn``
  accumulators hold the finished tile.
- The accumulator is ``accumulator_width`` bits of two's complement and wraps (what a register
  does). By default it is the exact worst case, ``P.bit_length() + 1`` with
  ``P = max_k (2**max_wa - 1)(2**max_wb - 1)``: ``P`` is the largest result (unsigned times
  unsigned, all ones), and every partial sum of the schedule, in any order and for any
  signedness, is at most ``P`` in magnitude (the sum of the absolute values of the terms), so
  nothing ever wraps at run-time sizes within the generated maxima.

Buffers (:func:`lhs_words`, :func:`rhs_words`, :func:`result_words`)
--------------------------------------------------------------------
- Left buffer, ``Dm`` banks of ``Dk`` bits (one word of ``Dm * Dk`` bits, bank ``r`` at bits
  ``[r Dk, (r + 1) Dk)``): address ``(m_tile * wa + i) * k_chunks + k_chunk`` holds bits
  ``A_i[m_tile Dm + r, k_chunk Dk + t]`` at bit ``t`` of bank ``r``.
- Right buffer, ``Dn`` banks of ``Dk`` bits: address ``(n_tile * wb + j) * k_chunks + k_chunk``,
  bank ``c`` holds ``B_j[k_chunk Dk + t, n_tile Dn + c]`` at bit ``t``. The engine reads ``B``
  by columns: feed it ``B^T``, whose rows are ``B``'s columns.
- Result buffer: address ``m_tile * n_tiles + n_tile``, DPU ``(r, c)`` at bits
  ``[(r Dn + c) W, (r Dn + c + 1) W)``, ``W = accumulator_width``, two's complement.

The addresses use the run-time ``wa``, ``wb`` and ``k_chunks``, so a run packs densely. One
P2S input word of ``E = Dk`` elements (a row chunk ``A[row, k_chunk Dk : (k_chunk + 1) Dk]``)
gives ``wa`` output planes, which are the bank words of addresses ``(m_tile * wa + i) *
k_chunks + k_chunk`` for ``i = 0 .. wa-1``: P2S feeds the left buffer directly (and, with
``B^T``, the right one).

P2S (parallel to serial)
------------------------
A stream of words of ``E`` elements (``W``-bit fields, run-time precision ``w <= W``) becomes,
for every input word in order, the ``w`` plane words ``0 .. w-1`` (LSB plane first), each
``E`` bits with element ``e`` at bit ``e``: ``plane_i = (x >> i) & 1``, packed. Elements are
taken as ``w``-bit two's complement patterns (``x & (2**w - 1)``), so signed and unsigned
inputs convert the same way. One input word lasts ``w`` output cycles: ``E * w`` bits in, ``E
* w`` bits out.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .checks import UsageError, checked, only_bits, unless_given, where
from .checks import check_bool as _check_bool
from .checks import check_choice as _check_choice
from .checks import check_int as _check_int
from .checks import check_max as _check_max
from .checks import check_product as _check_product
from .checks import int_array as _int_array
from .fixed import wrap_signed
from .job import Comparison, Job, lasts_at

__all__ = [
    "MAX_BITS", "MAX_PRECISION", "MAX_ARRAY", "MAX_DK", "MAX_SIZE", "MAX_ACC_WIDTH",
    "MAX_ELEMENTS", "MAX_P2S_WIDTH",
    "check_fits", "value_range", "bit_planes", "plane_sign", "plane_weights", "from_planes",
    "bitserial_matmul",
    "p2s", "s2p", "pack_elements", "unpack_elements",
    "DPUParams", "DPUBeat", "dpu_step", "dpu_golden",
    "BitSerialParams", "ScheduleStep", "schedule", "run_schedule", "needed_acc_width",
    "lhs_words", "rhs_words", "result_words", "results_from_words", "operand_words",
    "P2SParams",
    "dpu_job", "p2s_job", "bitserial_job", "MatmulRun", "bitserial_runs",
    "overlapped_schedule", "broadcast_groups", "dpu_compare", "dpu_shape_params",
    "p2s_compare",
    "p2s_shape_params", "bitserial_compare", "bitserial_shape_params",
]

#: Widest plane decomposition (int64 arithmetic).
MAX_BITS = 63
#: Largest generated operand precision (max_wa, max_wb).
MAX_PRECISION = 16
#: How the engine's input stream carries the operands (BitSerialParams.operands).
OPERAND_FORMS = ("words", "planes")
#: How a DPU counts the ones of ``a & b`` (DPUParams.popcount, BitSerialParams.popcount): the
#: structures of lowbit.hw.popcount, "tree", "packed" or "chain" (ECP5 carry cells, for ECP5
#: boards only); the latency is the same.
DPU_POPCOUNTS = ("tree", "packed", "chain")
#: The DPU popcounts that instantiate a family's own cells, and the families that have them.
DPU_POPCOUNT_FAMILIES = {"chain": ("ecp5",)}
#: How an operand word reaches the DPUs of its row (A, BitSerialParams.a_flow) or column (B,
#: BitSerialParams.b_flow): from a broadcast register (or its copies), or along the row or
#: column from group to group of DPUs.
FLOWS = ("broadcast", "systolic")
#: What the result buffer's memories are built from (BitSerialParams.result_ram): what Yosys
#: finds cheapest by its own costs, or block RAM.
RESULT_RAMS = ("auto", "block")
#: Largest DPU array side (dm, dn).
MAX_ARRAY = 64
#: Largest Dk (bits per DPU per cycle).
MAX_DK = 1024
#: Most operand broadcast registers in a chain (BitSerialParams.bcast_stages).
MAX_BCAST_STAGES = 4
#: Largest matrix dimension the buffers may be generated for (max_m, max_k, max_n).
MAX_SIZE = 4096
#: Widest accumulator.
MAX_ACC_WIDTH = 64
#: Largest P2S word: E elements of up to W bits.
MAX_ELEMENTS = 4096
MAX_P2S_WIDTH = 32
#: Largest P2S input word, E x W bits (Amaranth refuses a port of 65,536 bits or more, and
#: the word's plane multiplexers grow with it).
MAX_P2S_BITS = 1 << 14
#: Largest DPU array, Dm x Dn x Dk bits a cycle: twice what the ECP5-85F, the largest
#: supported device, was found to hold with its result buffer in LUT RAM (8 x 256 x 8, 74% of
#: its logic cells, bench/bitserial-fanout), so that arrays a little larger can be tried with
#: ``result_ram="block"``. Generation at this size takes 27 to 40 s and under 1 GB
#: (bench/param-corners: 4 x 8 x 1024 and 8 x 16 x 256).
MAX_DPU_BITS = 1 << 15
#: Largest operand or result buffer in bits (max_m x max_k x max_wa, max_k x max_n x max_wb,
#: max_m x max_n x accumulator): 4 Mi, above the block RAM of the largest supported device
#: (ECP5-85F: 3.7 Mbit).
MAX_BUFFER_BITS = 1 << 22
_MAX_SPACING = 16
_TOP_REGISTERS_HELP = (
    f"popcount: a register after each of the last N adder-tree levels as well as every "
    f"spacing levels (0..{_MAX_SPACING}; top_registers never adds one after levels 1 and 2): "
    f"few bits, long wires in a large DPU; latency only")


# ---------------------------------------------------------------------------------------------
# Checks (the same wording as golden.winograd and golden.binary).

def _matrix(name, x):
    a = _int_array(name, x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, not shape {a.shape}")
    return a


def _ceil_div(a, b):
    return -(-a // b)


# ---------------------------------------------------------------------------------------------
# Bit planes.

def value_range(bits, signed):
    """``(lo, hi)`` of a ``bits``-bit element: ``[-2**(bits-1), 2**(bits-1) - 1]`` signed,
    ``[0, 2**bits - 1]`` unsigned."""
    bits = _check_int("bits", bits, 1, MAX_BITS)
    if _check_bool("signed", signed):
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def check_fits(name, x, bits, signed):
    """``x`` as an int64 array after checking every value fits ``bits``-bit elements.

    Raises
    ------
    TypeError
        ``x`` does not hold integers.
    ValueError
        A value is out of range; the message names ``name``, the first bad value, its index
        and the allowed range, e.g. ``A values must lie in [-8, 7] (4-bit signed), not 9 at
        index (1, 2)``.
    """
    lo, hi = value_range(bits, signed)
    a = _int_array(name, x)
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        flat = next(n for n, v in enumerate(a.flat) if not lo <= int(v) <= hi)
        index = tuple(int(i) for i in np.unravel_index(flat, a.shape))
        kind = "signed" if signed else "unsigned"
        raise ValueError(f"{name} values must lie in [{lo}, {hi}] ({bits}-bit {kind}), "
                         f"not {int(a.flat[flat])} at index {index}")
    return a.astype(np.int64)


def bit_planes(x, bits, signed, *, name="x"):
    """The bit planes of ``x``: uint8 array of shape ``(bits, *x.shape)``, LSB plane first.

    Plane ``i`` is ``(x >> i) & 1`` on the ``bits``-bit two's complement pattern of ``x``. The
    values must fit (:func:`check_fits`; ``name`` is used in the message).
    """
    a = check_fits(name, x, bits, signed)
    shifts = np.arange(bits, dtype=np.int64).reshape((bits,) + (1,) * a.ndim)
    # >> on int64 is arithmetic, so the sign bits of a negative value are ones, as required.
    return ((a[None, ...] >> shifts) & 1).astype(np.uint8)


def plane_sign(i, bits, signed):
    """``s_i``: -1 for the MSB plane (``i = bits - 1``) of a signed operand, +1 otherwise."""
    bits = _check_int("bits", bits, 1, MAX_BITS)
    _check_int("i", i, 0, bits - 1)
    return -1 if _check_bool("signed", signed) and i == bits - 1 else 1


def plane_weights(bits, signed):
    """``[s_i * 2**i for i in range(bits)]``: the weight of each plane (MSB negative if signed)."""
    return [plane_sign(i, bits, signed) << i for i in range(bits)]


def from_planes(planes, signed):
    """Inverse of :func:`bit_planes`: ``sum_i s_i 2**i planes[i]`` as int64.

    ``planes`` has shape ``(bits, ...)`` and holds only 0 and 1.
    """
    p = _int_array("planes", planes)
    if p.ndim < 1 or p.shape[0] < 1:
        raise ValueError(f"planes must have shape (bits, ...) with bits >= 1, not {p.shape}")
    if not np.isin(p, (0, 1)).all():
        raise ValueError("planes must hold only bits 0 and 1")
    weights = np.array(plane_weights(p.shape[0], signed), dtype=np.int64)
    return np.tensordot(weights, p.astype(np.int64), axes=(0, 0))


def bitserial_matmul(A, B, wa, wb, a_signed, b_signed):
    """``C = A B`` as the weighted sum of binary matrix products, from the bit planes.

    ``C = sum_i sum_j s_i s_j 2**(i + j) (A_i @ B_j)``, where the 0/1 product ``A_i @ B_j`` is
    the popcount of ``A_i AND B_j`` along ``K``. Never multiplies the integer matrices.

    Parameters
    ----------
    A : (M, K) integer array, ``wa``-bit elements.
    B : (K, N) integer array, ``wb``-bit elements.
    wa, wb : int
        Precisions, 1..63.
    a_signed, b_signed : bool
        Two's complement (True) or unsigned (False) operands.

    Returns
    -------
    (M, N) int64 array (Python ints, dtype object, if ``K (2**wa - 1)(2**wb - 1)`` might not
    fit in 62 bits).
    """
    A, B = _matrix("A", A), _matrix("B", B)
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A and B must agree on K: A is {A.shape}, B is {B.shape}")
    pa = bit_planes(A, wa, a_signed, name="A").astype(np.int64)
    pb = bit_planes(B, wb, b_signed, name="B").astype(np.int64)
    bound = A.shape[1] * ((1 << wa) - 1) * ((1 << wb) - 1)
    dtype = np.int64 if bound < (1 << 62) else object
    C = np.zeros((A.shape[0], B.shape[1]), dtype=dtype)
    for i, wi in enumerate(plane_weights(wa, a_signed)):
        for j, wj in enumerate(plane_weights(wb, b_signed)):
            C += (pa[i] @ pb[j]).astype(dtype) * (wi * wj)
    return C


# ---------------------------------------------------------------------------------------------
# P2S and word packing.

def pack_elements(values, width):
    """Pack a 1-D sequence into one Python int: element ``e`` at bits ``[e width, (e+1) width)``,
    each taken as a ``width``-bit two's complement pattern (``x & (2**width - 1)``)."""
    width = _check_int("width", width, 1, MAX_ACC_WIDTH)
    mask = (1 << width) - 1
    word = 0
    for e, v in enumerate(_int_array("values", values).reshape(-1)):
        word |= (int(v) & mask) << (e * width)
    return word


def unpack_elements(word, count, width, signed=False):
    """Inverse of :func:`pack_elements`: ``count`` fields of ``width`` bits as an int64 array
    (Python ints for unsigned 64-bit fields), sign-extended if ``signed``."""
    width = _check_int("width", width, 1, MAX_ACC_WIDTH)
    mask = (1 << width) - 1
    out = [(int(word) >> (e * width)) & mask for e in range(count)]
    if signed:
        out = [wrap_signed(v, width) for v in out]
    return np.array(out, dtype=np.int64 if signed or width < 64 else object)


def p2s(words, w):
    """The P2S output stream for input ``words`` at run-time precision ``w``.

    Parameters
    ----------
    words : (n, E) integer array
        ``n`` input words of ``E`` elements; each element is taken as a ``w``-bit two's
        complement pattern, ``x & (2**w - 1)``.
    w : int
        Planes per word, 1..63.

    Returns
    -------
    list of ``n * w`` Python ints: for each input word in order, the planes ``i = 0 .. w-1``
    (LSB plane first), plane ``i`` holding bit ``i`` of element ``e`` at bit ``e``.
    """
    w = _check_int("w", w, 1, MAX_BITS)
    a = _int_array("words", words)
    if a.ndim != 2:
        raise ValueError(f"words must have shape (n, E), not {a.shape}")
    out = []
    for row in a:
        patterns = [int(v) & ((1 << w) - 1) for v in row]
        for i in range(w):
            out.append(sum(((x >> i) & 1) << e for e, x in enumerate(patterns)))
    return out


def s2p(planes, w, E, signed=False):
    """Inverse of :func:`p2s`: ``n * w`` plane words back to an ``(n, E)`` int64 array.

    Values are the ``w``-bit patterns (0 .. 2**w - 1), or sign-extended if ``signed``.
    """
    w = _check_int("w", w, 1, MAX_BITS)
    E = _check_int("E", E, 1, MAX_ELEMENTS)
    planes = [int(p) for p in planes]
    if len(planes) % w:
        raise ValueError(f"the number of plane words must be a multiple of w = {w}, "
                         f"not {len(planes)}")
    out = np.zeros((len(planes) // w, E), dtype=np.int64)
    for n in range(len(planes) // w):
        for e in range(E):
            v = sum(((planes[n * w + i] >> e) & 1) << i for i in range(w))
            out[n, e] = wrap_signed(v, w) if signed else v
    return out


@dataclass(frozen=True)
class P2SParams:
    """One object for the parallel-to-serial converter.

    Parameters
    ----------
    elements : int
        Elements E per word (1..4096); the output plane word is E bits.
    max_width : int
        Bits W of each element field (1..32); run-time precision ``w`` is 1..W.

    Input word: ``E * W`` bits, element ``e`` at bits ``[e W, (e + 1) W)``; only the low ``w``
    bits of each field are used. Each input word gives ``w`` plane words, LSB plane first.
    """

    elements: int = field(default=8, metadata={
        "help": f"elements E per word (1..{MAX_ELEMENTS}); output planes are E bits"})
    max_width: int = field(default=8, metadata={
        "help": f"element field bits W (1..{MAX_P2S_WIDTH}; E x W <= {MAX_P2S_BITS:,}); "
                f"run-time w is 1..W"})

    def __post_init__(self):
        _check_int("elements", self.elements, 1, MAX_ELEMENTS)
        _check_int("max_width", self.max_width, 1, MAX_P2S_WIDTH)
        _check_product("elements x max_width", self.elements * self.max_width, MAX_P2S_BITS,
                       "the input word's bits")

    @property
    def in_width(self):
        """Input word bits, ``E * W``."""
        return self.elements * self.max_width

    @property
    def out_width(self):
        """Output plane word bits, ``E``."""
        return self.elements

    def check_w(self, w):
        """Run-time precision ``w`` must be 1..W."""
        return _check_max("w", w, "max_width", self.max_width)

    def check_words(self, words):
        """``words`` as an ``(n, E)`` int64 array of values a ``W``-bit field can hold
        (``-2**(W-1) .. 2**W - 1``)."""
        a = _int_array("words", words)
        if a.ndim != 2 or a.shape[1] != self.elements:
            raise ValueError(f"words must have shape (n, {self.elements}), not {a.shape}")
        lo, hi = -(1 << (self.max_width - 1)), (1 << self.max_width) - 1
        if a.size and (int(a.min()) < lo or int(a.max()) > hi):
            bad = next(int(v) for v in a.flat if not lo <= int(v) <= hi)
            raise ValueError(f"words values must lie in [{lo}, {hi}] "
                             f"(max_width = {self.max_width}), not {bad}")
        return a.astype(np.int64)

    def pack_input(self, words):
        """The input bus values, one Python int per word (``W``-bit fields)."""
        return [pack_elements(row, self.max_width) for row in self.check_words(words)]

    def compute(self, words, w):
        """The output plane words for input ``words (n, E)`` at precision ``w`` (:func:`p2s`)."""
        return p2s(self.check_words(words), self.check_w(w))


# ---------------------------------------------------------------------------------------------
# The dot-product unit.

@dataclass(frozen=True)
class DPUBeat:
    """One DPU input cycle: ``dk``-bit operand words, shift ``i + j``, sign, tile flags."""

    a: int
    b: int
    shift: int
    negate: bool
    first: bool
    last: bool


def dpu_step(acc, a, b, shift, negate, first, acc_width):
    """One DPU cycle: ``(0 if first else acc) +/- (popcount(a & b) << shift)``, wrapped to
    ``acc_width`` bits of two's complement. All arguments are Python ints/bools."""
    term = (int(a) & int(b)).bit_count() << int(shift)
    return wrap_signed((0 if first else acc) + (-term if negate else term), acc_width)


@dataclass(frozen=True)
class DPUParams:
    """One object for a standalone dot-product unit (AND + popcount + shift/negate accumulate).

    Parameters
    ----------
    dk : int
        Operand bits per cycle (1..1024, any value, not only powers of two).
    max_shift : int
        Largest shift (0..30); ``max_wa + max_wb - 2`` in the engine.
    acc_width : int
        Accumulator bits (2..64), two's complement; it wraps like a register. One beat needs
        :attr:`term_width` bits, but in the engine the popcount never exceeds ``K`` (padding
        is zero), so the engine gives its DPUs the exact :func:`needed_acc_width`, which may
        be fewer.
    spacing : int
        Register every ``spacing`` popcount adder-tree levels (0: combinational); latency
        only, results are the same.
    top_registers : int
        Register after each of the popcount tree's last ``top_registers`` levels as well
        as every ``spacing`` levels (0: none added; it never adds one after levels 1 and 2,
        whose values are most of the tree's bits): those levels add few bits gathered from
        across a large DPU, so their wires are long. A cycle of latency and a few flip-flops
        for each level not already registered; results the same. (A packed tree shallower
        than the adder tree's depth takes the stages of the levels it lacks on its own
        adder levels, lowbit.hw.popcount.)
    popcount : str
        The popcount's structure: "tree" (full adders, then an adder tree) or "packed" (pair
        counts, 6:3 counters, several additions in one carry chain: fewer LUT4 and more carry
        cells on ECP5) or "chain" (ECP5 only: every level in CCU2C carry cells, the AND
        inside their LUTs, lowbit.hw.popcount.popcount_chain). Area and timing only: results
        and latency are the same.

    Each cycle: ``acc = (first ? 0 : acc) + (negate ? -1 : +1) * (popcount(a & b) << shift)``;
    the accumulator is output when ``last`` is set.
    """

    dk: int = field(default=64, metadata={"help": f"operand bits Dk per cycle (1..{MAX_DK})"})
    max_shift: int = field(default=14, metadata={
        "help": "largest shift i + j (0..30): max_wa + max_wb - 2"})
    acc_width: int = field(default=32, metadata={
        "help": f"accumulator bits (2..{MAX_ACC_WIDTH}, two's complement, wraps)"})
    spacing: int = field(default=2, metadata={
        "help": "popcount register spacing (0: none); latency only"})
    top_registers: int = field(default=0, metadata={"help": _TOP_REGISTERS_HELP})
    popcount: str = field(default="tree", metadata={
        "help": "popcount structure: tree (full adders, adder tree), packed (pair counts, "
                "packed carry chains: fewer LUT4 on ECP5) or chain (ECP5 boards only: CCU2C "
                "carry chains with the AND inside); results and latency the same"})

    def __post_init__(self):
        _check_int("dk", self.dk, 1, MAX_DK)
        _check_choice("popcount", self.popcount, DPU_POPCOUNTS)
        _check_int("max_shift", self.max_shift, 0, 2 * MAX_PRECISION - 2)
        _check_int("acc_width", self.acc_width, 2, MAX_ACC_WIDTH)
        _check_int("spacing", self.spacing, 0, _MAX_SPACING)
        _check_int("top_registers", self.top_registers, 0, _MAX_SPACING)

    @property
    def peak_binary_ops_per_cycle(self):
        """``2 dk``: an AND and an add per operand bit, a beat a cycle."""
        return 2 * self.dk

    @property
    def popcount_width(self):
        """Bits of the unsigned popcount 0..dk."""
        return self.dk.bit_length()

    @property
    def shift_width(self):
        """Bits of the shift control 0..max_shift."""
        return max(1, self.max_shift.bit_length())

    @property
    def term_width(self):
        """Signed bits of one beat's ``+/- popcount << shift``."""
        return (self.dk << self.max_shift).bit_length() + 1

    def check_beat(self, beat):
        """``beat`` as a :class:`DPUBeat` after checking its operands and shift."""
        beat = beat if isinstance(beat, DPUBeat) else DPUBeat(*beat)
        top = (1 << self.dk) - 1
        _check_int("a", beat.a, 0, top)
        _check_int("b", beat.b, 0, top)
        _check_int("shift", beat.shift, 0, self.max_shift)
        for name in ("negate", "first", "last"):
            _check_bool(name, getattr(beat, name))
        return beat


def dpu_golden(params, beats):
    """What a DPU outputs for a stream of beats: the accumulator after each ``last`` beat.

    ``beats`` is a sequence of :class:`DPUBeat` or tuples ``(a, b, shift, negate, first,
    last)``. Before the first ``first`` beat the accumulator is 0 (the reset value). Returns an
    int64 array, one value per ``last``.
    """
    acc = 0
    out = []
    for beat in beats:
        beat = params.check_beat(beat)
        acc = dpu_step(acc, beat.a, beat.b, beat.shift, beat.negate, beat.first,
                       params.acc_width)
        if beat.last:
            out.append(acc)
    return np.array(out, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# The engine.

def needed_acc_width(max_k, max_wa, max_wb):
    """The exact accumulator width: ``P.bit_length() + 1``, ``P = max_k (2**max_wa - 1)
    (2**max_wb - 1)``.

    ``P`` is reached (unsigned x unsigned, all ones, ``K = max_k``) and bounds every partial
    sum of every schedule and signedness in magnitude, so one bit less is too few and this many
    never wraps.
    """
    return (max_k * ((1 << max_wa) - 1) * ((1 << max_wb) - 1)).bit_length() + 1


@dataclass(frozen=True)
class ScheduleStep:
    """One cycle of the engine's controller (see :func:`schedule`).

    ``m_tile``, ``n_tile``: the output tile; ``i``, ``j``: the planes of A and B; ``k_chunk``:
    which ``Dk`` bits of K; ``first``/``last``: first and last step of the output tile;
    ``shift = i + j``; ``negate``: ``s_i s_j = -1``; ``lhs_addr``, ``rhs_addr``: the operand
    buffer addresses read (see :func:`lhs_words`, :func:`rhs_words`).
    """

    m_tile: int
    n_tile: int
    i: int
    j: int
    k_chunk: int
    first: bool
    last: bool
    shift: int
    negate: bool
    lhs_addr: int
    rhs_addr: int


def broadcast_groups(count, fanout):
    """Which copy of a broadcast register each of ``count`` DPUs reads, for copies driving at
    most ``fanout`` DPUs each: ``ceil(count / fanout)`` copies, each a run of consecutive DPUs
    (neighbours on the die), the runs as even as possible. (With ``b_flow="systolic"`` a
    B copy's index is also how many cycles its rows work late, with ``a_flow="systolic"`` an
    A copy's how many its columns do: :attr:`BitSerialParams.row_skews`,
    :attr:`BitSerialParams.col_skews`.)"""
    copies = -(-count // fanout)
    return [i * copies // count for i in range(count)]


@dataclass(frozen=True)
class BitSerialParams:
    """One object for the bit-serial matrix engine (BISMO semantics).

    Parameters
    ----------
    dm, dn : int
        Rows and columns of the DPU array (1..64 each; ``dm != dn`` is fine).
    dk : int
        Bits per DPU per cycle (1..1024, any value, e.g. 48).
    max_wa, max_wb : int
        Generated maximum precisions of A and B (1..16); run-time ``wa``, ``wb`` are 1..max.
    max_m, max_k, max_n : int
        Largest matrix sizes the buffers hold (1..4096 each); run-time M, K, N are 1..max.
    acc_width : int
        0 (default): the exact worst case, :func:`needed_acc_width`; otherwise at least that
        and at most 64. Read the width in use from :attr:`accumulator_width`.
    spacing : int
        Popcount register spacing in each DPU (0: none); latency only.
    top_registers : int
        A register after each of the last ``top_registers`` levels of each DPU's popcount
        as well (:class:`DPUParams`); latency only. (At 8 x 256 x 8 on the ECP5-85F, spacing
        2, the critical path was a level-4 register placed far from the level-5 adder, then
        level 6: bench/bitserial-fanout ``critical-path-8x256x8-fanout2-resblock.txt``.)
    popcount : str
        Each DPU's popcount structure, "tree", "packed" or "chain" (ECP5 only,
        :class:`DPUParams`); area and timing only.
    bcast_fanout : int
        The most DPUs one broadcast register drives. 0 (default): one broadcast register a
        word, driving the ``dn`` DPUs of its row (A) or the ``dm`` of its column (B). ``F >=
        1``: ``ceil(dn / F)`` copies of each A word's register and ``ceil(dm / F)`` of each
        B word's, kept apart through synthesis, each beside its group of DPUs (1: a copy for
        every DPU, ``2 dm dn dk`` flip-flops instead of ``(dm + dn) dk``); a kept copy of
        the loader's plane register for each operand bank (``(dm + dn) dk`` flip-flops);
        and a memory for each operand bank and for the results of each row of DPUs (each
        row and column group with ``a_flow="systolic"``), with kept
        copies of its address registers and enables, so that no register drives every
        bank's block RAMs (block RAMs are then rounded up a bank, e.g. 8 DP16KD for a
        256-bit bank). Timing only: results and latency are the same. (The broadcast
        copies alone, one a DPU, did not pay at 8 x 256 x 4 on the ECP5-85F: 107.6 MHz
        against 114.0, the loader's write data to the block RAMs became the critical path,
        which the plane copies answer; bench/bitserial-fanout
        has the runs.)
    bcast_stages : int
        Registers an operand word passes after the read-data register on its way to the
        DPUs (1..4, default 1): the last of them the broadcast register (or with
        ``bcast_fanout`` its copies), each one before it a single register a word. The way
        from the block RAMs to the array is then ``bcast_stages`` hops of routing with no
        logic, then the one into the DPUs' logic, so that a copy can sit beside its DPUs
        rather than half way from its block RAM. Each added stage: ``(dm + dn) dk``
        flip-flops (and a few for the step flags) and a cycle of latency; results the
        same. (At 8 x 256 x 8 with spacing 1 on the ECP5-85F the critical path was a B
        copy's 4.99 ns wire into its DPU's pair count, then the 6:3 counter:
        bench/bitserial-fanout run ``8x256x8-planes-packed-fanout2-spacing1-readynext``.
        With ``bcast_stages=2`` that array was stopped without an Fmax, its placement
        estimates 1% to 4% lower and its routing far slower, 76% of the flip-flops in use:
        ``8x256x8-spacing1-bstages2-attempt.json``.)
    dpu_inputs : bool
        Each DPU registers its two operand words (BISMO's DPU input register) in a register
        of its own, kept apart through synthesis, after the broadcast register or its copy:
        the broadcast becomes two hops of routing with no logic (with ``bcast_fanout``, the
        block RAM to a group's copy, the copy to the DPU) and each DPU's logic starts at a
        register beside it. ``2 dm dn dk`` flip-flops and one cycle of latency; results the
        same.
    b_flow : str
        How a B word reaches the ``dm`` DPUs of its column. ``"broadcast"`` (default): from
        the broadcast register or its copies, every DPU in the same cycle. ``"systolic"``:
        down the column: the copies (one a group of ``bcast_fanout`` rows) form a chain,
        the first loading the word (from the read-data register, or the last
        ``bcast_stages`` register), each after it from the one before, a cycle later, so
        that no B wire reaches past the next group. Group ``g``'s rows then read their A
        words ``g`` cycles late (their memories' read addresses through ``g`` more
        registers) and write their results ``g`` cycles late. Needs ``bcast_fanout`` (a
        memory a row) and not ``dpu_inputs``. As many flip-flops for B as the copies; for
        the delays, each row's late cycles times its A read address, step flags and result
        write address and enable (``lowbit.gen.fit.copy_ffs`` counts them); and
        ``ceil(dm / bcast_fanout) - 1`` cycles of latency; results the same. (A systolic
        array's operand flow, Kung 1982; BISMO broadcasts. At 8 x 256 x 8 on the ECP5-85F,
        spacing 2, packed, ``bcast_fanout=2``: 122.7 MHz against 135.35 with the copies
        broadcast, one seed each; its critical path inside a DPU, as before:
        bench/bitserial-fanout.)
    a_flow : str
        How an A word reaches the ``dn`` DPUs of its row, as ``b_flow`` for B: ``"systolic"``
        chains A's copies along the row, a cycle a group of ``bcast_fanout`` columns. Group
        ``g``'s columns then read their B words ``g`` cycles late (their memories' read
        addresses through ``g`` more registers), and column group ``g``'s DPUs work ``g``
        cycles behind column 0's (``h + g`` at row group ``h`` with ``b_flow="systolic"``
        too). Their results go to a result memory for each row and column group (not one
        a row), whose write address and enable are as late, so no result waits in a delay
        line; the readout reads them all at one address. With both flows systolic no
        operand wire reaches past the next group of DPUs (a systolic array, Kung 1982).
        Needs ``bcast_fanout`` and not ``dpu_inputs``. Costs: each column's late cycles
        times its B read address; for each added result memory, kept copies of its write
        address and enable, of the step flags and of the readout's address and enable, and
        each group's late cycles times its flags and write address
        (``lowbit.gen.fit.copy_ffs`` counts them all); block RAM or LUT RAM rounded up a
        memory (:func:`lowbit.gen.fit.bram_blocks`: the ULX3S's 4 x 64 x 4 with
        ``bcast_fanout=2``, 48 DP16KD against 44; 8 x 256 x 8's results stay in 832 LUT RAM
        units); and ``ceil(dn / bcast_fanout) - 1`` cycles of latency; results the same.
        (At 4 x 256 x 4 on the ECP5-85F, spacing 2, packed, ``bcast_fanout=2``, with
        ``b_flow="systolic"``: 155.3 MHz on average over five seeds against 152.9 with both
        broadcast, the critical paths in the popcount either way; at 8 x 256 x 8 its
        routing stalled, no Fmax: bench/nextpnr-options, bench/bitserial-fanout.)
    result_ram : str
        What the result buffer's memories are built from. ``"auto"`` (default): what Yosys
        finds cheapest by its own costs; on ECP5 a shallow result buffer goes into LUT RAM
        (8 x 256 x 8 on the ULX3S: 8 memories of 32 x 208 bits, 832 TRELLIS_DPR16X4 and
        their read multiplexers). ``"block"``: block RAM whatever the depth (the memories
        carry ``ram_style = "block"``), read through its output register like the operand
        buffers (:mod:`lowbit.boards.outreg`): logic cells freed where block RAM is left
        over. Results and latency the same; ``lowbit.gen.fit`` counts either and, on ECP5,
        tries both. (That 8 x 256 x 8 on the ECP5-85F: 55,240 logic cells (66%) against
        61,879 (74%), 176 DP16KD against 128; 113.77 MHz on one seed against 135.35 with
        the results in LUT RAM (that array's runs over the commits, one seed each: 97 to
        135 MHz), its critical path in a DPU's popcount as before: bench/bitserial-fanout.)
        On Gowin the same attribute gives block RAM (SDPX9B) for memories Yosys would put in
        LUT RAM (RAM16SDP4); the cost model does not cover Gowin.

    Signedness of each operand is a run-time choice and costs no parameter.
    Throughput: ``2 dm dk dn`` binary ops per cycle at peak; a run takes :meth:`cycles`.
    """

    dm: int = field(default=2, metadata={"help": f"rows Dm of the DPU array (1..{MAX_ARRAY})"})
    dn: int = field(default=2, metadata={
        "help": f"columns Dn of the DPU array (1..{MAX_ARRAY})"})
    dk: int = field(default=64, metadata={
        "help": f"bits Dk per DPU per cycle (1..{MAX_DK}, any value; "
                f"dm x dn x dk <= {MAX_DPU_BITS:,})"})
    max_wa: int = field(default=8, metadata={
        "help": f"largest run-time precision of A, wa (1..{MAX_PRECISION})"})
    max_wb: int = field(default=8, metadata={
        "help": f"largest run-time precision of B, wb (1..{MAX_PRECISION})"})
    max_m: int = field(default=16, metadata={
        "help": f"largest M (rows of A) the buffers hold (1..{MAX_SIZE})"})
    max_k: int = field(default=256, metadata={
        "help": f"largest K (columns of A, rows of B) the buffers hold (1..{MAX_SIZE})"})
    max_n: int = field(default=16, metadata={
        "help": f"largest N (columns of B) the buffers hold (1..{MAX_SIZE}; each buffer "
                f"<= {MAX_BUFFER_BITS:,} bits, e.g. max_m x max_k x max_wa)"})
    acc_width: int = field(default=0, metadata={
        "help": f"accumulator bits: 0 = exact worst case, else >= that and <= {MAX_ACC_WIDTH}"})
    spacing: int = field(default=2, metadata={
        "help": "popcount register spacing (0: none); latency only"})
    top_registers: int = field(default=0, metadata={"help": _TOP_REGISTERS_HELP})
    popcount: str = field(default="tree", metadata={
        "help": "each DPU's popcount: tree (full adders, adder tree), packed (pair counts, "
                "packed carry chains: fewer LUT4 on ECP5, see bench/popcount-packing) or "
                "chain (ECP5 boards only: CCU2C carry chains with the AND inside, see "
                "bench/popcount-chain)"})
    bcast_fanout: int = field(default=0, metadata={
        "help": f"most DPUs one operand broadcast register drives (0: no limit, one "
                f"register a word; 1..{MAX_ARRAY}: copies kept apart, one a group, and a "
                f"memory a bank with its own address registers; timing only, see "
                f"bench/bitserial-fanout)"})
    bcast_stages: int = field(default=1, metadata={
        "help": f"operand registers after the read-data register (1..{MAX_BCAST_STAGES}): "
                f"the last is the broadcast register or its copies; each added one is a "
                f"register a word, about (dm + dn) dk flip-flops and a cycle of latency; "
                f"timing only"})
    dpu_inputs: bool = field(default=False, metadata={
        "help": "each DPU registers its operand words (BISMO's DPU input register): "
                "2 dm dn dk flip-flops and a cycle of latency; timing only"})
    b_flow: str = field(default="broadcast", metadata={
        "help": "how a B word reaches its column's DPUs: broadcast (one register or its "
                "copies) or systolic (its copies in a chain down the column, a cycle a "
                "group of bcast_fanout rows; A's rows read as much later; needs "
                "bcast_fanout, not dpu_inputs; ceil(dm / bcast_fanout) - 1 cycles of "
                "latency; results the same)"})
    a_flow: str = field(default="broadcast", metadata={
        "help": "how an A word reaches its row's DPUs: broadcast or systolic (its copies in "
                "a chain along the row, a cycle a group of bcast_fanout columns; B's columns "
                "read as much later, a result memory a row and column group; needs "
                "bcast_fanout, not dpu_inputs; ceil(dn / bcast_fanout) - 1 cycles of "
                "latency; results the same)"})
    result_ram: str = field(default="auto", metadata={
        "help": "the result memories: auto (what Yosys finds cheapest; LUT RAM on ECP5 when "
                "shallow) or block (block RAM whatever the depth, freeing logic cells where "
                "block RAM is left over); results and latency the same"})
    operands: str = field(default="words", metadata={
        "help": "words: input words of dk elements at max_wa/max_wb bits, the P2S makes the "
                "planes; planes: the bit planes themselves, dk bits a word and w words a "
                "chunk (operands packed at the run's precision: 2 bits an element at w = 2)"})

    def __post_init__(self):
        _check_int("dm", self.dm, 1, MAX_ARRAY)
        _check_choice("operands", self.operands, OPERAND_FORMS)
        _check_choice("popcount", self.popcount, DPU_POPCOUNTS)
        _check_choice("result_ram", self.result_ram, RESULT_RAMS)
        _check_int("bcast_fanout", self.bcast_fanout, 0, MAX_ARRAY)
        _check_int("bcast_stages", self.bcast_stages, 1, MAX_BCAST_STAGES)
        _check_bool("dpu_inputs", self.dpu_inputs)
        for name, other, bank, side in (("b_flow", "A", "row", "rows"),
                                        ("a_flow", "B", "column", "columns")):
            flow = getattr(self, name)
            _check_choice(name, flow, FLOWS)
            if flow == "systolic" and (not self.bcast_fanout or self.dpu_inputs):
                raise ValueError(
                    f"{name}=systolic needs bcast_fanout >= 1 (a memory a {bank} of {other}, "
                    f"whose read address it delays a cycle a group of {side}) and no "
                    f"dpu_inputs (it chains the {name[0].upper()} copies before the DPUs), not "
                    + ("bcast_fanout=0" if not self.bcast_fanout else "dpu_inputs=1"))
        _check_int("dn", self.dn, 1, MAX_ARRAY)
        _check_int("dk", self.dk, 1, MAX_DK)
        _check_int("max_wa", self.max_wa, 1, MAX_PRECISION)
        _check_int("max_wb", self.max_wb, 1, MAX_PRECISION)
        _check_int("max_m", self.max_m, 1, MAX_SIZE)
        _check_int("max_k", self.max_k, 1, MAX_SIZE)
        _check_int("max_n", self.max_n, 1, MAX_SIZE)
        _check_int("spacing", self.spacing, 0, _MAX_SPACING)
        _check_int("top_registers", self.top_registers, 0, _MAX_SPACING)
        if not isinstance(self.acc_width, int) or isinstance(self.acc_width, bool):
            raise TypeError(f"acc_width must be an integer, not {self.acc_width!r}")
        need = self.needed_acc_width
        if self.acc_width != 0 and not need <= self.acc_width <= MAX_ACC_WIDTH:
            raise ValueError(
                f"acc_width must be 0 (auto) or between {need} (exact for max_k = {self.max_k}, "
                f"max_wa = {self.max_wa}, max_wb = {self.max_wb}) and {MAX_ACC_WIDTH}, "
                f"not {self.acc_width!r}")
        _check_product("dm x dn x dk", self.dm * self.dn * self.dk, MAX_DPU_BITS,
                       "the DPU array's bits a cycle")
        for name, bits in (("max_m x max_k x max_wa", self.max_m * self.max_k * self.max_wa),
                           ("max_k x max_n x max_wb", self.max_k * self.max_n * self.max_wb),
                           ("max_m x max_n x accumulator width",
                            self.max_m * self.max_n * self.accumulator_width)):
            _check_product(name, bits, MAX_BUFFER_BITS, "a buffer's bits")

    # Widths and sizes, shared by hardware, golden, manifest and cost model.
    @property
    def row_skews(self):
        """Cycles each row of DPUs works behind row 0: with ``b_flow="systolic"`` its B copy's
        place in the column's chain (:func:`broadcast_groups`), else 0."""
        if self.b_flow != "systolic":
            return [0] * self.dm
        return broadcast_groups(self.dm, self.bcast_fanout)

    @property
    def col_skews(self):
        """Cycles each column of DPUs works behind column 0: with ``a_flow="systolic"`` its A
        copy's place in the row's chain (:func:`broadcast_groups`), else 0. DPU ``(r, c)``
        works ``row_skews[r] + col_skews[c]`` cycles behind DPU (0, 0)."""
        if self.a_flow != "systolic":
            return [0] * self.dn
        return broadcast_groups(self.dn, self.bcast_fanout)

    @property
    def result_memories(self):
        """The result buffer's memories, each as the DPUs whose results it holds (``r dn + c``,
        in order; a memory's word is their accumulators side by side): one for the whole
        array; with ``bcast_fanout`` one a row of DPUs; with ``a_flow="systolic"`` one a row
        and group of columns (:attr:`col_skews`), each written as late as its DPUs work."""
        if not self.bcast_fanout:
            return [list(range(self.dpus))]
        skews = self.col_skews
        cols = [[c for c in range(self.dn) if skews[c] == g] for g in range(skews[-1] + 1)]
        return [[r * self.dn + c for c in group] for r in range(self.dm) for group in cols]

    @property
    def result_skews(self):
        """Cycles the DPUs of each of :attr:`result_memories` work behind DPU (0, 0), and
        so how late the memory is written (all of a memory's DPUs work in step)."""
        rows, cols = self.row_skews, self.col_skews
        return [rows[dpus[0] // self.dn] + cols[dpus[0] % self.dn]
                for dpus in self.result_memories]

    @property
    def needed_acc_width(self):
        """The exact worst-case accumulator width for the generated maxima."""
        return needed_acc_width(self.max_k, self.max_wa, self.max_wb)

    @property
    def accumulator_width(self):
        """The accumulator width in use: ``acc_width``, or the exact one when that is 0."""
        return self.acc_width or self.needed_acc_width

    @property
    def max_shift(self):
        """Largest shift ``i + j``: ``max_wa + max_wb - 2``."""
        return self.max_wa + self.max_wb - 2

    @property
    def dpu(self):
        """The parameters of each DPU of the array."""
        return DPUParams(dk=self.dk, max_shift=self.max_shift, acc_width=self.accumulator_width,
                         spacing=self.spacing, top_registers=self.top_registers,
                         popcount=self.popcount)

    @property
    def dpus(self):
        return self.dm * self.dn

    @property
    def peak_binary_ops_per_cycle(self):
        """``2 Dm Dk Dn``: an AND and an add per operand bit of every DPU."""
        return 2 * self.dm * self.dk * self.dn

    def effective_ops_per_cycle(self, wa, wb):
        """Integer multiply-add ops (2 per MAC) per cycle at ``wa x wb`` bits, at peak:
        ``2 Dm Dk Dn / (wa wb)``."""
        wa = _check_max("wa", wa, "max_wa", self.max_wa)
        wb = _check_max("wb", wb, "max_wb", self.max_wb)
        return self.peak_binary_ops_per_cycle / (wa * wb)

    def k_chunks(self, K):
        """``ceil(K / Dk)``."""
        return _ceil_div(_check_int("K", K, 1, MAX_SIZE), self.dk)

    def m_tiles(self, M):
        """``ceil(M / Dm)``."""
        return _ceil_div(_check_int("M", M, 1, MAX_SIZE), self.dm)

    def n_tiles(self, N):
        """``ceil(N / Dn)``."""
        return _ceil_div(_check_int("N", N, 1, MAX_SIZE), self.dn)

    @property
    def lhs_width(self):
        """Left buffer word bits: ``Dm`` banks of ``Dk``."""
        return self.dm * self.dk

    @property
    def rhs_width(self):
        """Right buffer word bits: ``Dn`` banks of ``Dk``."""
        return self.dn * self.dk

    @property
    def result_width(self):
        """Result buffer word bits: ``Dm * Dn`` accumulators."""
        return self.dm * self.dn * self.accumulator_width

    @property
    def lhs_depth(self):
        """Left buffer words: ``m_tiles(max_m) * max_wa * k_chunks(max_k)``."""
        return self.m_tiles(self.max_m) * self.max_wa * self.k_chunks(self.max_k)

    @property
    def rhs_depth(self):
        """Right buffer words: ``n_tiles(max_n) * max_wb * k_chunks(max_k)``."""
        return self.n_tiles(self.max_n) * self.max_wb * self.k_chunks(self.max_k)

    @property
    def result_depth(self):
        """Result buffer words: ``m_tiles(max_m) * n_tiles(max_n)``."""
        return self.m_tiles(self.max_m) * self.n_tiles(self.max_n)

    @property
    def buffer_words(self):
        """Words of each memory as generated: two halves (double buffering), each the depth
        above rounded up to a power of two (>= 2) so that the half is the top address bit."""
        def words(depth):
            return 2 << max(1, (depth - 1).bit_length())
        return {"lhs": words(self.lhs_depth), "rhs": words(self.rhs_depth),
                "result": words(self.result_depth)}

    @property
    def buffer_addr_bits(self):
        """Address bits of each memory of :attr:`buffer_words`, its half (the top bit)
        included."""
        return {name: (words - 1).bit_length() for name, words in self.buffer_words.items()}

    def check_run(self, M, K, N, wa, wb, a_signed, b_signed):
        """Check a run-time configuration against the generated maxima.

        Raises TypeError for non-integers (non-booleans for the signedness) and ValueError
        for zero or too large sizes and precisions, e.g. ``wa must be between 1 and max_wa
        (= 8), not 9``.
        """
        _check_max("M", M, "max_m", self.max_m)
        _check_max("K", K, "max_k", self.max_k)
        _check_max("N", N, "max_n", self.max_n)
        _check_max("wa", wa, "max_wa", self.max_wa)
        _check_max("wb", wb, "max_wb", self.max_wb)
        _check_bool("a_signed", a_signed)
        _check_bool("b_signed", b_signed)

    def cycles(self, M, K, N, wa, wb):
        """Compute cycles of a run: ``m_tiles * n_tiles * wa * wb * k_chunks``, one schedule
        step each. Excludes pipeline fill and drain, buffer loading and result readout."""
        self.check_run(M, K, N, wa, wb, False, False)
        return self.m_tiles(M) * self.n_tiles(N) * wa * wb * self.k_chunks(K)

    def compute(self, A, B, wa, wb, a_signed, b_signed):
        """``C = A B`` as the engine computes it (:func:`run_schedule`)."""
        return run_schedule(self, A, B, wa, wb, a_signed, b_signed)


def schedule(params, M, K, N, wa, wb, *, a_signed=False, b_signed=False):
    """Yield the :class:`ScheduleStep` s of a run in the order the controller runs them.

    ``for m_tile: for n_tile: for i in range(wa): for j in range(wb): for k_chunk``; there are
    ``params.cycles(M, K, N, wa, wb)`` steps. ``a_signed``/``b_signed`` only set ``negate``.
    """
    params.check_run(M, K, N, wa, wb, a_signed, b_signed)
    mt, nt, kc = params.m_tiles(M), params.n_tiles(N), params.k_chunks(K)
    for m_tile in range(mt):
        for n_tile in range(nt):
            for i in range(wa):
                for j in range(wb):
                    negate = (plane_sign(i, wa, a_signed) * plane_sign(j, wb, b_signed)) < 0
                    for k in range(kc):
                        yield ScheduleStep(
                            m_tile=m_tile, n_tile=n_tile, i=i, j=j, k_chunk=k,
                            first=i == 0 and j == 0 and k == 0,
                            last=i == wa - 1 and j == wb - 1 and k == kc - 1,
                            shift=i + j, negate=negate,
                            lhs_addr=(m_tile * wa + i) * kc + k,
                            rhs_addr=(n_tile * wb + j) * kc + k)


def _operand_words(params, planes, side, tiles, w, kc):
    # planes: (w, rows, K) zero-padded to (w, tiles * side, kc * dk); returns bank-packed words.
    dk = params.dk
    padded = np.zeros((w, tiles * side, kc * dk), dtype=np.uint8)
    padded[:, :planes.shape[1], :planes.shape[2]] = planes
    # Bit t of each Dk chunk, as Python ints: little-endian bytes -> int.
    chunks = np.packbits(padded.reshape(w, tiles * side, kc, dk), axis=-1, bitorder="little")
    words = []
    for tile in range(tiles):
        for i in range(w):
            for k in range(kc):
                word = 0
                for r in range(side):
                    bank = int.from_bytes(chunks[i, tile * side + r, k].tobytes(), "little")
                    word |= bank << (r * dk)
                words.append(word)
    return words


def lhs_words(params, A, wa, signed):
    """The left buffer image for ``A (M, K)`` at ``wa`` bits: a list of Python ints.

    Address ``(m_tile * wa + i) * k_chunks + k_chunk``; bank ``r`` (bits ``[r Dk, (r+1) Dk)``)
    holds ``A_i[m_tile Dm + r, k_chunk Dk + t]`` at bit ``t``; padding is zero.
    """
    A = _matrix("A", A)
    M, K = A.shape
    _check_max("M", M, "max_m", params.max_m)
    _check_max("K", K, "max_k", params.max_k)
    _check_max("wa", wa, "max_wa", params.max_wa)
    planes = bit_planes(A, wa, signed, name="A")
    return _operand_words(params, planes, params.dm, params.m_tiles(M), wa, params.k_chunks(K))


def rhs_words(params, B, wb, signed):
    """The right buffer image for ``B (K, N)`` at ``wb`` bits: a list of Python ints.

    Address ``(n_tile * wb + j) * k_chunks + k_chunk``; bank ``c`` holds
    ``B_j[k_chunk Dk + t, n_tile Dn + c]`` at bit ``t``; padding is zero.
    """
    B = _matrix("B", B)
    K, N = B.shape
    _check_max("K", K, "max_k", params.max_k)
    _check_max("N", N, "max_n", params.max_n)
    _check_max("wb", wb, "max_wb", params.max_wb)
    planes = bit_planes(B, wb, signed, name="B").transpose(0, 2, 1)  # columns of B as rows
    return _operand_words(params, planes, params.dn, params.n_tiles(N), wb, params.k_chunks(K))


def result_words(params, C):
    """The result buffer image for ``C (M, N)``: a list of Python ints, one per output tile.

    Address ``m_tile * n_tiles + n_tile``; DPU ``(r, c)`` holds ``C[m_tile Dm + r, n_tile Dn +
    c]`` (0 in padding) at bits ``[(r Dn + c) W, (r Dn + c + 1) W)``, ``W =
    accumulator_width``, two's complement.
    """
    C = _matrix("C", C)
    M, N = C.shape
    mt, nt = params.m_tiles(M), params.n_tiles(N)
    dm, dn, aw = params.dm, params.dn, params.accumulator_width
    padded = np.zeros((mt * dm, nt * dn), dtype=C.dtype)
    padded[:M, :N] = C
    return [pack_elements(padded[a * dm:(a + 1) * dm, b * dn:(b + 1) * dn].reshape(-1), aw)
            for a in range(mt) for b in range(nt)]


def results_from_words(params, words, M, N):
    """Inverse of :func:`result_words`: the ``(M, N)`` int64 matrix from the result words."""
    mt, nt = params.m_tiles(M), params.n_tiles(N)
    if len(words) != mt * nt:
        raise ValueError(f"expected {mt * nt} result words for M = {M}, N = {N}, "
                         f"not {len(words)}")
    dm, dn, aw = params.dm, params.dn, params.accumulator_width
    C = np.zeros((mt * dm, nt * dn), dtype=np.int64)
    for a in range(mt):
        for b in range(nt):
            tile = unpack_elements(words[a * nt + b], dm * dn, aw, signed=True)
            C[a * dm:(a + 1) * dm, b * dn:(b + 1) * dn] = tile.reshape(dm, dn)
    return C[:M, :N]


def run_schedule(params, A, B, wa, wb, a_signed, b_signed, *, return_words=False):
    """``C = A B`` computed the way the engine does, step by step.

    Packs the zero-padded bit-plane tiles into the buffer images (:func:`lhs_words`,
    :func:`rhs_words`), walks :func:`schedule`, and in every step lets each of the ``Dm x Dn``
    DPUs AND its ``Dk``-bit banks, popcount, shift by ``i + j``, negate when ``s_i s_j = -1``
    and accumulate in ``accumulator_width`` bits of two's complement (:func:`dpu_step`). At
    each ``last`` step the tile goes to the result buffer.

    Returns the ``(M, N)`` int64 result, or the result buffer words (:func:`result_words`
    layout) when ``return_words`` is set.
    """
    A, B = _matrix("A", A), _matrix("B", B)
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A and B must agree on K: A is {A.shape}, B is {B.shape}")
    (M, K), N = A.shape, B.shape[1]
    params.check_run(M, K, N, wa, wb, a_signed, b_signed)
    lhs = lhs_words(params, A, wa, a_signed)
    rhs = rhs_words(params, B, wb, b_signed)
    dm, dn, dk, aw = params.dm, params.dn, params.dk, params.accumulator_width
    mask = (1 << dk) - 1
    nt = params.n_tiles(N)
    results = [0] * (params.m_tiles(M) * nt)
    acc = [0] * (dm * dn)
    for step in schedule(params, M, K, N, wa, wb, a_signed=a_signed, b_signed=b_signed):
        lw, rw = lhs[step.lhs_addr], rhs[step.rhs_addr]
        a_banks = [(lw >> (r * dk)) & mask for r in range(dm)]
        b_banks = [(rw >> (c * dk)) & mask for c in range(dn)]
        acc = [dpu_step(acc[r * dn + c], a_banks[r], b_banks[c], step.shift, step.negate,
                        step.first, aw)
               for r in range(dm) for c in range(dn)]
        if step.last:
            results[step.m_tile * nt + step.n_tile] = pack_elements(acc, aw)
    if return_words:
        return results
    return results_from_words(params, results, M, N)


def operand_words(params, A, B, wa=None, wb=None):
    """The input stream of one run: ``A``'s rows then ``B``'s columns, each cut into
    ``k_chunks`` chunks of ``Dk`` elements (zero past ``K``); ``B`` None: ``A``'s only (a
    weight-resident run). A chunk is one word of ``W``-bit fields (``operands=words``), or
    (``operands=planes``) its ``wa`` (``wb`` for ``B``) bit planes, LSB first, element ``e``
    at bit ``e`` of each: the operands packed at the run's precision."""
    if params.operands == "planes" and (wa is None or (B is not None and wb is None)):
        raise ValueError("operands=planes: the planes of a chunk depend on the run's "
                         "precision; give wa (and wb with B)")
    A = np.asarray(A, dtype=np.int64)
    B = np.zeros((A.shape[1], 0), dtype=np.int64) if B is None else np.asarray(B, np.int64)
    K = A.shape[1]
    kc = params.k_chunks(K)
    conv = P2SParams(elements=params.dk, max_width=max(params.max_wa, params.max_wb))
    words = []
    for rows, w in ((A, wa), (B.T, wb)):
        padded = np.zeros((rows.shape[0], kc * params.dk), dtype=np.int64)
        padded[:, :K] = rows
        chunks = padded.reshape(-1, params.dk)
        if params.operands == "words":
            words += conv.pack_input(chunks)
            continue
        for chunk in chunks:
            for i in range(w):
                bits = ((chunk >> i) & 1).astype(np.uint8)
                words.append(int.from_bytes(np.packbits(bits, bitorder="little").tobytes(),
                                            "little"))
    return words


# ---------------------------------------------------------------------------------------------
# Adapters: user data <-> the units' streams (lowbit.golden.job).

def dpu_job(params, beats, *, calm_beats=64):
    """The DPU's adapter: :class:`DPUBeat` s (or tuples) in, the ``acc`` of each ``last`` out
    (Python ints)."""
    beats = [params.check_beat(b) for b in beats]
    cols = {"a": [b.a for b in beats], "b": [b.b for b in beats],
            "shift": [b.shift for b in beats], "negate": [int(b.negate) for b in beats],
            "first": [int(b.first) for b in beats], "last": [int(b.last) for b in beats]}
    ends = [k for k, b in enumerate(beats) if b.last]
    return Job(cols, len(ends), lambda out: [int(v) for v in out["acc"]], last_beats=ends,
               calm_beats=calm_beats)


def p2s_job(params, words, w, *, calm_beats=8):
    """The P2S's adapter: ``words`` (n, E) at run-time precision ``w`` (held on port ``w``);
    out come ``w`` plane words a word, LSB plane first (Python ints)."""
    w = params.check_w(w)
    data = params.pack_input(words)
    return Job({"data": data}, len(data) * w, lambda out: [int(v) for v in out["plane"]],
               hold={"w": w}, calm_beats=calm_beats)


def bitserial_job(params, A, B, wa, wb, a_signed, b_signed, keep_b=False):
    """The bit-serial engine's adapter: one run ``C = A B`` at ``wa`` x ``wb`` bits with the
    given signedness (held on the configuration ports, sampled with the run's words); the
    result is C (M, N) int64, from the engine's tiles (:func:`results_from_words`).

    ``keep_b``: a weight-resident run, whose words are only ``A``'s; ``B`` must be the matrix
    the engine holds from the latest run that loaded one (:func:`bitserial_runs` checks
    that), and is used here only for its shape."""
    (M, K), N = np.shape(A), np.shape(B)[1]
    if np.shape(B)[0] != K:
        raise ValueError(f"A is {np.shape(A)}, B is {np.shape(B)}: K differs")
    params.check_run(M, K, N, wa, wb, a_signed, b_signed)
    _check_bool("keep_b", keep_b)
    words = operand_words(params, A, None if keep_b else B, wa, wb)
    config = {"wa": wa, "wb": wb, "a_signed": int(a_signed), "b_signed": int(b_signed),
              "m": M, "n": N, "k_chunks": params.k_chunks(K), "keep_b": int(keep_b)}
    tiles = params.m_tiles(M) * params.n_tiles(N)
    planes = len(words) * (max(wa, wb) if params.operands == "words" else 1)
    cycles = planes + params.cycles(M, K, N, wa, wb) + tiles + 40

    def decode(out):
        if len(out["tile"]) != tiles or not lasts_at(out["last"], [tiles]):
            return None
        return results_from_words(params, [int(v) for v in out["tile"]], M, N)

    field = "data" if params.operands == "words" else "plane"
    return Job({field: words}, tiles, decode, hold=config, cycles=cycles, calm_beats=0)


class MatmulRun(NamedTuple):
    """One run of the engine: ``A @ B`` at ``wa`` x ``wb`` bits with the given signedness;
    ``keep_b``: weight-resident (``B`` is the one the engine holds, not sent again)."""
    A: np.ndarray
    B: np.ndarray
    wa: int
    wb: int
    a_signed: bool
    b_signed: bool
    keep_b: bool = False


def bitserial_runs(params, runs):
    """The jobs of a sequence of :class:`MatmulRun` s, back to back, checking that each
    weight-resident run multiplies by the ``B`` the engine then holds (the latest run that
    loaded one): same ``B`` shape (so ``K`` and ``N``), ``wb`` and ``b_signed``. Raises
    ValueError naming the first run that does not."""
    jobs, held = [], None
    for n, r in enumerate(runs):
        r = MatmulRun(*r)
        if r.keep_b:
            if held is None:
                raise ValueError(f"run {n} keeps B (weight-resident) but no earlier run "
                                 f"loaded one")
            B0, wb0, s0 = held
            if np.shape(r.B) != np.shape(B0):
                what = "K" if np.shape(r.B)[0] != np.shape(B0)[0] else "N"
                raise ValueError(f"run {n} keeps B (weight-resident) but its {what} differs "
                                 f"from the resident B's: B is {np.shape(r.B)}, the resident "
                                 f"B {np.shape(B0)}")
            if (r.wb, bool(r.b_signed)) != (wb0, bool(s0)) or not np.array_equal(r.B, B0):
                raise ValueError(f"run {n} keeps B (weight-resident) but gives another B, wb "
                                 f"or b_signed than the resident one (wb = {wb0}, b_signed = "
                                 f"{bool(s0)})")
        else:
            held = (np.asarray(r.B), r.wb, r.b_signed)
        jobs.append(bitserial_job(params, *r))
    return jobs


def overlapped_schedule(params, runs, *, latency, readout_latency, handover_latency):
    """When each stage of the engine works on each of a sequence of back-to-back runs, with
    every word offered at once and no back-pressure: a list of dicts of cycles, counted from
    the cycle the first word is accepted (cycle 0).

    ``runs`` are ``(M, K, N, wa, wb, keep_b)``; ``latency``, ``readout_latency`` and
    ``handover_latency`` (the cycles a stage's hand-over takes to reach the stage it concerns)
    are the engine's (its manifest). The stages (see :class:`lowbit.hw.matmul.BitSerialMatmul`):

    - the **loader** starts a run (``load_start``) when the converter holds its first word,
      it has finished the previous run and the run's operand half is free (the compute stage
      has issued the last step of the run two before, seen ``handover_latency`` cycles
      late); it takes one plane a cycle, ``(M wa + N wb) k_chunks`` cycles (``M wa
      k_chunks`` weight-resident), the last at ``load_end``;
    - the **compute** stage starts (``compute_start``) the cycle after it sees the loader
      hand the run on (``handover_latency`` cycles late), once the previous run's last step
      has issued and the run's result half is free (the readout has sent the run two before,
      seen as late); its steps follow, the last at ``compute_end``; the result half is
      full ``latency`` cycles after that;
    - the **readout** starts (``read_start``) once the half is full and the previous run has
      left, and sends a tile a cycle: ``first_out`` and ``last_out`` are the cycles ``o``
      carries the run's first and last tile.
    """
    out = []
    for n, (M, K, N, wa, wb, keep_b) in enumerate(runs):
        kc = params.k_chunks(K)
        prev = out[-1] if out else None
        two = out[-2] if n >= 2 else None
        late = 1 + handover_latency
        ls = max(1, prev["load_end"] + 1 if prev else 0, two["compute_end"] + late if two else 0)
        le = ls + (M * wa + (0 if keep_b else N * wb)) * kc
        cs = max(le + late, prev["compute_end"] + 1 if prev else 0,
                 two["read_end"] + late if two else 0)
        ce = cs + params.cycles(M, K, N, wa, wb)
        rs = max(ce + latency, prev["read_end"] + 1 if prev else 0)
        re = rs + params.m_tiles(M) * params.n_tiles(N)
        out.append({"load_start": ls, "load_end": le, "compute_start": cs, "compute_end": ce,
                    "read_start": rs, "read_end": re, "first_out": rs + 1 + readout_latency,
                    "last_out": re + readout_latency})
    return out


# ---------------------------------------------------------------------------------------------
# lowbit compare: a user's arrays into jobs, golden results and report fields.

def dpu_shape_params(arr, items, **_):
    """``dk`` from the input's bits per operand, ``(beats, 2, dk)``."""
    ok = arr.ndim == 3 and 1 <= arr.shape[2] <= MAX_DK
    return unless_given(items, {"dk": arr.shape[2]} if ok else {})


def dpu_compare(params, arr, *, shift=None, negate=None, beats_per_sum=None, **_):
    """``lowbit compare dpu``: ``arr`` (beats, 2, dk) bits, operands a and b of each beat
    (bit t of a word is element t); ``shift`` (beats,) integers 0..max_shift (default 0),
    ``negate`` (beats,) 0/1 (default 0); every ``beats_per_sum`` beats form one sum
    (first/last; default: all beats)."""
    if arr.ndim != 3 or arr.shape[1:] != (2, params.dk) or arr.shape[0] == 0:
        raise UsageError(f"--input for dpu must have shape (beats, 2, dk={params.dk}) with at "
                         f"least one beat, not {arr.shape}")
    bits = only_bits(arr, "--input")
    n = len(bits)
    if shift is None:
        shifts = np.zeros(n, dtype=np.int64)
    else:
        if shift.shape != (n,):
            raise UsageError(f"--shift must have shape (beats={n},), not {shift.shape}")
        if not np.issubdtype(shift.dtype, np.integer):
            raise UsageError(f"--shift must hold integers, not {shift.dtype}")
        bad = np.flatnonzero((shift < 0) | (shift > params.max_shift))
        if len(bad):
            raise UsageError(f"--shift values must lie in [0, {params.max_shift}] (max_shift), "
                             f"not {int(shift[bad[0]])} at beat {int(bad[0])}")
        shifts = shift.astype(np.int64)
    if negate is None:
        signs = np.zeros(n, dtype=np.uint8)
    else:
        if negate.shape != (n,):
            raise UsageError(f"--negate must have shape (beats={n},), not {negate.shape}")
        signs = only_bits(negate, "--negate")
    terms = n if beats_per_sum is None else beats_per_sum
    if terms < 1 or n % terms:
        raise UsageError(f"--beats-per-sum must be >= 1 and divide the {n} beats, not {terms}")
    weights = 1 << np.arange(params.dk, dtype=object)
    beats = [DPUBeat(int(a @ weights), int(b @ weights), int(s), bool(g), k % terms == 0,
                     k % terms == terms - 1)
             for k, ((a, b), s, g) in enumerate(zip(bits.astype(object), shifts, signs))]
    want = [int(v) for v in dpu_golden(params, beats)]
    return Comparison(dpu_job(params, beats), want,
                      extra={"shape": [len(want)], "beats_per_result": terms})


def p2s_shape_params(arr, items, **_):
    """``elements`` from the input's words, ``(words, E)``."""
    ok = arr.ndim == 2 and 1 <= arr.shape[1] <= MAX_ELEMENTS
    return unless_given(items, {"elements": arr.shape[1]} if ok else {})


def p2s_compare(params, arr, *, w=None, **_):
    """``lowbit compare p2s``: ``arr`` (words, E) integers, each a ``w``-bit element (signed
    or unsigned: the P2S takes the ``w``-bit pattern); ``w`` defaults to max_width. Results:
    ``w`` plane words per input word, LSB plane first, element e at bit e."""
    if arr.ndim != 2 or arr.shape[1] != params.elements or arr.shape[0] == 0:
        raise UsageError(f"--input for p2s must have shape (words, E={params.elements}) with "
                         f"at least one word, not {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"--input for p2s must hold integers, not {arr.dtype}")
    w = params.max_width if w is None else w
    checked(params.check_w, "p2s", w)
    # Signed or unsigned w-bit values; anything wider would silently lose its high bits.
    lo, hi = -(1 << (w - 1)), (1 << w) - 1
    bad = np.argwhere((arr < lo) | (arr > hi))
    if len(bad):
        raise UsageError(f"--input values must lie in [{lo}, {hi}] (w = {w} bits, signed or "
                         f"unsigned), not {arr[tuple(bad[0])]} at index {where(bad[0])}")
    words = arr.astype(np.int64)
    # The golden model (golden.bitserial.p2s: plane_i = (x >> i) & 1, packed), not the RTL.
    want = [int(v) for v in params.compute(words, w)]
    return Comparison(p2s_job(params, words, w), want,
                      extra={"shape": [len(words), w], "w": w})


def bitserial_shape_params(arr, items, *, rhs=None, **_):
    """``max_m``, ``max_k``, ``max_n`` grown to the matrices where they exceed the defaults
    (which stay, so smaller runs share one build); capped at the largest allowed, so that the
    size check names M, K or N rather than the parameter. Bad shapes are left to
    :func:`bitserial_compare`."""
    default = BitSerialParams()
    dims = {}
    if arr.ndim == 2:
        dims["max_m"], dims["max_k"] = arr.shape
    if rhs is not None and rhs.ndim == 2:
        dims["max_k"] = max(dims.get("max_k", 0), rhs.shape[0])
        dims["max_n"] = rhs.shape[1]
    return unless_given(items, {k: min(v, MAX_SIZE) for k, v in dims.items()
                                if v > getattr(default, k)})


def _int_matrix(arr, option, name):
    if not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"{option} ({name}) must hold integers, not {arr.dtype}")
    if arr.ndim != 2:
        raise UsageError(f"{option} ({name}) must be a matrix, not shape {arr.shape}")
    return arr


def bitserial_compare(params, arr, *, rhs=None, wa=None, wb=None, a_signed=None,
                      b_signed=None, **_):
    """``lowbit compare bitserial``: ``C = A B`` for ``arr`` = A (M, K) and ``rhs`` = B
    (K, N), integers of ``wa`` and ``wb`` bits (default max_wa, max_wb), signed unless
    ``a_signed``/``b_signed`` is False. The golden model is numpy's integer product."""
    if rhs is None:
        raise UsageError("bitserial needs --rhs FILE.npy, the right matrix B of shape (K, N)")
    A, B = _int_matrix(arr, "--input", "A"), _int_matrix(rhs, "--rhs", "B")
    if A.shape[1] != B.shape[0]:
        raise UsageError(f"--input (A) and --rhs (B) must agree on K: A is {A.shape}, "
                         f"B is {B.shape}")
    (M, K), N = A.shape, B.shape[1]
    wa = params.max_wa if wa is None else wa
    wb = params.max_wb if wb is None else wb
    a_signed = True if a_signed is None else a_signed
    b_signed = True if b_signed is None else b_signed
    try:
        params.check_run(M, K, N, 1, 1, a_signed, b_signed)
    except ValueError as exc:
        raise UsageError(f"bitserial: {exc} (A is {A.shape}, B is {B.shape})") from None
    checked(lambda x: params.check_run(M, K, N, *x, a_signed, b_signed), "bitserial", (wa, wb))
    A = checked(lambda x: check_fits("--input (A)", x, wa, a_signed), "bitserial", A)
    B = checked(lambda x: check_fits("--rhs (B)", x, wb, b_signed), "bitserial", B)
    want = A.astype(np.int64) @ B.astype(np.int64)
    compute = params.cycles(M, K, N, wa, wb)
    ops = 2 * M * K * N
    peak = params.effective_ops_per_cycle(wa, wb)
    kinds = ["signed" if s else "unsigned" for s in (a_signed, b_signed)]

    def finish(got, resp, manifest):
        return {"notes": [f"A {M}x{K} at {wa} bits {kinds[0]}, B {K}x{N} at {wb} bits "
                          f"{kinds[1]}",
                          f"{compute} compute cycles in the schedule ({resp['cycles']} "
                          f"simulated, with loading through the P2S, readout, idle and "
                          f"back-pressure)",
                          f"effective ops (2 M K N = {ops}) per compute cycle: "
                          f"{ops / compute:.2f} (peak at {wa}x{wb} bits: {peak:.2f})"]}

    extra = {"shape": [M, N], "wa": wa, "wb": wb, "a_signed": a_signed, "b_signed": b_signed,
             "compute_cycles": compute, "effective_ops": ops,
             "effective_ops_per_compute_cycle": round(ops / compute, 4),
             "peak_effective_ops_per_cycle": peak}
    return Comparison(bitserial_job(params, A, B, wa, wb, a_signed, b_signed),
                      want.reshape(-1).tolist(), lambda got: got.reshape(-1).tolist(), extra,
                      finish=finish)
