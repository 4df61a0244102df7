"""A cost model for the bit-serial matrix engine: LUTs and FFs from Dm, Dk, Dn and the widths,
fitted to Yosys runs on each FPGA family (``costmodel.json`` beside this file).

BISMO's model for reference (Umuroglu et al., FPL 2018, Xilinx LUT6): ``1.17 Dk + 44.1`` LUTs
per DPU plus 120.1 for its result logic. lowbit's targets have LUT4s, so the terms differ;
the model is linear in features that follow the structure of the hardware:

- ``tree_bits = Dm Dn Dk`` with ``popcount=tree``, ``packed_bits`` the same with
  ``popcount=packed``, ``chain_bits`` with ``popcount=chain`` (0 otherwise): the AND gates
  and popcount trees (about one LUT4 per bit), whose cost a bit differs between the
  structures (the packed popcount: fewer LUT4, more carry cells; the chain: carry cells
  alone, fitted on ECP5 only, the one family that has it);
- ``dpu_acc = Dm Dn acc``: the shift/negate/accumulate stage and the result multiplexer;
- ``dpu_tree = Dm Dn ceil(log2(Dk + 1))``: the tree's last levels and the count registers;
- ``p2s_bits = Dk W``: the converter's word register and plane multiplexer (``Dk`` with
  ``operands=planes``, whose plane register stands in for the converter);
- ``bank_bits = (Dm + Dn) Dk``: the operand buffer outputs and write enables;
- ``shallow_bits``: the bits of the buffers of 4 words or fewer (both halves), which Yosys
  builds from flip-flops on iCE40 and from LUT RAM on ECP5 rather than block RAM (a result
  buffer of one or two tiles a half);
- ``addr_bits``: the bits of the three buffers' addresses (both halves): the address
  generators' and loader's counters, carry chains whose width follows the matrix maxima
  rather than the array (without it the carry cells of 1 x 128 x 1 at ``max_k=1024`` were
  16% short on ECP5);
- a constant for the controller.

The carry cells (CCU2C on ECP5, SB_CARRY on iCE40) are fitted on the same features: on ECP5
each takes logic cells of its own (:meth:`lowbit.boards.targets.Board.logic_cells`).
Block RAMs are not modelled: they follow from the buffer shapes (:attr:`bram_bits`).

Refit with ``python -m lowbit.boards.costmodel`` (minutes: one Yosys run a configuration;
``--missing`` runs only configurations added since the last fit);
``python -m lowbit.boards.costmodel --table`` prints the held-out error table.
"""

import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..golden.bitserial import DPU_POPCOUNT_FAMILIES, DPU_POPCOUNTS, BitSerialParams

__all__ = ["FEATURES", "KINDS", "features", "estimate", "load_model", "fit", "FIT_CONFIGS",
           "CHECK_CONFIGS", "family_configs", "model_errors", "error_table"]

MODEL_PATH = Path(__file__).with_name("costmodel.json")
FEATURES = ("const", "tree_bits", "packed_bits", "dpu_acc", "dpu_tree", "p2s_bits", "bank_bits",
            "shallow_bits", "addr_bits", "chain_bits")
#: Buffers of this many words or fewer are not block RAM (see ``lowbit.gen.fit.bram_blocks``).
SHALLOW_WORDS = 4
FAMILY_BOARD = {"ice40": "icebreaker", "ecp5": "ulx3s-85f"}
#: The resources the model predicts (Yosys's LUT4, flip-flop and carry cell counts).
KINDS = ("lut", "ff", "carry")


def features(params):
    """The model's feature vector for a :class:`BitSerialParams`."""
    p = params
    dpus = p.dm * p.dn
    words = p.buffer_words
    shallow = sum(words[name] * width for name, width in (
        ("lhs", p.lhs_width), ("rhs", p.rhs_width), ("result", p.result_width))
        if words[name] <= SHALLOW_WORDS)
    bits = {style: dpus * p.dk if p.popcount == style else 0 for style in DPU_POPCOUNTS}
    return np.array([1.0, bits["tree"], bits["packed"],
                     dpus * p.accumulator_width,
                     dpus * math.ceil(math.log2(p.dk + 1)),
                     p.dk * (max(p.max_wa, p.max_wb) if p.operands == "words" else 1),
                     (p.dm + p.dn) * p.dk, shallow,
                     sum(p.buffer_addr_bits.values()), bits["chain"]], dtype=np.float64)


def _config(dm, dk, dn, wa=8, wb=8, m=16, k=256, n=16, popcount="tree"):
    return BitSerialParams(dm=dm, dn=dn, dk=dk, max_wa=wa, max_wb=wb, max_m=m, max_k=k,
                           max_n=n, popcount=popcount)


