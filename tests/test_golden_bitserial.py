"""Bit-serial golden model (BISMO semantics): bit planes, the weighted sum of binary products
against numpy integer matmul, P2S order, the tiled schedule, buffer images, the DPU and the
accumulator width, and every parameter and run-time rule with its message."""

import dataclasses
import itertools
import re

import numpy as np
import pytest
from lowbit.golden.bitserial import (
    BitSerialParams,
    DPUBeat,
    DPUParams,
    P2SParams,
    ScheduleStep,
    bit_planes,
    bitserial_matmul,
    check_fits,
    dpu_golden,
    from_planes,
    lhs_words,
    needed_acc_width,
    p2s,
    pack_elements,
    plane_sign,
    plane_weights,
    result_words,
    results_from_words,
    rhs_words,
    run_schedule,
    s2p,
    schedule,
    unpack_elements,
    value_range,
)
from lowbit.golden.fixed import wrap_signed

SEED = 0x5B15  # "BISMO"
PRECISIONS = range(1, 9)
# (a_signed, b_signed): every combination.
SIGNS = [(True, True), (True, False), (False, True), (False, False)]
SIGN_IDS = ["sxs", "sxu", "uxs", "uxu"]
# Array shapes: Dm != Dn both ways, Dk not a power of two, a 1x1 array, Dk = 1.
SHAPES = [
    BitSerialParams(dm=2, dn=3, dk=16),
    BitSerialParams(dm=3, dn=2, dk=48),
    BitSerialParams(dm=1, dn=1, dk=7),
    BitSerialParams(dm=4, dn=4, dk=1),
]
# M, K, N that are multiples of none of the array sizes above (except the 1x1 array's).
M, K, N = 5, 37, 7


def raises(exc, message):
    return pytest.raises(exc, match=re.escape(message))


def operand_cases(rng, wa, wb, a_signed, b_signed, m=M, k=K, n=N):
    """Seeded random matrices, then all most-negative, all most-positive and mixed extremes."""
    alo, ahi = value_range(wa, a_signed)
    blo, bhi = value_range(wb, b_signed)
    cases = [("random", rng.integers(alo, ahi + 1, (m, k)), rng.integers(blo, bhi + 1, (k, n)))]
    for name, a, b in (("min x min", alo, blo), ("max x max", ahi, bhi),
                       ("min x max", alo, bhi), ("max x min", ahi, blo)):
        cases.append((name, np.full((m, k), a), np.full((k, n), b)))
    cases.append(("mixed", rng.choice([alo, ahi], (m, k)), rng.choice([blo, bhi], (k, n))))
    return cases


# ---------------------------------------------------------------------------------------------
# Bit planes.

@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("bits", [1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 62, 63])
def test_planes_round_trip(bits, signed):
    seed = SEED + 2 * bits + signed
    rng = np.random.default_rng(seed)
    lo, hi = value_range(bits, signed)
    x = np.concatenate([rng.integers(lo, hi, 50, endpoint=True), [lo, hi, 0, min(hi, 1)]])
    planes = bit_planes(x, bits, signed)
    assert planes.shape == (bits, x.size) and planes.dtype == np.uint8
    for i in range(bits):
        np.testing.assert_array_equal(planes[i], (x >> i) & 1, err_msg=f"plane {i} seed {seed}")
    np.testing.assert_array_equal(from_planes(planes, signed), x, err_msg=f"seed {seed}")


def test_planes_by_hand():
    # -1 = 1111, 5 = 0101, -8 = 1000 (4-bit two's complement); LSB plane first.
    planes = bit_planes([[-1, 5, -8]], 4, True)
    assert planes.shape == (4, 1, 3)
    assert planes[:, 0, :].tolist() == [[1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 0, 1]]
    assert from_planes(planes, True).tolist() == [[-1, 5, -8]]
    # The same patterns read as unsigned.
    assert from_planes(planes, False).tolist() == [[15, 5, 8]]


def test_plane_weights():
    assert plane_weights(4, True) == [1, 2, 4, -8]
    assert plane_weights(3, False) == [1, 2, 4]
    assert plane_weights(1, True) == [-1]
    assert plane_weights(1, False) == [1]
    assert [plane_sign(i, 3, True) for i in range(3)] == [1, 1, -1]


def test_value_range():
    assert value_range(1, True) == (-1, 0)
    assert value_range(1, False) == (0, 1)
    assert value_range(8, True) == (-128, 127)
    assert value_range(8, False) == (0, 255)


