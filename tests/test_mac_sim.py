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

from .sweeps import MAC_SWEEP

pytestmark = [pytest.mark.sim, pytest.mark.mac]

N_RANDOM = 10_000



@pytest.mark.parametrize("overrides", [c for _, c in MAC_SWEEP], ids=[n for n, _ in MAC_SWEEP])
def test_mac_bit_exact(overrides, sim, seed):
    params = MACParams(**overrides)
    vectors = directed_vectors(params)
    n_directed = len(vectors)
    vectors.extend(random_vectors(params, np.random.default_rng(seed), N_RANDOM))
    assert len(vectors) - n_directed >= N_RANDOM
    job = vectors.job(params)
    got, _, resp, man = run_unit("mac", params, job, sim=sim, seed=seed)
    board = score(job, zip(*got) if got else [], vectors.golden(params), resp,
                  latency=man["latency"])
    assert board.ok, f"params={params}\n{board.describe()}"
    assert board.latency_seen == {man["latency"]}, "latency was never observed"
    assert resp["first_stall"] is not None, "back-pressure was never applied"


def test_scoreboard_catches_a_wrong_model(sim):
    """The same RTL scored against a golden model with another rounding mode must fail."""
    params = MACParams()
    vectors = directed_vectors(params)
    job = vectors.job(params)
    got, _, resp, man = run_unit("mac", params, job, sim=sim)
    wrong = dataclasses.replace(params, rounding="truncate")
    assert got is not None, f"{len(resp['out'])} results"
    pairs = list(zip(*got))
    assert score(job, pairs, vectors.golden(params), resp, latency=man["latency"]).ok
    assert not score(job, pairs, vectors.golden(wrong), resp, latency=man["latency"]).ok
    assert not score(job, pairs, vectors.golden(params), resp,
                     latency=man["latency"] + 1).ok
