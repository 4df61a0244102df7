"""Shared scoreboard pieces: result-by-result comparison and observed latency."""

__all__ = ["compare_results", "observed_latency"]


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