def test_check_fits():
    np.testing.assert_array_equal(check_fits("A", [[-8, 7]], 4, True), [[-8, 7]])
    with raises(ValueError, "A values must lie in [-8, 7] (4-bit signed), not 9 at index (1, 0)"):
        check_fits("A", [[1, 2], [9, 3]], 4, True)
    with raises(ValueError, "B values must lie in [0, 15] (4-bit unsigned), not -1 at index (2,)"):
        check_fits("B", [0, 15, -1], 4, False)
    with raises(ValueError, "x values must lie in [-4, 3] (3-bit signed), not -5 at index (0,)"):
        bit_planes([-5], 3, True)
    with raises(TypeError, "A must hold integers, not dtype float64"):
        check_fits("A", [1.0, 2.0], 4, True)
    with raises(TypeError, "A must hold integers, not 1.5"):
        check_fits("A", np.array([1, 1.5], dtype=object), 4, True)
    with raises(ValueError, "A values must lie in [0, 255] (8-bit unsigned), not "
                            "18446744073709551615 at index (0,)"):
        check_fits("A", np.array([2**64 - 1], dtype=np.uint64), 8, False)
    with raises(ValueError, "bits must be between 1 and 63, not 0"):
        check_fits("A", [0], 0, True)
    with raises(TypeError, "signed must be a boolean, not 1"):
        check_fits("A", [0], 4, 1)


def test_from_planes_rules():
    with raises(ValueError, "planes must hold only bits 0 and 1"):
        from_planes([[0, 2]], True)
    with raises(ValueError, "planes must have shape (bits, ...) with bits >= 1, not (0, 3)"):
        from_planes(np.zeros((0, 3), dtype=np.uint8), True)


# ---------------------------------------------------------------------------------------------
# The weighted sum of binary products equals the integer product.

@pytest.mark.parametrize("a_signed,b_signed", SIGNS, ids=SIGN_IDS)
@pytest.mark.parametrize("wb", PRECISIONS)
@pytest.mark.parametrize("wa", PRECISIONS)
def test_bitserial_matmul_equals_integer_matmul(wa, wb, a_signed, b_signed):
    seed = SEED + 1000 * wa + 100 * wb + 10 * a_signed + b_signed
    rng = np.random.default_rng(seed)
    params = SHAPES[(wa + wb) % 3]  # Dk = 1 is slow here; test_run_schedule_shapes has it.
    for name, A, B in operand_cases(rng, wa, wb, a_signed, b_signed):
        want = A.astype(np.int64) @ B.astype(np.int64)
        msg = f"{name}, {wa}x{wb} bits, signed {a_signed}/{b_signed}, seed {seed}"
        got = bitserial_matmul(A, B, wa, wb, a_signed, b_signed)
        assert got.dtype == np.int64, msg
        np.testing.assert_array_equal(got, want, err_msg=msg)
        if name in ("random", "min x min"):
            np.testing.assert_array_equal(
                run_schedule(params, A, B, wa, wb, a_signed, b_signed), want,
                err_msg=f"{msg}, {params}")


@pytest.mark.parametrize("a_signed,b_signed", SIGNS, ids=SIGN_IDS)
@pytest.mark.parametrize("params", SHAPES, ids=lambda p: f"{p.dm}x{p.dk}x{p.dn}")
def test_run_schedule_shapes(params, a_signed, b_signed):
    """Every array shape at 8x8 bits on sizes below, at and above one tile."""
    seed = SEED + 17 * params.dm + 5 * params.dk + 3 * params.dn + 2 * a_signed + b_signed
    rng = np.random.default_rng(seed)
    dm, dk, dn = params.dm, params.dk, params.dn
    for m, k, n in ((1, 1, 1), (dm, dk, dn), (2 * dm + 1, 2 * dk + 3, 2 * dn - 1)):
        for name, A, B in operand_cases(rng, 8, 8, a_signed, b_signed, m, k, n):
            want = A.astype(np.int64) @ B.astype(np.int64)
            np.testing.assert_array_equal(
                run_schedule(params, A, B, 8, 8, a_signed, b_signed), want,
                err_msg=f"{name}, {m}x{k}x{n}, seed {seed}")


