"""The leap-forward LFSR hardware produces the golden bit-by-bit sequence."""

import numpy as np
import pytest
from lowbit.golden import LFSRModel, LFSRParams
from lowbit.hw.build import generated
from lowbit.sim.runner import design, run_testbench

pytestmark = [pytest.mark.sim, pytest.mark.lfsr]

CASES = [(2, 1, 1), (3, 2, 5), (5, 5, 17), (8, 3, 0xA5), (16, 16, 0xACE1), (20, 7, 12345),
         (31, 12, 0x7FFFFFFF), (64, 16, 0xDEADBEEF12345678)]


@pytest.mark.parametrize("width,r_bits,seed", CASES)
def test_lfsr_sequence_equals_golden(width, r_bits, seed, sim):
    params = LFSRParams(width=width, r_bits=r_bits, seed=seed)
    gen_dir, man = design("lfsr", params)
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


@pytest.mark.rtl
def test_second_build_reuses_the_verilator_runtime(sim):
    """A design built after another compiles only itself: Verilator's run-time library
    (verilated.cpp and friends, the bulk of a small design's build) comes from the cache the
    first build left (sim.runner). Two designs no other test builds, one after the other."""
    if sim != "verilator":
        pytest.skip("the run-time cache is Verilator's; this run uses another simulator")
    from lowbit.sim.runner import build

    built = []
    for params in (LFSRParams(width=6, r_bits=2, seed=3), LFSRParams(width=7, r_bits=3, seed=5)):
        gen_dir, man = generated("lfsr", params)
        built.append(build(gen_dir, man, sim))
    # Reused objects are copied in dated an hour ahead of the build; compiled ones are seconds
    # younger than the makefile Verilator wrote for the design.
    second = built[1]
    ahead = (second / "verilated.o").stat().st_mtime - (second / "Vtop.mk").stat().st_mtime
    assert ahead > 1800, f"the second build compiled Verilator's run-time again ({ahead:.0f} s)"
    assert (second / "Vtop__ALL.o").exists()  # it did compile the design
