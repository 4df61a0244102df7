"""Popcount and XNOR-popcount RTL under cocotb, bit-exact against golden, over width sweeps."""

import numpy as np
import pytest
from lowbit.golden.binary import PopcountParams, XnorParams
from lowbit.hw.build import generated
from lowbit.sim.binary import popcount_words, run_popcount, run_xnor, score_xnor, xnor_vectors
from lowbit.sim.score import compare_results, observed_latency

pytestmark = [pytest.mark.sim, pytest.mark.binary]

# N from the issue, each with a register spacing (0: combinational ... 3).
POPCOUNT = [(1, 1), (2, 1), (3, 0), (7, 1), (8, 2), (9, 3), (31, 2), (32, 1), (33, 2),
            (64, 2), (100, 3), (256, 2), (1024, 3)]


@pytest.mark.parametrize("n,spacing", POPCOUNT, ids=[f"n{n}-s{s}" for n, s in POPCOUNT])
def test_popcount_bit_exact(n, spacing, sim):
    params = PopcountParams(n=n, spacing=spacing)
    seed = 7000 + n
    gen_dir, man = generated("popcount", params)
    words = popcount_words(n, np.random.default_rng(seed), 3000 if n <= 256 else 1000)
    got, resp = run_popcount(gen_dir, man, words, sim=sim, seed=seed)
    want = [bin(w).count("1") for w in words]
    mism = compare_results(got, want, resp)
    assert not mism, f"seed={seed} n={n}: {len(mism)} mismatches, first {mism[:5]}"
    assert observed_latency(resp, list(range(len(words)))) == {man["latency"]}


@pytest.mark.parametrize("n", [5, 64])
def test_plain_sum_popcount_bit_exact(n, sim):
    gen_dir, man = generated("popcount", PopcountParams(n=n, style="plain"))
    words = popcount_words(n, np.random.default_rng(n), 500)
    got, resp = run_popcount(gen_dir, man, words, sim=sim)
    assert not compare_results(got, [bin(w).count("1") for w in words], resp)


XNOR = [(1, 40, 1), (3, 50, 0), (8, 300, 2), (33, 200, 1), (64, 1024, 2), (100, 777, 3)]


@pytest.mark.parametrize("n,max_length,spacing", XNOR,
                         ids=[f"n{n}-len{m}-s{s}" for n, m, s in XNOR])
def test_xnor_popcount_bit_exact(n, max_length, spacing, sim):
    params = XnorParams(n=n, max_length=max_length, spacing=spacing)
    seed = 9000 + n
    gen_dir, man = generated("xnor", params)
    vectors = xnor_vectors(params, np.random.default_rng(seed), 600)
    got, resp = run_xnor(gen_dir, man, vectors, sim=sim, seed=seed)
    mism, seen = score_xnor(params, vectors, got, resp, man["latency"])
    assert not mism, f"seed={seed}: {len(mism)} mismatches, first {mism[:5]}"
    assert seen == {man["latency"]}
    assert resp["first_stall"] is not None
