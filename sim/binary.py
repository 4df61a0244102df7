"""Vectors, RTL runs and scoreboards for the binarized units (popcount, xnor, bmvu)."""

from dataclasses import dataclass, field

import numpy as np

from ..golden.binary import bmvu_images, pack_bits, xnor_stream_golden
from .payload import pack, port, unpack
from .runner import run_testbench
from .score import compare_results, observed_latency

__all__ = ["popcount_words", "run_popcount", "XnorVectors", "xnor_vectors", "run_xnor",
           "score_xnor", "run_bmvu"]


def _stream_spec(beats, expect, seed, idle, backpressure, calm_beats=32):
    return {"mode": "stream", "in": "i", "out": "o", "beats": beats, "expect": expect,
            "seed": seed, "idle": idle, "backpressure": backpressure, "calm_beats": calm_beats}


def popcount_words(n, rng, count):
    """Directed words (zeros, ones, alternating, single bits) then seeded random words with
    every density from sparse to dense."""
    full = (1 << n) - 1
    alt = int("01" * n, 2) & full
    words = [0, full, alt, full ^ alt]
    words += [1 << j for j in sorted({0, n // 2, n - 1})]
    words += [full ^ (1 << j) for j in sorted({0, n - 1})]
    for _ in range(count):
        density = rng.random()
        bits = rng.random(n) < density
        words.append(sum(1 << int(j) for j in np.flatnonzero(bits)))
    return words


def run_popcount(gen_dir, manifest, words, *, sim="verilator", seed=1, idle=0.1,
                 backpressure=0.1):
    resp = run_testbench(gen_dir, manifest, _stream_spec(words, len(words), seed, idle,
                                                         backpressure), sim=sim, seed=seed)
    return resp["out"], resp


@dataclass
class XnorVectors:
    a: list = field(default_factory=list)
    w: list = field(default_factory=list)
    length: list = field(default_factory=list)
    first: list = field(default_factory=list)
    last: list = field(default_factory=list)
    labels: list = field(default_factory=list)

    def add_vector(self, label, a_bits, w_bits, n):
        """One dot product of two bit vectors, cut into n-bit chunks (the last one partial)."""
        total = len(a_bits)
        chunks = max(1, -(-total // n))
        for c in range(chunks):
            lo, hi = c * n, min((c + 1) * n, total)
            aw = sum(int(b) << j for j, b in enumerate(a_bits[lo:hi]))
            ww = sum(int(b) << j for j, b in enumerate(w_bits[lo:hi]))
            self.a.append(aw)
            self.w.append(ww)
            self.length.append(hi - lo)
            self.first.append(int(c == 0))
            self.last.append(int(c == chunks - 1))
        self.labels.append(label)


def xnor_vectors(params, rng, n_random):
    """Directed: all agree, all disagree, alternating, single bit, lengths that are not
    multiples of N (including 1 and max_length); then seeded random vectors and lengths."""
    n, top = params.n, params.max_length
    v = XnorVectors()
    lengths = sorted({1, n, min(top, n + 1), min(top, 2 * n - 1), top,
                      max(1, n - 1), min(top, 3 * n + 2)})
    for length in lengths:
        ones = [1] * length
        zeros = [0] * length
        alt = [j % 2 for j in range(length)]
        single = [int(j == length // 2) for j in range(length)]
        v.add_vector(f"agree len={length}", ones, ones, n)
        v.add_vector(f"disagree len={length}", ones, zeros, n)
        v.add_vector(f"agree zeros len={length}", zeros, zeros, n)
        v.add_vector(f"alternating len={length}", alt, ones, n)
        v.add_vector(f"single bit len={length}", single, zeros, n)
    for _ in range(n_random):
        length = int(rng.integers(1, top + 1)) if rng.random() < 0.5 else \
            int(rng.integers(1, min(top, 4 * n) + 1))
        density = rng.random()
        a = (rng.random(length) < density).astype(int).tolist()
        w = (rng.random(length) < 0.5).astype(int).tolist()
        v.add_vector("random", a, w, n)
    return v


def run_xnor(gen_dir, manifest, vectors, *, sim="verilator", seed=1, idle=0.1,
             backpressure=0.1):
    beats = pack(port(manifest, "i__payload"), a=vectors.a, w=vectors.w,
                 length=vectors.length, first=vectors.first, last=vectors.last)
    resp = run_testbench(gen_dir, manifest,
                         _stream_spec(beats, sum(vectors.last), seed, idle, backpressure),
                         sim=sim, seed=seed)
    return unpack(port(manifest, "o__payload"), resp["out"])["dot"], resp


def score_xnor(params, vectors, got, resp, latency):
    """Mismatches against :func:`xnor_stream_golden` and the latencies seen."""
    want = xnor_stream_golden(params, vectors.a, vectors.w, vectors.length, vectors.first,
                              vectors.last)
    mism = compare_results([int(g) for g in got], [int(x) for x in want], resp, vectors.labels)
    seen = observed_latency(resp, [i for i, la in enumerate(vectors.last) if la])
    if seen and seen != {latency}:
        mism.append({"case": "latency", "expected": latency, "got": sorted(seen)})
    return mism, seen


def run_bmvu(gen_dir, manifest, params, weights, x_bits, thresholds=None, invert=None, *,
             sim="verilator", seed=1, idle=0.1, backpressure=0.1, garbage=True):
    """Load the memories, stream the vectors ``x_bits`` (V, cols) through the BinaryMVU.

    Returns ``(outputs (V, rows), response)``. Columns past ``cols`` in each last chunk are
    filled with seeded random bits (``garbage``) so the mask is exercised.
    """
    p = params
    w_words, t_words = bmvu_images(p, weights, thresholds, invert)
    drive = {"w_addr": list(range(len(w_words))), "w_data": w_words,
             "w_en": [1] * len(w_words)}
    n_pre = len(w_words)
    if p.thresholds:
        pad = [0] * len(w_words)
        drive = {k: v + [0] * len(t_words) for k, v in drive.items()}
        drive.update({"t_addr": pad + list(range(len(t_words))), "t_data": pad + t_words,
                      "t_en": pad + [1] * len(t_words)})
        n_pre += len(t_words)
    rng = np.random.default_rng(seed)
    x = np.asarray(x_bits, dtype=np.uint8)
    padded = np.zeros((x.shape[0], p.sf * p.simd), dtype=np.uint8)
    padded[:, :p.cols] = x
    if garbage:
        padded[:, p.cols:] = rng.integers(0, 2, size=(x.shape[0], p.sf * p.simd - p.cols))
    beats = [int(pack_bits(padded[v, s * p.simd:(s + 1) * p.simd]))
             for v in range(x.shape[0]) for s in range(p.sf)]
    spec = _stream_spec(beats, x.shape[0] * p.nf, seed, idle, backpressure)
    spec["preload"] = {"drive": drive, "n": n_pre}
    resp = run_testbench(gen_dir, manifest, spec, sim=sim, seed=seed)
    lanes = unpack(port(manifest, "o__payload"), resp["out"])
    out = np.array([lanes[f"lane{j}"] for j in range(p.pe)], dtype=np.int64).T  # (V*nf, pe)
    if len(out) != x.shape[0] * p.nf:
        return None, resp
    return out.reshape(x.shape[0], p.nf * p.pe)[:, :p.rows], resp
