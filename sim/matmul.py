"""Runs of the bit-serial matrix engine: operand words in, ``C`` out, a configuration a run."""

from typing import NamedTuple

import numpy as np

from ..golden.bitserial import operand_words
from .payload import pack, port, unpack
from .runner import run_testbench

__all__ = ["MatmulRun", "operand_words", "run_matmul"]


class MatmulRun(NamedTuple):
    """One product ``A @ B`` at precisions ``wa``, ``wb`` and the given signedness."""
    A: np.ndarray
    B: np.ndarray
    wa: int
    wb: int
    a_signed: bool
    b_signed: bool


def run_matmul(gen_dir, manifest, params, runs, *, sim="verilator", seed=1, idle=0.1,
               backpressure=0.1):
    """Run the engine on ``runs`` (:class:`MatmulRun`) back to back, each with its own
    configuration on the ports (driven with its words); returns ``([C, ...] or None,
    response)``: ``None`` when the count of results or the ``last`` flags are wrong."""
    beats, side, sizes, cycles = [], {}, [], 0
    for r in runs:
        (M, K), N = np.shape(r.A), np.shape(r.B)[1]
        if np.shape(r.B)[0] != K:
            raise ValueError(f"A is {np.shape(r.A)}, B is {np.shape(r.B)}: K differs")
        params.check_run(M, K, N, r.wa, r.wb, r.a_signed, r.b_signed)
        words = pack(port(manifest, "i__payload"), data=operand_words(params, r.A, r.B))
        config = {"wa": r.wa, "wb": r.wb, "a_signed": int(r.a_signed),
                  "b_signed": int(r.b_signed), "m": M, "n": N, "k_chunks": params.k_chunks(K)}
        for name, value in config.items():
            side.setdefault(name, []).extend([value] * len(words))
        beats += words
        sizes.append((M, N))
        cycles += len(words) * max(r.wa, r.wb) + params.cycles(M, K, N, r.wa, r.wb) + M * N
    total = sum(M * N for M, N in sizes)
    spec = {"mode": "stream", "in": "i", "out": "o", "beats": beats, "expect": total,
            "seed": seed, "idle": idle, "backpressure": backpressure, "beat_ports": side,
            "max_cycles": 4 * cycles + 100 * len(runs) + 2000}
    resp = run_testbench(gen_dir, manifest, spec, sim=sim, seed=seed)
    out = unpack(port(manifest, "o__payload"), resp["out"])
    if len(resp["out"]) != total:
        return None, resp
    ends = np.cumsum([M * N for M, N in sizes]) - 1
    if not np.array_equal(np.flatnonzero(np.asarray(out["last"], dtype=np.int64)), ends):
        return None, resp
    flat = np.asarray(out["c"], dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [flat[s:s + M * N].reshape(M, N) for s, (M, N) in zip(starts, sizes)], resp