def test_bitserial_matmul_wide_uses_python_ints():
    seed = SEED + 32
    rng = np.random.default_rng(seed)
    lo, hi = value_range(32, True)
    A = rng.integers(lo, hi, (3, 9), endpoint=True)
    A[0] = lo
    B = rng.integers(lo, hi, (9, 2), endpoint=True)
    B[:, 0] = lo
    got = bitserial_matmul(A, B, 32, 32, True, True)
    assert got.dtype == object
    want = A.astype(object) @ B.astype(object)
    assert got.tolist() == want.tolist(), f"seed {seed}"


def test_bitserial_matmul_rules():
    with raises(ValueError, "A and B must agree on K: A is (2, 3), B is (4, 1)"):
        bitserial_matmul(np.zeros((2, 3), int), np.zeros((4, 1), int), 2, 2, True, True)
    with raises(ValueError, "A must be a 2-D matrix, not shape (3,)"):
        bitserial_matmul(np.zeros(3, int), np.zeros((3, 1), int), 2, 2, True, True)
    with raises(ValueError, "B values must lie in [0, 3] (2-bit unsigned), not 4 at index (1, 0)"):
        bitserial_matmul([[1, 1]], [[1], [4]], 2, 2, True, False)
    with raises(ValueError, "bits must be between 1 and 63, not 64"):
        bitserial_matmul([[1]], [[1]], 64, 2, True, True)


# ---------------------------------------------------------------------------------------------
# P2S.

def test_p2s_by_hand():
    # Elements 1, 2, 3 at w = 2 (01, 10, 11): plane 0 = elements' bit 0 = 1,0,1 -> 0b101;
    # plane 1 = 0,1,1 -> 0b110. Then -1 at w = 2 is 11 for every element.
    assert p2s([[1, 2, 3], [-1, -1, -1]], 2) == [0b101, 0b110, 0b111, 0b111]
    # w = 3, E = 2: -3 = 101, 6 = 110 -> planes 01, 10, 11 (element 0 at bit 0).
    assert p2s([[-3, 6]], 3) == [0b01, 0b10, 0b11]
    # Only the low w bits are used.
    assert p2s([[0b1101]], 2) == [1, 0]


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("w", [1, 2, 3, 7, 8, 9, 16, 31, 32])
def test_p2s_round_trip(w, signed):
    seed = SEED + 3 * w + signed
    rng = np.random.default_rng(seed)
    lo, hi = value_range(w, signed)
    E = 13
    words = rng.integers(lo, hi, (6, E), endpoint=True)
    words[0] = lo
    words[1] = hi
    out = p2s(words, w)
    assert len(out) == 6 * w, f"seed {seed}"
    assert all(0 <= p < (1 << E) for p in out), f"seed {seed}"
    # Plane i of word n is bit_planes' plane i, packed little-endian.
    planes = bit_planes(words, w, signed)
    for n, i in itertools.product(range(6), range(w)):
        assert out[n * w + i] == pack_elements(planes[i, n], 1), f"word {n} plane {i} seed {seed}"
    np.testing.assert_array_equal(s2p(out, w, E, signed=signed), words, err_msg=f"seed {seed}")


def test_s2p_rules():
    with raises(ValueError, "the number of plane words must be a multiple of w = 3, not 4"):
        s2p([0, 0, 0, 0], 3, 2)
    with raises(ValueError, "words must have shape (n, E), not (3,)"):
        p2s([1, 2, 3], 2)
    with raises(ValueError, "w must be between 1 and 63, not 0"):
        p2s([[1]], 0)


def test_pack_elements():
    assert pack_elements([1, -1, 2], 4) == 0x2F1
    assert unpack_elements(0x2F1, 3, 4).tolist() == [1, 15, 2]
    assert unpack_elements(0x2F1, 3, 4, signed=True).tolist() == [1, -1, 2]
    assert unpack_elements(pack_elements([-2, 2**63 - 1], 64), 2, 64, signed=True).tolist() == [
        -2, 2**63 - 1]
    assert unpack_elements((1 << 64) - 1, 1, 64).tolist() == [2**64 - 1]


def test_p2s_params():
    p = P2SParams(elements=4, max_width=6)
    assert (p.in_width, p.out_width) == (24, 4)
    words = [[-32, 63, 5, 0], [1, 2, 3, 4]]
    assert p.compute(words, 6) == p2s(words, 6)
    assert p.compute(words, 1) == [0b0110, 0b0101]
    assert p.pack_input([[1, -1, 0, 2]]) == [1 | (63 << 6) | (2 << 18)]
    with raises(ValueError, "w must be between 1 and max_width (= 6), not 7"):
        p.compute(words, 7)
    with raises(ValueError, "w must be between 1 and max_width (= 6), not 0"):
        p.check_w(0)
    with raises(ValueError, "words must have shape (n, 4), not (1, 3)"):
        p.compute([[1, 2, 3]], 2)
    with raises(ValueError, "words values must lie in [-32, 63] (max_width = 6), not 64"):
        p.compute([[1, 2, 3, 64]], 2)


