"""The generated MAC Verilog under cocotb, bit-exact against the golden model, over a sweep.

Each configuration is built once and driven with the directed edge cases plus at least
10,000 seeded random beats, with idle input cycles and output back-pressure; every result and
overflow flag must equal golden, and the latency must equal the manifest's.
"""

import dataclasses

import numpy as np
import pytest
from lowbit.golden import MACParams
from lowbit.sim.mac import directed_vectors, random_vectors
from lowbit.sim.runner import run_unit
from lowbit.sim.score import score

pytestmark = [pytest.mark.sim, pytest.mark.mac]

N_RANDOM = 10_000

# (id, overrides of MACParams): word lengths 1..32, FL = 0, IL = 1, mixed formats, every
# rounding mode, R from 1 to 16, LFSR widths 3..64, pipeline depths 0..4, both product modes,
# and carry chains cut at 4 to 16 bits (which add latency, never change a result).
SWEEP = [
    ("default", {}),
    ("cc16-p1-fast", dict(carry_chain=16, pipeline=1)),
    ("wl2-trunc-p0", dict(il_a=1, fl_a=1, il_b=2, fl_b=0, il_o=2, fl_o=0, guard=2,
                          rounding="truncate", pipeline=0)),
    ("wl2-even-p1", dict(il_a=2, fl_a=0, il_b=2, fl_b=0, il_o=1, fl_o=1, guard=1,
                         rounding="nearest_even", pipeline=1)),
    ("wl1-operands", dict(il_a=1, fl_a=0, il_b=1, fl_b=0, il_o=2, fl_o=0, guard=3,
                          pipeline=1)),
    ("il1-q7-p3", dict(il_a=1, fl_a=7, il_b=1, fl_b=7, il_o=1, fl_o=7, guard=4, pipeline=3)),
    ("fl0-int-p4", dict(il_a=8, fl_a=0, il_b=8, fl_b=0, il_o=16, fl_o=0, guard=4,
                        rounding="truncate", pipeline=4)),
    ("fl0-out-even", dict(il_a=4, fl_a=4, il_b=4, fl_b=4, il_o=10, fl_o=0,
                          rounding="nearest_even")),
    ("wl32-int", dict(il_a=32, fl_a=0, il_b=32, fl_b=0, il_o=32, fl_o=0, guard=8)),
    ("wl32-q31-even-p4", dict(il_a=1, fl_a=31, il_b=1, fl_b=31, il_o=16, fl_o=16, guard=4,
                              rounding="nearest_even", pipeline=4)),
    ("wl32-stoch-r16-l20", dict(il_a=16, fl_a=16, il_b=1, fl_b=31, il_o=1, fl_o=31, guard=32,
                                rounding="stochastic", r_bits=16, lfsr_width=20, pipeline=3,
                                carry_chain=13)),
    ("wl32-drop54-trunc", dict(il_a=5, fl_a=27, il_b=5, fl_b=27, il_o=32, fl_o=0,
                               rounding="truncate", pipeline=1)),
    ("mixed-trunc-p1", dict(il_a=3, fl_a=5, il_b=6, fl_b=10, il_o=5, fl_o=9,
                            rounding="truncate", pipeline=1)),
    ("mixed-even-p0-cc4", dict(il_a=12, fl_a=4, il_b=2, fl_b=6, il_o=9, fl_o=7,
                               rounding="nearest_even", pipeline=0, carry_chain=4)),
    ("wl17-nearest", dict(il_a=9, fl_a=8, il_b=9, fl_b=8, il_o=17, fl_o=0, guard=6)),
    ("out-wider-fl", dict(il_a=4, fl_a=2, il_b=4, fl_b=2, il_o=8, fl_o=8, pipeline=1)),
    ("guard0", dict(il_a=8, fl_a=8, il_b=8, fl_b=8, il_o=8, fl_o=8, guard=0)),
    ("stoch-r1-l3-p0", dict(il_a=4, fl_a=4, il_b=4, fl_b=4, il_o=4, fl_o=4,
                            rounding="stochastic", r_bits=1, lfsr_width=3, pipeline=0)),
    ("stoch-r4-l7-p1", dict(rounding="stochastic", r_bits=4, lfsr_width=7, seed=0x55,
                            pipeline=1)),
    ("stoch-r8-l16-p2", dict(rounding="stochastic", r_bits=8, lfsr_width=16, seed=0xACE1)),
    ("stoch-r16-l16-p4-cc8", dict(rounding="stochastic", r_bits=16, lfsr_width=16, pipeline=4,
                                  carry_chain=8)),
    ("stoch-r12-l31-mixed", dict(il_a=3, fl_a=13, il_b=5, fl_b=3, il_o=6, fl_o=6,
                                 rounding="stochastic", r_bits=12, lfsr_width=31,
                                 seed=123456789)),
    ("stoch-r16-l64", dict(rounding="stochastic", r_bits=16, lfsr_width=64,
                           seed=0x123456789ABCDEF, pipeline=3)),
    ("stoch-r5-drop3", dict(il_a=4, fl_a=4, il_b=4, fl_b=4, il_o=8, fl_o=5,
                            rounding="stochastic", r_bits=5, lfsr_width=24)),
    ("rp-nearest", dict(round_products=True, rounding="nearest")),
    ("rp-stoch-r8", dict(round_products=True, rounding="stochastic", r_bits=8, pipeline=1)),
    ("rp-even-p4-cc5", dict(round_products=True, rounding="nearest_even", pipeline=4,
                            il_a=2, fl_a=9, il_b=3, fl_b=5, il_o=4, fl_o=3, guard=5,
                            carry_chain=5)),
    ("rp-stoch-cc4", dict(round_products=True, rounding="stochastic", r_bits=6, lfsr_width=9,
                          il_a=3, fl_a=7, il_b=3, fl_b=7, il_o=6, fl_o=4, carry_chain=4,
                          pipeline=0)),
    ("rp-noshift", dict(round_products=True, il_a=4, fl_a=4, il_b=4, fl_b=4, il_o=12,
                        fl_o=10, rounding="truncate", pipeline=0)),
    ("wrap-nearest", dict(saturate=False, il_o=5, fl_o=6, pipeline=1)),
    ("wrap-stoch", dict(saturate=False, rounding="stochastic", r_bits=10, lfsr_width=11,
                        il_o=4, fl_o=4, pipeline=2)),
]


