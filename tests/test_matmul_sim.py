"""The bit-serial matrix engine end to end under cocotb (operand words -> P2S -> DPU array ->
C a tile a beat), bit-exact against numpy integer matmul: every precision pair 1..8 x 1..8 with
every signedness, sizes that are not multiples of the array, extremes and seeded random, on
several array shapes (Dm != Dn, a Dk that is not a power of two); back-to-back runs whose
configuration changes while the next loads, weight-resident runs, and the cycle of every run
against the golden overlapped schedule."""

import dataclasses
import itertools

import numpy as np
import pytest
from lowbit.golden.bitserial import MatmulRun, bitserial_runs, overlapped_schedule, value_range
from lowbit.golden.job import chain
from lowbit.sim.runner import design, run_unit

from .sweeps import CHAIN_SHAPE, SHAPES, TINY

pytestmark = [pytest.mark.sim, pytest.mark.bitserial]

SIGNS = [(True, True), (True, False), (False, True), (False, False)]


def _matrices(rng, shape, bits, signed):
    lo, hi = value_range(bits, signed)
    return rng.integers(lo, hi + 1, size=shape)


def _run(params, runs, sim, seed, **kw):
    """The runs back to back in one simulation, each with its configuration on the ports."""
    job = chain(bitserial_runs(params, runs))
    got, _, resp, _ = run_unit("bitserial", params, job, sim=sim, seed=seed, **kw)
    assert got is not None, (f"seed={seed}: {len(resp['out'])} tiles, "
                             f"timed out {resp['timed_out']}")
    for n, (r, C) in enumerate(zip(runs, got)):
        want = r.A.astype(np.int64) @ r.B.astype(np.int64)
        bad = np.argwhere(C != want)
        assert not len(bad), (f"seed={seed} run {n} (wa={r.wa} wb={r.wb} signed={r.a_signed},"
                              f"{r.b_signed}, keep_b={r.keep_b}, {r.A.shape} x {r.B.shape}): "
                              f"{len(bad)} elements differ, first {bad[:3].tolist()}")
    return resp


@pytest.mark.parametrize("signs", SIGNS, ids=["ss", "su", "us", "uu"])
def test_every_precision_pair(signs, sim, seed):
    """wa, wb in 1..8 (the configuration changes from run to run), M, K, N = 5, 37, 7 (no
    multiple of 2 or 64): random, all most-negative, all most-positive and mixed extremes."""
    params = SHAPES["2x64x2"]
    sa, sb = signs
    rng = np.random.default_rng(seed)
    runs = []
    for wa, wb in itertools.product(range(1, 9), range(1, 9)):
        (alo, ahi), (blo, bhi) = value_range(wa, sa), value_range(wb, sb)
        for A, B in [(_matrices(rng, (5, 37), wa, sa), _matrices(rng, (37, 7), wb, sb)),
                     (np.full((5, 37), alo), np.full((37, 7), blo)),
                     (np.full((5, 37), ahi), np.full((37, 7), bhi)),
                     (np.full((5, 37), alo), np.full((37, 7), bhi))]:
            runs.append(MatmulRun(A, B, wa, wb, sa, sb))
    _run(params, runs, sim, seed, idle=0.05, backpressure=0.05)


@pytest.mark.parametrize("shape", [*SHAPES, "chain"], ids=[*SHAPES, "3x40x2-chain"])
def test_array_shapes_and_sizes(shape, sim, seed):
    """Sizes from 1x1x1 to the buffers' maxima, precisions and signedness changing from run
    to run, with idle cycles and back-pressure (and with popcount="chain", CHAIN_SHAPE)."""
    params = CHAIN_SHAPE if shape == "chain" else SHAPES[shape]
    rng = np.random.default_rng(seed)
    runs = []
    for M, K, N, wa, wb, sa, sb in [
            (1, 1, 1, 8, 8, True, True), (9, 100, 9, 8, 8, True, False),
            (4, 64, 3, 3, 5, False, True), (7, 49, 2, 1, 8, False, False),
            (2, 97, 9, 2, 2, True, True), (9, 7, 1, 5, 1, False, True)]:
        runs += [MatmulRun(_matrices(rng, (M, K), wa, sa), _matrices(rng, (K, N), wb, sb),
                           wa, wb, sa, sb) for _ in range(2)]
    _run(params, runs, sim, seed)