#: Configurations the model is fitted to.
FIT_CONFIGS = [
    _config(1, 32, 1), _config(1, 64, 2), _config(2, 32, 2), _config(2, 64, 2),
    _config(2, 128, 2), _config(4, 32, 4), _config(4, 64, 2), _config(2, 256, 1),
    _config(4, 64, 4, wa=4, wb=4), _config(3, 48, 3, k=1024), _config(8, 32, 4),
    _config(4, 128, 4, wa=2, wb=2, k=512), _config(1, 256, 4), _config(6, 16, 6),
    # Large arrays, so the model does not extrapolate where `fit` chooses on the ECP5.
    _config(8, 128, 8, m=64, k=1024, n=64), _config(8, 256, 8),
    # A result buffer of one or two tiles a half: flip-flops (iCE40) or LUT RAM (ECP5).
    _config(16, 32, 8), _config(8, 48, 16, m=8),
    # The packed popcount (the ULX3S-85F's engine, hw/units.py), small to BISMO's size.
    *(_config(*shape, **kw, popcount="packed") for shape, kw in (
        ((2, 32, 2), {}), ((2, 128, 2), {}), ((4, 64, 4), {}), ((1, 256, 4), {}),
        ((8, 32, 4), {}), ((4, 128, 4), dict(wa=2, wb=2, k=512)),
        ((8, 128, 8), dict(m=64, k=1024, n=64)), ((8, 256, 8), {}))),
]
# The chain popcount (ECP5 only: lowbit.golden.bitserial.DPU_POPCOUNT_FAMILIES).
FIT_CONFIGS += [_config(*shape, **kw, popcount="chain") for shape, kw in (
    ((2, 32, 2), {}), ((2, 128, 2), {}), ((4, 64, 4), {}), ((1, 256, 4), {}), ((8, 32, 4), {}),
    ((4, 128, 4), dict(wa=2, wb=2, k=512)), ((8, 256, 8), {}))]
#: Held-out configurations the model is checked against (never used in the fit).
CHECK_CONFIGS = [
    _config(2, 48, 3), _config(3, 64, 2, wa=4, wb=6), _config(4, 96, 4),
    _config(1, 128, 1, k=1024), _config(8, 64, 2), _config(5, 40, 5, wa=3, wb=3),
    _config(2, 200, 2, m=64, n=64), _config(16, 64, 8), _config(6, 256, 10, m=32, n=32),
    _config(4, 96, 4, popcount="packed"), _config(2, 200, 2, m=64, n=64, popcount="packed"),
    _config(8, 64, 2, popcount="packed"),
    _config(4, 96, 4, popcount="chain"), _config(2, 200, 2, m=64, n=64, popcount="chain"),
    _config(8, 64, 2, popcount="chain"),
]


def family_configs(configs, family):
    """The configurations ``family`` can build: those whose popcount instantiates cells of
    other families (``popcount=chain``, ECP5's CCU2C) left out."""
    return [p for p in configs
            if family in DPU_POPCOUNT_FAMILIES.get(p.popcount, (family,))]


def load_model(path=MODEL_PATH):
    """``{family: {"coef": {"lut": [...], "ff": [...], "carry": [...]}, "runs": [...]}}``."""
    return json.loads(Path(path).read_text())


def estimate(params, family, model=None):
    """Predicted ``{"lut": int, "ff": int, "carry": int}`` for ``params`` on ``family`` (ice40,
    ecp5)."""
    model = model or load_model()
    if family not in model:
        raise ValueError(f"no cost model for family {family!r}; have {', '.join(model)}")
    if model[family].get("features") != list(FEATURES):
        raise ValueError(f"the {family} cost model was fitted to other features "
                         f"({', '.join(model[family].get('features', []))}); refit it with "
                         f"'python -m lowbit.boards.costmodel --recorded'")
    x = features(params)
    coef = model[family]["coef"]
    return {kind: int(round(float(x @ np.asarray(coef[kind])))) for kind in KINDS}


def fit(runs):
    """Non-negative least squares of each resource on the features; returns the coefficients.

    Relative error is what is checked, so each run is weighted by ``1 / measured``."""
    from scipy.optimize import nnls

    X = np.array([features(BitSerialParams(**r["params"])) for r in runs])
    coef = {}
    for kind in KINDS:
        y = np.array([r["resources"][kind] for r in runs], dtype=np.float64)
        w = 1.0 / np.maximum(y, 1.0)
        c, _ = nnls(X * w[:, None], y * w)
        coef[kind] = [float(v) for v in c]
    return coef


def model_errors(model, family, which="check"):
    """``[(params dict, measured, predicted, relative error)]`` for the recorded runs."""
    out = []
    for r in model[family]["runs"]:
        if r["set"] != which:
            continue
        pred = estimate(BitSerialParams(**r["params"]), family, model)
        for kind in KINDS:
            meas = r["resources"][kind]
            out.append((r["params"], kind, meas, pred[kind], (pred[kind] - meas) / meas))
    return out


def config_key(params):
    """A recorded run's parameters (a dict) as one string, read through BitSerialParams:
    a parameter added since the run, at its default, names the same configuration."""
    return json.dumps(asdict(BitSerialParams(**params)), sort_keys=True)