@pytest.mark.parametrize("overrides", [c for _, c in SWEEP], ids=[n for n, _ in SWEEP])
def test_mac_bit_exact(overrides, sim):
    params = MACParams(**overrides)
    seed = 1000 + sum(map(ord, repr(sorted(overrides.items())))) % 1000
    vectors = directed_vectors(params)
    n_directed = len(vectors)
    vectors.extend(random_vectors(params, np.random.default_rng(seed), N_RANDOM))
    assert len(vectors) - n_directed >= N_RANDOM
    job = vectors.job(params)
    got, _, resp, man = run_unit("mac", params, job, sim=sim, seed=seed)
    board = score(job, zip(*got), vectors.golden(params), resp, latency=man["latency"])
    assert board.ok, f"seed={seed} params={params}\n{board.describe()}"
    assert board.latency_seen == {man["latency"]}, "latency was never observed"
    assert resp["first_stall"] is not None, "back-pressure was never applied"


def test_scoreboard_catches_a_wrong_model(sim):
    """The same RTL scored against a golden model with another rounding mode must fail."""
    params = MACParams()
    vectors = directed_vectors(params)
    job = vectors.job(params)
    got, _, resp, man = run_unit("mac", params, job, sim=sim)
    wrong = dataclasses.replace(params, rounding="truncate")
    assert score(job, zip(*got), vectors.golden(params), resp, latency=man["latency"]).ok
    assert not score(job, zip(*got), vectors.golden(wrong), resp, latency=man["latency"]).ok
    assert not score(job, zip(*got), vectors.golden(params), resp,
                     latency=man["latency"] + 1).ok