@pytest.mark.parametrize("kwargs,message", [
    ({"elements": 0}, "elements must be between 1 and 4096, not 0"),
    ({"elements": 4097}, "elements must be between 1 and 4096, not 4097"),
    ({"max_width": 0}, "max_width must be between 1 and 32, not 0"),
    ({"max_width": 33}, "max_width must be between 1 and 32, not 33"),
])
def test_p2s_param_rules(kwargs, message):
    with raises(ValueError, message):
        P2SParams(**kwargs)


# ---------------------------------------------------------------------------------------------
# Schedule.

def test_schedule_by_hand():
    p = BitSerialParams(dm=1, dn=1, dk=4)
    steps = list(schedule(p, 1, 5, 1, 2, 1, a_signed=True))
    assert len(steps) == p.cycles(1, 5, 1, 2, 1) == 4
    S = ScheduleStep
    assert steps == [
        S(0, 0, 0, 0, 0, first=True, last=False, shift=0, negate=False, lhs_addr=0, rhs_addr=0),
        S(0, 0, 0, 0, 1, first=False, last=False, shift=0, negate=False, lhs_addr=1, rhs_addr=1),
        S(0, 0, 1, 0, 0, first=False, last=False, shift=1, negate=True, lhs_addr=2, rhs_addr=0),
        S(0, 0, 1, 0, 1, first=False, last=True, shift=1, negate=True, lhs_addr=3, rhs_addr=1),
    ]


@pytest.mark.parametrize("a_signed,b_signed", SIGNS, ids=SIGN_IDS)
@pytest.mark.parametrize("params", SHAPES, ids=lambda p: f"{p.dm}x{p.dk}x{p.dn}")
def test_schedule_order_and_flags(params, a_signed, b_signed):
    m, k, n, wa, wb = M, K, N, 3, 2
    steps = list(schedule(params, m, k, n, wa, wb, a_signed=a_signed, b_signed=b_signed))
    mt, nt, kc = params.m_tiles(m), params.n_tiles(n), params.k_chunks(k)
    assert len(steps) == params.cycles(m, k, n, wa, wb) == mt * nt * wa * wb * kc
    want_order = list(itertools.product(range(mt), range(nt), range(wa), range(wb), range(kc)))
    assert [(s.m_tile, s.n_tile, s.i, s.j, s.k_chunk) for s in steps] == want_order
    tile_len = wa * wb * kc
    for t, s in enumerate(steps):
        assert s.first == (t % tile_len == 0), t
        assert s.last == (t % tile_len == tile_len - 1), t
        assert s.shift == s.i + s.j
        neg = (a_signed and s.i == wa - 1) != (b_signed and s.j == wb - 1)
        assert s.negate == neg, t
        assert s.lhs_addr == (s.m_tile * wa + s.i) * kc + s.k_chunk
        assert s.rhs_addr == (s.n_tile * wb + s.j) * kc + s.k_chunk
    assert max(s.lhs_addr for s in steps) == mt * wa * kc - 1
    assert max(s.rhs_addr for s in steps) == nt * wb * kc - 1


def test_cycles_and_throughput():
    p = BitSerialParams(dm=8, dn=8, dk=256, max_m=64, max_k=1024, max_n=64)
    assert p.peak_binary_ops_per_cycle == 2 * 8 * 256 * 8 == 32768
    # BISMO's PYNQ-Z1 array at 200 MHz: 6.5 binary TOPS.
    assert p.peak_binary_ops_per_cycle * 200e6 == pytest.approx(6.55e12, rel=1e-3)
    assert p.effective_ops_per_cycle(2, 2) == 8192
    assert p.effective_ops_per_cycle(8, 8) == 512
    # 64 x 1000 x 20 at 3 x 5 bits: 8 * 3 * 3 * 5 * 4 cycles.
    assert (p.m_tiles(64), p.n_tiles(20), p.k_chunks(1000)) == (8, 3, 4)
    assert p.cycles(64, 1000, 20, 3, 5) == 8 * 3 * 3 * 5 * 4
    assert BitSerialParams(dk=48).k_chunks(97) == 3
    with raises(ValueError, "wa must be between 1 and max_wa (= 8), not 9"):
        p.effective_ops_per_cycle(9, 1)