def _schedule_runs(rng, keep):
    """Runs for the cycle tests: sizes, precisions and signedness that change from run to
    run, loading longer than computing and the reverse, weight-resident runs when ``keep``."""
    shapes = [(6, 97, 5, 4, 3), (9, 100, 9, 1, 1), (2, 30, 9, 8, 8), (9, 64, 2, 2, 5),
              (1, 1, 1, 1, 1), (5, 100, 4, 3, 3)]
    runs = []
    for M, K, N, wa, wb in shapes:
        B = _matrices(rng, (K, N), wb, True)
        runs.append(MatmulRun(_matrices(rng, (M, K), wa, True), B, wa, wb, True, True))
        if keep:  # the same B, new A
            for M2 in (M, 9, 1):
                runs.append(MatmulRun(_matrices(rng, (M2, K), wa, False), B, wa, wb, False,
                                      True, True))
    return runs


@pytest.mark.parametrize("shape,keep,operands", [
    ("2x64x2", False, "words"), ("2x64x2", True, "words"), ("2x64x2", True, "planes"),
    ("3x48x2", False, "words"), ("5x32x3-systolic", False, "planes"),
    ("5x32x3-systolic", True, "words"), ("3x32x5-systolic2d", False, "planes"),
    ("3x32x5-systolic2d", True, "words")],
    ids=["loaded", "resident", "resident-planes", "loaded-3x48x2", "loaded-systolic",
         "resident-systolic", "loaded-systolic2d", "resident-systolic2d"])
def test_cycles_match_the_overlapped_schedule(shape, keep, operands, sim, seed):
    """With every word offered at once and no back-pressure, each run's first and last tile
    leave in exactly the cycle the golden overlapped schedule (load, compute and readout
    concurrent on double buffers) says: the engine overlaps as designed, and no stage waits
    longer than it must. Operands as bit planes load a plane a cycle as the converter's
    planes do, so the schedule is the same. (3x48x2: two broadcast stages, a longer
    latency; 5x32x3-systolic: B down the columns, A's rows read late, the loader writing the
    half just read; 3x32x5-systolic2d: A along the rows too, B's columns read late.)"""
    params = dataclasses.replace(SHAPES[shape], operands=operands)
    runs = _schedule_runs(np.random.default_rng(seed), keep)
    resp = _run(params, runs, sim, seed, idle=0.0, backpressure=0.0)
    _, man = design("bitserial", params)
    plan = overlapped_schedule(
        params, [(r.A.shape[0], r.A.shape[1], r.B.shape[1], r.wa, r.wb, r.keep_b)
                 for r in runs],
        latency=man["latency"], readout_latency=man["widths"]["readout_latency"],
        handover_latency=man["widths"]["handover_latency"])
    t0 = resp["in_cycles"][0]
    got, at = [], 0
    for r in runs:
        tiles = params.m_tiles(r.A.shape[0]) * params.n_tiles(r.B.shape[1])
        got.append((resp["out_cycles"][at] - t0, resp["out_cycles"][at + tiles - 1] - t0))
        at += tiles
    want = [(s["first_out"], s["last_out"]) for s in plan]
    assert got == want


def test_weight_resident_runs_with_idle_and_backpressure(sim, seed):
    """Several A matrices against one resident B, then a new B with other precisions and
    more resident runs, with idle input cycles and back-pressure on the results."""
    params = SHAPES["3x48x2"]
    rng = np.random.default_rng(seed)
    runs = []
    for K, N, wa, wb, sa, sb in [(100, 9, 8, 8, True, True), (3, 1, 2, 7, False, True),
                                 (49, 4, 1, 1, True, False)]:
        B = _matrices(rng, (K, N), wb, sb)
        runs.append(MatmulRun(_matrices(rng, (5, K), wa, sa), B, wa, wb, sa, sb))
        for M in (9, 1, 4):
            wa2 = int(rng.integers(1, 9))
            runs.append(MatmulRun(_matrices(rng, (M, K), wa2, not sa), B, wa2, wb, not sa, sb,
                                  True))
    _run(params, runs, sim, seed, idle=0.2, backpressure=0.3)


