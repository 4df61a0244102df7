"""Popcount and XNOR-popcount RTL under cocotb, bit-exact against golden, over width sweeps."""

import numpy as np
import pytest
from lowbit.golden.binary import PopcountParams, XnorParams
from lowbit.hw.popcount import tree_latency
from lowbit.hw.units import get_unit
from lowbit.sim.binary import popcount_words, xnor_vectors
from lowbit.sim.runner import run_unit
from lowbit.sim.score import score

pytestmark = [pytest.mark.sim, pytest.mark.binary]

# N from the issue, each with a register spacing (0: combinational ... 3).
POPCOUNT = [(1, 1), (2, 1), (3, 0), (7, 1), (8, 2), (9, 3), (31, 2), (32, 1), (33, 2),
            (64, 2), (100, 3), (256, 2), (1024, 3)]


# style="packed" (pair counts, 6:3 counters, packed carry chains): a width built as the tree
# (5), the smallest packed ones (6: one 6:3 counter; 8, 9: one chain with a carry-in guard),
# odd ones, the DPU's 256 (at spacing 1 the pair counts' register is on the count) and a
# wide one.
PACKED = [(5, 1), (6, 1), (8, 0), (9, 2), (12, 0), (13, 2), (17, 1), (48, 2), (100, 3),
          (191, 1), (256, 1), (256, 2), (257, 2), (1024, 2)]
STYLED = [("tree", n, s) for n, s in POPCOUNT] + [("packed", n, s) for n, s in PACKED]


@pytest.mark.parametrize("style,n,spacing", STYLED,
                         ids=[f"{st}-n{n}-s{s}" for st, n, s in STYLED])
def test_popcount_bit_exact(style, n, spacing, sim, seed):
    """Both trees count like the golden model, with the same latency (tree_latency)."""
    params = PopcountParams(n=n, spacing=spacing, style=style)
    words = popcount_words(n, np.random.default_rng(seed), 3000 if n <= 256 else 1000)
    job = get_unit("popcount").job(params, words)
    got, _, resp, man = run_unit("popcount", params, job, sim=sim, seed=seed)
    board = score(job, got, [bin(w).count("1") for w in words], resp, latency=man["latency"])
    assert board.ok, board.describe()
    assert board.latency_seen == {man["latency"]}
    assert man["latency"] == tree_latency(n, spacing)


@pytest.mark.parametrize("n", [5, 64])
def test_plain_sum_popcount_bit_exact(n, sim, seed):
    params = PopcountParams(n=n, style="plain")
    words = popcount_words(n, np.random.default_rng(seed), 500)
    job = get_unit("popcount").job(params, words)
    got, _, resp, _ = run_unit("popcount", params, job, sim=sim, seed=seed)
    board = score(job, got, [bin(w).count("1") for w in words], resp)
    assert board.ok, board.describe()


# (n, max_length, spacing, io_registers)
XNOR = [(1, 40, 1, 2), (3, 50, 0, 0), (8, 300, 2, 1), (33, 200, 1, 2), (64, 1024, 2, 0),
        (100, 777, 3, 2)]


@pytest.mark.parametrize("n,max_length,spacing,io", XNOR,
                         ids=[f"n{n}-len{m}-s{s}-io{r}" for n, m, s, r in XNOR])
def test_xnor_popcount_bit_exact(n, max_length, spacing, io, sim, seed):
    params = XnorParams(n=n, max_length=max_length, spacing=spacing, io_registers=io)
    vectors = xnor_vectors(params, np.random.default_rng(seed), 600)
    job = vectors.job(params)
    got, _, resp, man = run_unit("xnor", params, job, sim=sim, seed=seed)
    board = score(job, got, vectors.golden(params), resp, latency=man["latency"])
    assert board.ok, board.describe()
    assert board.latency_seen == {man["latency"]}
    assert resp["first_stall"] is not None