def test_buffer_sizes():
    p = BitSerialParams(dm=3, dn=2, dk=48, max_wa=4, max_wb=6, max_m=10, max_k=100, max_n=5)
    assert (p.lhs_width, p.rhs_width) == (144, 96)
    assert p.lhs_depth == 4 * 4 * 3
    assert p.rhs_depth == 3 * 6 * 3
    assert p.result_depth == 4 * 3
    assert p.result_width == 6 * p.accumulator_width
    # The largest run fills the buffers exactly.
    rng = np.random.default_rng(SEED)
    A = rng.integers(-8, 8, (10, 100))
    B = rng.integers(0, 64, (100, 5))
    assert len(lhs_words(p, A, 4, True)) == p.lhs_depth
    assert len(rhs_words(p, B, 6, False)) == p.rhs_depth
    assert len(run_schedule(p, A, B, 4, 6, True, False, return_words=True)) == p.result_depth


@pytest.mark.parametrize("params", SHAPES, ids=lambda p: f"{p.dm}x{p.dk}x{p.dn}")
def test_buffer_images_are_p2s_output(params):
    """Bank r of left address (m_tile*wa + i)*kc + k is plane i of P2S on the row chunk with
    E = Dk; the right buffer is the same for B^T."""
    seed = SEED + params.dk
    rng = np.random.default_rng(seed)
    wa, wb = 3, 5
    A = rng.integers(-4, 4, (M, K))
    B = rng.integers(0, 32, (K, N))
    dk, kc = params.dk, params.k_chunks(K)
    for X, w, side, words in ((A, wa, params.dm, lhs_words(params, A, wa, True)),
                              (B.T, wb, params.dn, rhs_words(params, B, wb, False))):
        tiles = -(-X.shape[0] // side)
        padded = np.zeros((tiles * side, kc * dk), dtype=np.int64)
        padded[:X.shape[0], :K] = X
        assert len(words) == tiles * w * kc
        for tile, r, k in itertools.product(range(tiles), range(side), range(kc)):
            planes = p2s(padded[None, tile * side + r, k * dk:(k + 1) * dk], w)
            for i in range(w):
                bank = (words[(tile * w + i) * kc + k] >> (r * dk)) & ((1 << dk) - 1)
                assert bank == planes[i], f"tile {tile} row {r} chunk {k} plane {i} seed {seed}"


def test_result_words_round_trip():
    p = BitSerialParams(dm=2, dn=3, dk=16, max_k=4, max_wa=2, max_wb=2)
    aw = p.accumulator_width
    assert aw == needed_acc_width(4, 2, 2) == 7
    C = np.array([[-64, 63, 0, 1, -1], [5, -5, 7, 8, 9], [1, 2, 3, 4, 5]])
    words = result_words(p, C)
    assert len(words) == p.m_tiles(3) * p.n_tiles(5) == 4
    # Tile (0, 0): DPU (r, c) at bits (r*3 + c) * 7.
    assert unpack_elements(words[0], 6, aw, signed=True).tolist() == [-64, 63, 0, 5, -5, 7]
    # Tile (1, 1): row 2 columns 3, 4 and padding.
    assert unpack_elements(words[3], 6, aw, signed=True).tolist() == [4, 5, 0, 0, 0, 0]
    np.testing.assert_array_equal(results_from_words(p, words, 3, 5), C)
    with raises(ValueError, "expected 4 result words for M = 3, N = 5, not 3"):
        results_from_words(p, words[:3], 3, 5)


def test_run_schedule_words_match_result_words():
    p = SHAPES[0]
    seed = SEED + 7
    rng = np.random.default_rng(seed)
    A = rng.integers(-128, 128, (M, K))
    B = rng.integers(-8, 8, (K, N))
    words = run_schedule(p, A, B, 8, 4, True, True, return_words=True)
    assert words == result_words(p, A @ B), f"seed {seed}"


# ---------------------------------------------------------------------------------------------
# Accumulator width: exact, and every partial sum of the schedule fits.

def partial_sums(params, A, B, wa, wb, a_signed, b_signed):
    """Unbounded accumulator values after every step (one DPU per output element)."""
    pa = bit_planes(A, wa, a_signed).astype(np.int64)
    pb = bit_planes(B, wb, b_signed).astype(np.int64)
    dk = params.dk
    acc = np.zeros((A.shape[0], B.shape[1]), dtype=np.int64)
    lo = hi = 0
    for s in schedule(params, A.shape[0], A.shape[1], B.shape[1], wa, wb,
                      a_signed=a_signed, b_signed=b_signed):
        ks = slice(s.k_chunk * dk, (s.k_chunk + 1) * dk)
        term = (pa[s.i][:, ks] @ pb[s.j][ks, :]) << s.shift
        acc = (0 if s.first else acc) + (-term if s.negate else term)
        lo, hi = min(lo, int(acc.min())), max(hi, int(acc.max()))
    return lo, hi


@pytest.mark.parametrize("wa,wb", [(1, 1), (1, 8), (3, 5), (8, 8), (16, 16)])
def test_acc_width_is_exact(wa, wb):
    k = 20
    p = BitSerialParams(dm=1, dn=1, dk=7, max_k=k, max_wa=wa, max_wb=wb)
    w = p.accumulator_width
    top = k * ((1 << wa) - 1) * ((1 << wb) - 1)
    assert w == top.bit_length() + 1
    # The largest result, unsigned x unsigned all ones, is reached and fits ...
    ones_a, ones_b = np.full((1, k), (1 << wa) - 1), np.full((k, 1), (1 << wb) - 1)
    assert run_schedule(p, ones_a, ones_b, wa, wb, False, False).tolist() == [[top]]
    assert top <= (1 << (w - 1)) - 1
    # ... so one bit less is refused.
    with raises(ValueError, f"acc_width must be 0 (auto) or between {w} (exact for max_k = {k}, "
                            f"max_wa = {wa}, max_wb = {wb}) and 64, not {w - 1}"):
        dataclasses.replace(p, acc_width=w - 1)
    # Every partial sum of every signedness, on the extremes, stays inside the accumulator.
    rng = np.random.default_rng(SEED + wa * wb)
    for a_signed, b_signed in SIGNS:
        for name, A, B in operand_cases(rng, wa, wb, a_signed, b_signed, 1, k, 1):
            lo, hi = partial_sums(p, A, B, wa, wb, a_signed, b_signed)
            assert -top <= lo and hi <= top, (name, a_signed, b_signed)


def test_acc_width_wider_gives_same_results():
    seed = SEED + 64
    rng = np.random.default_rng(seed)
    A = rng.integers(-128, 128, (M, K))
    B = rng.integers(-128, 128, (K, N))
    for width in (0, 25, 32, 64):
        p = BitSerialParams(dm=2, dn=3, dk=16, acc_width=width)
        np.testing.assert_array_equal(run_schedule(p, A, B, 8, 8, True, True), A @ B,
                                      err_msg=f"acc_width {width} seed {seed}")


def test_acc_width_default_and_replace():
    p = BitSerialParams()
    assert p.needed_acc_width == (256 * 255 * 255).bit_length() + 1 == 25
    assert p.accumulator_width == 25 and p.acc_width == 0
    # Presets made with replace() keep "auto" and re-derive the width.
    big = dataclasses.replace(p, max_k=4096, max_wa=16, max_wb=16)
    assert big.accumulator_width == (4096 * 65535 * 65535).bit_length() + 1 == 45
    assert BitSerialParams(acc_width=32).accumulator_width == 32
    assert p.dpu == DPUParams(dk=64, max_shift=14, acc_width=25, spacing=2)


# ---------------------------------------------------------------------------------------------
# The dot-product unit.

def test_dpu_by_hand():
    p = DPUParams(dk=8, max_shift=3, acc_width=16)
    beats = [
        (0b1111_0000, 0b1010_1010, 0, False, True, False),   # +2
        (0b0000_1111, 0b1111_1111, 2, False, False, False),  # +4 << 2 = 16
        (0b1111_1111, 0b0000_0111, 3, True, False, True),    # -3 << 3 = -24  -> -6
        DPUBeat(0b1, 0b1, 1, True, True, True),               # -2 (first: acc restarts)
        (0b11, 0b11, 0, False, False, True),                  # -2 + 2 = 0
    ]
    assert dpu_golden_list(p, beats) == [-6, -2, 0]
    assert (p.popcount_width, p.shift_width, p.term_width) == (4, 2, 8)


def dpu_golden_list(p, beats):
    return dpu_golden(p, beats).tolist()


def test_dpu_accumulator_wraps():
    seed = SEED + 4
    rng = np.random.default_rng(seed)
    p = DPUParams(dk=8, max_shift=6, acc_width=6)
    beats, total, want, wrapped = [], 0, [], 0
    for t in range(200):
        a, b = (int(v) for v in rng.integers(0, 256, 2))
        shift, negate = int(rng.integers(0, 7)), bool(rng.integers(0, 2))
        first, last = t % 9 == 0, t % 9 == 8
        term = bin(a & b).count("1") << shift
        total = (0 if first else total) + (-term if negate else term)
        beats.append((a, b, shift, negate, first, last))
        if last:
            want.append(wrap_signed(total, 6))
            wrapped += not -32 <= total <= 31
    assert dpu_golden_list(p, beats) == want, f"seed {seed}"
    assert len(want) == 22 and wrapped > 5, f"only {wrapped} results wrapped, seed {seed}"


def test_dpu_beat_rules():
    p = DPUParams(dk=4, max_shift=2, acc_width=8)
    with raises(ValueError, "a must be between 0 and 15, not 16"):
        dpu_golden(p, [(16, 0, 0, False, True, True)])
    with raises(ValueError, "shift must be between 0 and 2, not 3"):
        dpu_golden(p, [(1, 1, 3, False, True, True)])
    with raises(TypeError, "negate must be a boolean, not 0"):
        dpu_golden(p, [(1, 1, 0, 0, True, True)])


@pytest.mark.parametrize("kwargs,message", [
    ({"dk": 0}, "dk must be between 1 and 1024, not 0"),
    ({"dk": 1025}, "dk must be between 1 and 1024, not 1025"),
    ({"max_shift": 31}, "max_shift must be between 0 and 30, not 31"),
    ({"acc_width": 1}, "acc_width must be between 2 and 64, not 1"),
    ({"acc_width": 65}, "acc_width must be between 2 and 64, not 65"),
    ({"spacing": 17}, "spacing must be between 0 and 16, not 17"),
    ({"top_registers": 17}, "top_registers must be between 0 and 16, not 17"),
])
def test_dpu_param_rules(kwargs, message):
    with raises(ValueError, message):
        DPUParams(**kwargs)


# ---------------------------------------------------------------------------------------------
# Engine parameters and run-time rules.

@pytest.mark.parametrize("kwargs,message", [
    ({"dm": 0}, "dm must be between 1 and 64, not 0"),
    ({"dn": 65}, "dn must be between 1 and 64, not 65"),
    ({"dk": 0}, "dk must be between 1 and 1024, not 0"),
    ({"dk": 1025}, "dk must be between 1 and 1024, not 1025"),
    ({"max_wa": 0}, "max_wa must be between 1 and 16, not 0"),
    ({"max_wb": 17}, "max_wb must be between 1 and 16, not 17"),
    ({"max_m": 0}, "max_m must be between 1 and 4096, not 0"),
    ({"max_k": 4097}, "max_k must be between 1 and 4096, not 4097"),
    ({"max_n": -1}, "max_n must be between 1 and 4096, not -1"),
    ({"spacing": -1}, "spacing must be between 0 and 16, not -1"),
    ({"top_registers": -1}, "top_registers must be between 0 and 16, not -1"),
    ({"bcast_stages": 0}, "bcast_stages must be between 1 and 4, not 0"),
    ({"bcast_stages": 5}, "bcast_stages must be between 1 and 4, not 5"),
    ({"b_flow": "diagonal"}, "b_flow must be one of"),
    ({"b_flow": "systolic"}, "b_flow=systolic needs bcast_fanout >= 1 (a memory a row of A, "
                             "whose read address it delays a cycle a group of rows) and no "
                             "dpu_inputs (it chains the B copies before the DPUs), not "
                             "bcast_fanout=0"),
    ({"b_flow": "systolic", "bcast_fanout": 2, "dpu_inputs": True},
     "(it chains the B copies before the DPUs), not dpu_inputs=1"),
    ({"a_flow": "along"}, "a_flow must be one of"),
    ({"result_ram": "lutram"}, "result_ram must be one of 'auto', 'block', not 'lutram'"),
    ({"a_flow": "systolic"}, "a_flow=systolic needs bcast_fanout >= 1 (a memory a column of "
                             "B, whose read address it delays a cycle a group of columns) and "
                             "no dpu_inputs (it chains the A copies before the DPUs), not "
                             "bcast_fanout=0"),
    ({"a_flow": "systolic", "bcast_fanout": 1, "dpu_inputs": True},
     "(it chains the A copies before the DPUs), not dpu_inputs=1"),
    ({"acc_width": 24}, "acc_width must be 0 (auto) or between 25 (exact for max_k = 256, "
                        "max_wa = 8, max_wb = 8) and 64, not 24"),
    ({"acc_width": 65}, "acc_width must be 0 (auto) or between 25"),
    ({"acc_width": -1}, "acc_width must be 0 (auto) or between 25"),
    ({"dm": 8, "dn": 16, "dk": 257}, "dm x dn x dk must be <= 32,768"),
])
def test_bitserial_param_rules(kwargs, message):
    with raises(ValueError, message):
        BitSerialParams(**kwargs)


def test_the_largest_array_is_accepted():
    """MAX_DPU_BITS: 8 x 256 x 16 (32,768 bits a cycle) is allowed; one bit more is not
    (test_bitserial_param_rules)."""
    assert BitSerialParams(dm=8, dn=16, dk=256).peak_binary_ops_per_cycle == 2 * 32768


@pytest.mark.parametrize("kwargs,message", [
    ({"dk": 48.0}, "dk must be an integer, not 48.0"),
    ({"dm": True}, "dm must be an integer, not True"),
    ({"acc_width": "32"}, "acc_width must be an integer, not '32'"),
])
def test_bitserial_param_types(kwargs, message):
    with raises(TypeError, message):
        BitSerialParams(**kwargs)


def test_params_have_help():
    for cls in (BitSerialParams, DPUParams, P2SParams):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), (cls.__name__, f.name)
        cls()  # the defaults are valid


