"""The one scoreboard: results against golden, result by result, and the latency seen."""

from dataclasses import dataclass

import numpy as np

__all__ = ["Scoreboard", "score", "compare_results", "observed_latency"]


@dataclass
class Scoreboard:
    """What a run scored: ``total`` results expected, the ``mismatches`` (dicts naming the
    result, its case label, expected and got; a count or latency mismatch is one record too)
    and the latencies seen."""

    total: int
    mismatches: list
    latency_seen: set

    @property
    def ok(self):
        return not self.mismatches

    def describe(self, limit=8):
        lines = [f"{len(self.mismatches)} of {self.total} results differ from golden"]
        for m in self.mismatches[:limit]:
            lines.append("  " + ", ".join(f"{k}={v}" for k, v in m.items()))
        return "\n".join(lines)


def score(job, got, want, resp, latency=None):
    """Score a run of :class:`~lowbit.golden.job.Job` ``job``: ``got`` and ``want`` are
    sequences of results (ints, or tuples such as ``(value, overflow)``), compared in order;
    with ``latency``, every latency seen before the first back-pressure cycle must equal it."""
    got = [_plain(g) for g in got]
    want = [_plain(w) for w in want]
    mism = compare_results(got, want, resp, job.labels)
    seen = observed_latency(resp, job.last_beats) if job.last_beats else set()
    if latency is not None and seen and seen != {latency}:
        mism.append({"case": "latency", "expected": latency, "got": sorted(seen)})
    return Scoreboard(len(want), mism, seen)


def _plain(x):
    """A result as a comparable value: an int, or a tuple of ints (a tuple, list or array)."""
    return tuple(int(v) for v in np.ravel(x)) if np.ndim(x) else int(x)


def compare_results(got, want, resp, labels=None):
    """Mismatch records for two result sequences (a count mismatch is one record too)."""
    mism = []
    if len(got) != len(want):
        mism.append({"case": "count", "expected": len(want), "got": len(got),
                     "timed_out": resp.get("timed_out")})
    for k, (g, w) in enumerate(zip(got, want)):
        if g != w:
            mism.append({"result": k, "case": labels[k] if labels else "", "expected": w,
                         "got": g})
    return mism


def observed_latency(resp, last_beats):
    """Cycles from accepting each result's last beat to the result, for every result taken
    before the first back-pressure cycle (``last_beats``: input beat index per result)."""
    seen = set()
    stall = resp.get("first_stall")
    for k, oc in enumerate(resp["out_cycles"][:len(last_beats)]):
        if stall is not None and oc >= stall:
            break
        if last_beats[k] < len(resp["in_cycles"]):
            seen.add(oc - resp["in_cycles"][last_beats[k]])
    return seen
