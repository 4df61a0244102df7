"""``lowbit compare``: a user's data through the RTL simulation and the golden model."""

from fractions import Fraction

import numpy as np

from ..golden import quantize
from ..sim.mac import MacVectors, run_mac, score_mac
from .build import generated
from .units import UsageError

__all__ = ["load_array", "compare_mac"]


def load_array(path):
    """Load a ``.npy`` file, or raise UsageError naming the file and the reason."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"cannot read --input {path}: no such file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"cannot read --input {path}: not a readable .npy array ({exc})") \
            from None
    if not isinstance(arr, np.ndarray):
        raise UsageError(f"--input {path} holds an archive, not one array")
    return arr


def _codes(column, fmt, name, quantize_mode):
    if np.issubdtype(column.dtype, np.integer):
        bad = (column < fmt.min_int) | (column > fmt.max_int)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise UsageError(
                f"integer input is taken as raw {name} codes of {fmt}, which must lie in "
                f"[{fmt.min_int}, {fmt.max_int}]; element {k} is {int(column.reshape(-1)[k])}")
        return [int(x) for x in column.reshape(-1)], 0
    if np.issubdtype(column.dtype, np.floating):
        if not np.all(np.isfinite(column)):
            raise UsageError(f"the {name} column holds NaN or infinite values")
        codes, ovf = quantize(column.reshape(-1), fmt, quantize_mode)
        return [int(c) for c in codes], int(sum(ovf))
    raise UsageError(f"--input must hold integers or floats, not {column.dtype}")


def compare_mac(params, arr, *, terms=None, sim="verilator", seed=1, quantize_mode="nearest"):
    """Run the user's operand pairs through the MAC RTL and golden model.

    ``arr`` is ``(n, 2)``: n pairs (a, b), summed ``terms`` at a time (default 1: n products);
    or ``(m, k, 2)``: m dot products of length k. Floats are quantized to the input formats
    with ``quantize_mode``; integers are raw codes. Returns a report dict.
    """
    if arr.ndim == 3 and arr.shape[2] == 2:
        if terms is not None and terms != arr.shape[1]:
            raise UsageError(f"--terms {terms} contradicts the input shape {arr.shape}")
        terms = arr.shape[1]
        arr = arr.reshape(-1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise UsageError(f"--input for mac must have shape (n, 2) or (m, k, 2) with n, k > 0, "
                         f"not {arr.shape}")
    terms = 1 if terms is None else terms
    if terms < 1 or arr.shape[0] % terms:
        raise UsageError(f"--terms must be >= 1 and divide the {arr.shape[0]} input rows, "
                         f"not {terms}")
    a, ovf_a = _codes(arr[:, 0], params.fmt_a, "a", quantize_mode)
    b, ovf_b = _codes(arr[:, 1], params.fmt_b, "b", quantize_mode)

    v = MacVectors()
    for k in range(0, len(a), terms):
        v.add_sum("user", zip(a[k:k + terms], b[k:k + terms]))
    gen_dir, man = generated("mac", params)
    out, resp = run_mac(gen_dir, man, v, sim=sim, seed=seed)
    board = score_mac(params, v, out, resp, latency=man["latency"])

    # Accuracy of the hardware against real arithmetic on the quantized operands, in eps_o.
    scale = Fraction(1, 1 << params.product_fl)
    eps = params.fmt_o.eps
    exact = [sum(Fraction(x * y) for x, y in zip(a[k:k + terms], b[k:k + terms])) * scale
             for k in range(0, len(a), terms)]
    got = [Fraction(int(c)) * eps for c in out["value"]]
    err = np.array([float((g - e) / eps) for g, e in zip(got, exact)]) if got else np.zeros(0)
    report = {
        "unit": "mac",
        "params": man["params"],
        "results": board.total,
        "terms_per_result": terms,
        "mismatches_rtl_vs_golden": len(board.mismatches),
        "first_mismatches": board.mismatches[:5],
        "input_overflow_when_quantizing": ovf_a + ovf_b,
        "output_overflow": int(sum(int(x) for x in out["overflow"])),
        "error_vs_exact_eps": {
            "mean": float(err.mean()) if err.size else 0.0,
            "std": float(err.std()) if err.size else 0.0,
            "max_abs": float(np.abs(err).max()) if err.size else 0.0,
        },
        "rtl_values": [float(g) for g in got],
        "cycles": resp["cycles"],
        "simulator": sim,
    }
    return report
