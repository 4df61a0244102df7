"""The bit-serial matrix engine end to end under cocotb (operand words -> P2S -> DPU array ->
row-major C), bit-exact against numpy integer matmul: every precision pair 1..8 x 1..8 with
every signedness, sizes that are not multiples of the array, extremes and seeded random, on
several array shapes (Dm != Dn, a Dk that is not a power of two)."""

import itertools
from typing import NamedTuple

import numpy as np
import pytest
from lowbit.golden.bitserial import value_range
from lowbit.golden.job import chain
from lowbit.hw.build import generated
from lowbit.hw.units import get_unit
from lowbit.sim.runner import run_unit

from .sweeps import SHAPES, TINY

pytestmark = [pytest.mark.sim, pytest.mark.bitserial]

SIGNS = [(True, True), (True, False), (False, True), (False, False)]


def _matrices(rng, shape, bits, signed):
    lo, hi = value_range(bits, signed)
    return rng.integers(lo, hi + 1, size=shape)


class MatmulRun(NamedTuple):
    """One product ``A @ B`` at precisions ``wa``, ``wb`` and the given signedness."""
    A: np.ndarray
    B: np.ndarray
    wa: int
    wb: int
    a_signed: bool
    b_signed: bool


def _run(params, runs, sim, seed, **kw):
    """The runs back to back in one simulation, each with its configuration on the ports."""
    job = chain([get_unit("bitserial").job(params, *r) for r in runs])
    got, _, resp, _ = run_unit("bitserial", params, job, sim=sim, seed=seed, **kw)
    assert got is not None, (f"seed={seed}: {len(resp['out'])} results, "
                             f"timed out {resp['timed_out']}")
    for n, (r, C) in enumerate(zip(runs, got)):
        want = r.A.astype(np.int64) @ r.B.astype(np.int64)
        bad = np.argwhere(C != want)
        assert not len(bad), (f"seed={seed} run {n} (wa={r.wa} wb={r.wb} signed={r.a_signed},"
                              f"{r.b_signed}, {r.A.shape} x {r.B.shape}): {len(bad)} elements "
                              f"differ, first {bad[:3].tolist()}")
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


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_array_shapes_and_sizes(shape, sim, seed):
    """Sizes from 1x1x1 to the buffers' maxima, precisions and signedness changing from run
    to run, with idle cycles and back-pressure."""
    params = SHAPES[shape]
    rng = np.random.default_rng(seed)
    runs = []
    for M, K, N, wa, wb, sa, sb in [
            (1, 1, 1, 8, 8, True, True), (9, 100, 9, 8, 8, True, False),
            (4, 64, 3, 3, 5, False, True), (7, 49, 2, 1, 8, False, False),
            (2, 97, 9, 2, 2, True, True), (9, 7, 1, 5, 1, False, True)]:
        runs += [MatmulRun(_matrices(rng, (M, K), wa, sa), _matrices(rng, (K, N), wb, sb),
                           wa, wb, sa, sb) for _ in range(2)]
    _run(params, runs, sim, seed)


def test_compute_cycles_match_the_schedule(sim, seed):
    """With no idle or back-pressure, a run takes loading + schedule + drain + readout
    cycles; the compute part is exactly ``params.cycles`` (one schedule step a cycle)."""
    params = SHAPES["2x64x2"]
    rng = np.random.default_rng(seed)
    M, K, N, wa, wb = 6, 97, 5, 4, 3
    runs = [MatmulRun(_matrices(rng, (M, K), wa, True), _matrices(rng, (K, N), wb, True),
                      wa, wb, True, True) for _ in range(3)]
    resp = _run(params, runs, sim, seed, idle=0.0, backpressure=0.0)
    gen_dir, man = generated("bitserial", params)
    load = (M * wa + N * wb) * params.k_chunks(K)
    per_run = load + params.cycles(M, K, N, wa, wb) + M * N
    firsts = [resp["out_cycles"][r * M * N] for r in range(3)]
    gaps = set(np.diff(firsts).tolist())
    assert len(gaps) == 1, gaps
    overhead = gaps.pop() - per_run
    assert 0 <= overhead <= man["latency"] + 4, overhead


def test_smallest_engine(sim, seed):
    """Dm = Dn = Dk = 1: every size up to 3x3x3, both precisions, every signedness."""
    rng = np.random.default_rng(seed)
    runs = [MatmulRun(_matrices(rng, (M, K), wa, sa), _matrices(rng, (K, N), wb, sb),
                      wa, wb, sa, sb)
            for M, K, N in itertools.product((1, 3), (1, 2, 3), (1, 3))
            for wa, wb in ((1, 1), (2, 2), (1, 2))
            for sa, sb in SIGNS]
    _run(TINY, runs, sim, 31)