RUN = {"M": 5, "K": 37, "N": 7, "wa": 8, "wb": 8, "a_signed": True, "b_signed": False}


@pytest.mark.parametrize("change,exc,message", [
    ({"wa": 9}, ValueError, "wa must be between 1 and max_wa (= 8), not 9"),
    ({"wb": 0}, ValueError, "wb must be between 1 and max_wb (= 8), not 0"),
    ({"M": 0}, ValueError, "M must be between 1 and max_m (= 16), not 0"),
    ({"K": 0}, ValueError, "K must be between 1 and max_k (= 256), not 0"),
    ({"N": 0}, ValueError, "N must be between 1 and max_n (= 16), not 0"),
    ({"M": 17}, ValueError, "M must be between 1 and max_m (= 16), not 17"),
    ({"K": 257}, ValueError, "K must be between 1 and max_k (= 256), not 257"),
    ({"N": 100}, ValueError, "N must be between 1 and max_n (= 16), not 100"),
    ({"wa": 2.0}, TypeError, "wa must be an integer, not 2.0"),
    ({"a_signed": 1}, TypeError, "a_signed must be a boolean, not 1"),
    ({"b_signed": "yes"}, TypeError, "b_signed must be a boolean, not 'yes'"),
])
def test_check_run_rules(change, exc, message):
    p = BitSerialParams()
    run = {**RUN, **change}
    with raises(exc, message):
        p.check_run(**run)
    if exc is ValueError and set(change) & {"M", "K", "N", "wa", "wb"}:
        with raises(exc, message):
            p.cycles(run["M"], run["K"], run["N"], run["wa"], run["wb"])
        with raises(exc, message):
            next(schedule(p, run["M"], run["K"], run["N"], run["wa"], run["wb"]))


def test_run_schedule_rules():
    p = BitSerialParams(max_wa=4)
    A, B = np.zeros((3, 5), int), np.zeros((5, 2), int)
    with raises(ValueError, "wa must be between 1 and max_wa (= 4), not 8"):
        run_schedule(p, A, B, 8, 8, True, True)
    with raises(ValueError, "M must be between 1 and max_m (= 16), not 0"):
        run_schedule(p, np.zeros((0, 5), int), B, 4, 8, True, True)
    with raises(ValueError, "A and B must agree on K: A is (3, 5), B is (4, 2)"):
        run_schedule(p, A, np.zeros((4, 2), int), 4, 8, True, True)
    A[1, 2] = 8
    with raises(ValueError, "A values must lie in [-8, 7] (4-bit signed), not 8 at index (1, 2)"):
        run_schedule(p, A, B, 4, 8, True, True)
    assert p.compute(np.ones((3, 5), int), np.ones((5, 2), int), 4, 8, False, True).tolist() \
        == [[5, 5]] * 3
