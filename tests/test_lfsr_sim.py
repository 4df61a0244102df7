"""The leap-forward LFSR hardware produces the golden bit-by-bit sequence."""

import numpy as np
import pytest
from lowbit.golden import LFSRModel, LFSRParams
from lowbit.hw.build import generated
from lowbit.sim.runner import run_testbench

pytestmark = [pytest.mark.sim, pytest.mark.lfsr]

CASES = [(2, 1, 1), (3, 2, 5), (5, 5, 17), (8, 3, 0xA5), (16, 16, 0xACE1), (20, 7, 12345),
         (31, 12, 0x7FFFFFFF), (64, 16, 0xDEADBEEF12345678)]


@pytest.mark.parametrize("width,r_bits,seed", CASES)
def test_lfsr_sequence_equals_golden(width, r_bits, seed, sim):
    params = LFSRParams(width=width, r_bits=r_bits, seed=seed)
    gen_dir, man = generated("lfsr", params)
    n = 3000
    en = np.random.default_rng(width).random(n) < 0.7
    spec = {"mode": "cycles", "drive": {"en": en.astype(int).tolist()},
            "sample": ["state", "sample"], "n": n}
    resp = run_testbench(gen_dir, man, spec, sim=sim)
    # The state seen in cycle c has advanced once per enabled cycle before c.
    advanced = np.concatenate([[0], np.cumsum(en)[:-1]])
    states = LFSRModel(params).states(int(advanced[-1]) + 1)
    want = [int(states[k]) for k in advanced]
    assert resp["samples"]["state"] == want
    assert resp["samples"]["sample"] == [s & ((1 << r_bits) - 1) for s in want]