def test_operands_as_planes(sim, seed):
    """operands=planes (the operands packed at the run's precision: wa planes of Dk bits a
    chunk of A, wb of B): every precision pair 1..8 with changing signedness, extremes and
    random, then weight-resident runs, then runs of one plane each among short ones, with
    idle cycles and back-pressure."""
    params = dataclasses.replace(SHAPES["3x48x2"], operands="planes")
    rng = np.random.default_rng(seed)
    runs = []
    for (wa, wb), (sa, sb) in zip(itertools.product(range(1, 9), range(1, 9)),
                                  itertools.cycle(SIGNS)):
        (alo, _), (_, bhi) = value_range(wa, sa), value_range(wb, sb)
        runs.append(MatmulRun(_matrices(rng, (5, 37), wa, sa), _matrices(rng, (37, 7), wb, sb),
                              wa, wb, sa, sb))
        runs.append(MatmulRun(np.full((2, 37), alo), np.full((37, 3), bhi), wa, wb, sa, sb))
    B = _matrices(rng, (100, 9), 3, True)
    runs.append(MatmulRun(_matrices(rng, (4, 100), 2, False), B, 2, 3, False, True))
    runs += [MatmulRun(_matrices(rng, (M, 100), wa, True), B, wa, 3, True, True, True)
             for M, wa in ((9, 1), (1, 8), (6, 4))]
    # Runs of one plane (M = 1, K <= Dk, wa = 1) among short ones, each with other ports
    # than the next: while the loader waits for a free half with one run's plane, the plane
    # input's skid takes the next run's, and each plane must keep its own run's
    # configuration (m, a_signed) through the skid.
    B = _matrices(rng, (40, 5), 2, False)
    runs.append(MatmulRun(_matrices(rng, (3, 40), 1, True), B, 1, 2, True, False))
    runs += [MatmulRun(_matrices(rng, (M, 40), 1, sa), B, 1, 2, sa, False, True)
             for M, sa in ((1, True), (1, False), (2, True), (1, False), (3, False), (1, True),
                           (1, False), (1, True), (2, False), (1, True))]
    _run(params, runs, sim, seed, idle=0.05, backpressure=0.05)


def test_weight_resident_run_must_match_the_resident_b():
    """A resident run whose K or N differs, or with no B loaded before it, is refused."""
    p = SHAPES["2x64x2"]
    A, B = np.ones((2, 5), dtype=int), np.ones((5, 3), dtype=int)
    with pytest.raises(ValueError, match="no earlier run loaded one"):
        bitserial_runs(p, [MatmulRun(A, B, 2, 2, True, True, True)])
    for B2, what in ((np.ones((6, 3), dtype=int), "its K differs"),
                     (np.ones((5, 4), dtype=int), "its N differs")):
        with pytest.raises(ValueError, match=what):
            bitserial_runs(p, [MatmulRun(A, B, 2, 2, True, True),
                               MatmulRun(np.ones((2, B2.shape[0]), dtype=int), B2, 2, 2, True,
                                         True, True)])
    with pytest.raises(ValueError, match="another B, wb or b_signed"):
        bitserial_runs(p, [MatmulRun(A, B, 2, 2, True, True),
                           MatmulRun(A, B, 2, 3, True, True, True)])


def test_smallest_engine(sim, seed):
    """Dm = Dn = Dk = 1: every size up to 3x3x3, both precisions, every signedness."""
    rng = np.random.default_rng(seed)
    runs = [MatmulRun(_matrices(rng, (M, K), wa, sa), _matrices(rng, (K, N), wb, sb),
                      wa, wb, sa, sb)
            for M, K, N in itertools.product((1, 3), (1, 2, 3), (1, 3))
            for wa, wb in ((1, 1), (2, 2), (1, 2))
            for sa, sb in SIGNS]
    _run(TINY, runs, sim, 31)