def _collect(family, configs, which, say, recorded=()):
    """A run of each configuration: Yosys's counts, or the run in ``recorded`` (runs of the
    family's stored model) with the same parameters and set."""
    from .flow import netlist_resources
    kept = {(config_key(r["params"]), r["set"]): r for r in recorded}
    runs = []
    for p in configs:
        old = kept.get((config_key(asdict(p)), which))
        if old is not None:  # its parameters written out in full, as a new run's
            runs.append({**old, "params": asdict(p)})
            continue
        start = time.perf_counter()
        res, _ = netlist_resources("bitserial", p, FAMILY_BOARD[family])
        seconds = time.perf_counter() - start
        say(f"{family} {which} dm={p.dm} dk={p.dk} dn={p.dn} acc={p.accumulator_width}: "
            f"{res} ({seconds:.0f} s)")
        runs.append({"params": asdict(p), "set": which, "resources": res,
                     "seconds": round(seconds, 1)})
    return runs


def error_table(model=None):
    """The held-out check as a Markdown table: measured (Yosys), model, error."""
    model = model or load_model()
    lines = ["| family | Dm x Dk x Dn | popcount | acc | LUT measured | LUT model | error | "
             "FF measured | FF model | error | carry measured | carry model | error |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for family in model:
        for r in model[family]["runs"]:
            if r["set"] != "check":
                continue
            p = BitSerialParams(**r["params"])
            pred = estimate(p, family, model)
            cells = []
            for kind in KINDS:
                meas = r["resources"][kind]
                cells += [str(meas), str(pred[kind]), f"{100 * (pred[kind] - meas) / meas:+.1f}%"]
            lines.append(f"| {family} | {p.dm} x {p.dk} x {p.dn} | {p.popcount} | "
                         f"{p.accumulator_width} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def _parser():
    import argparse
    ap = argparse.ArgumentParser(
        prog="python -m lowbit.boards.costmodel",
        description="Refit the bit-serial engine's cost model: run Yosys on every fit and "
                    "check configuration of each family (minutes per family), fit the "
                    "coefficients and write costmodel.json beside this module atomically.")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--table", action="store_true",
                      help="print the held-out error table of the stored model; run nothing")
    what.add_argument("--recorded", action="store_true",
                      help="refit to the recorded runs without Yosys (after a change of "
                           "features), then print the error table")
    what.add_argument("--missing", action="store_true",
                      help="run Yosys only on the configurations with no recorded run (added "
                           "since the last fit), keep the recorded runs, refit")
    ap.add_argument("families", nargs="*", metavar="FAMILY",
                    help=f"families to re-run (default: all; any of "
                         f"{', '.join(FAMILY_BOARD)})")
    return ap


def main(argv=None):
    """Re-run Yosys on every configuration, refit, write ``costmodel.json`` atomically
    (``--table``: print the held-out error table of the stored model instead; ``--recorded``:
    refit to the recorded runs without Yosys, after a change of features; ``--missing``: run
    Yosys only on configurations with no recorded run)."""
    ap = _parser()
    args = ap.parse_args(argv)
    bad = [f for f in args.families if f not in FAMILY_BOARD]
    if bad:
        ap.error(f"unknown family {bad[0]!r}; choose from {', '.join(FAMILY_BOARD)}")
    if (args.table or args.recorded) and args.families:
        ap.error("--table and --recorded take no FAMILY (they cover every recorded family)")
    if args.table:
        print(error_table())
        return 0
    if args.recorded:  # a new feature: refit to the recorded runs, no Yosys
        model = load_model()
        for entry in model.values():
            entry["features"] = list(FEATURES)
            entry["coef"] = fit([r for r in entry["runs"] if r["set"] == "fit"])
        tmp = MODEL_PATH.with_suffix(".tmp")
        tmp.write_text(json.dumps(model, indent=1) + "\n")
        tmp.replace(MODEL_PATH)
        print(error_table())
        return 0
    families = args.families or list(FAMILY_BOARD)
    model = load_model() if MODEL_PATH.exists() else {}
    for family in families:
        recorded = model.get(family, {}).get("runs", []) if args.missing else []
        runs = (_collect(family, family_configs(FIT_CONFIGS, family), "fit", print, recorded)
                + _collect(family, family_configs(CHECK_CONFIGS, family), "check", print,
                           recorded))
        coef = fit([r for r in runs if r["set"] == "fit"])
        model[family] = {"board": FAMILY_BOARD[family], "features": list(FEATURES),
                         "coef": coef, "runs": runs}
        tmp = MODEL_PATH.with_suffix(".tmp")
        tmp.write_text(json.dumps(model, indent=1) + "\n")
        tmp.replace(MODEL_PATH)
        for _, kind, meas, pred, err in model_errors(model, family):
            print(f"{family} check {kind}: measured {meas}, model {pred}, {100 * err:+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
