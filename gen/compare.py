"""``lowbit compare``: a user's data through the RTL simulation and the golden model."""

import dataclasses
from fractions import Fraction

import numpy as np

from ..golden import quantize
from ..golden.binary import binarize, bmvu_golden, bmvu_images, xnor_stream_golden
from ..golden.bitserial import MAX_DK, MAX_ELEMENTS, MAX_SIZE, DPUBeat, check_fits, dpu_golden
from ..golden.checks import UsageError
from ..hw.build import generated
from ..hw.units import get_unit
from ..sim.binary import XnorVectors, run_bmvu, run_popcount, run_xnor
from ..sim.bitserial import run_dpu, run_p2s
from ..sim.mac import MacVectors, run_mac, score_mac
from ..sim.matmul import MatmulRun, run_matmul
from ..sim.score import compare_results
from ..sim.winograd import run_conv2d, run_tiles

__all__ = ["load_array", "compare_mac", "compare_popcount", "compare_xnor", "compare_bmvu",
           "compare_tiles", "compare_conv2d", "compare_dpu", "compare_p2s", "compare_bitserial",
           "conv2d_shape_params", "shape_params", "COMPARE", "SHAPE_PARAMS"]


def load_array(path, option="--input"):
    """Load a ``.npy`` file, or raise UsageError naming the option, the file and the reason."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"cannot read {option} {path}: no such file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"cannot read {option} {path}: not a readable .npy array ({exc})") \
            from None
    if not isinstance(arr, np.ndarray):
        raise UsageError(f"{option} {path} holds an archive, not one array")
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


def compare_mac(params, arr, *, terms=None, sim="verilator", seed=1, quantize_mode="nearest",
                **_):
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


def _bits(arr, what):
    """0/1 integers or booleans as they are; real numbers binarized (x >= 0 is +1)."""
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        if not np.isin(arr, (0, 1)).all():
            raise UsageError(f"{what} must hold bits 0 (-1) and 1 (+1), or real numbers to "
                             f"binarize; found values {sorted(set(np.unique(arr)) - {0, 1})[:5]}")
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise UsageError(f"{what} holds NaN or infinite values")
        return binarize(arr)
    raise UsageError(f"{what} must hold integers, booleans or floats, not {arr.dtype}")


def _summary(unit, params, got, want, resp, sim, extra=None):
    mism = compare_results([int(g) for g in got], [int(w) for w in want], resp)
    return {"unit": unit, "params": dataclasses.asdict(params), "results": len(want),
            "mismatches_rtl_vs_golden": len(mism), "first_mismatches": mism[:5],
            "rtl_values": [int(g) for g in got], "cycles": resp["cycles"], "simulator": sim,
            **(extra or {})}


def compare_popcount(params, arr, *, sim="verilator", seed=1, **_):
    """``arr`` (V, n): V words of n bits."""
    if arr.ndim != 2 or arr.shape[1] != params.n or arr.shape[0] == 0:
        raise UsageError(f"--input for popcount must have shape (words, n={params.n}), "
                         f"not {arr.shape}")
    bits = _bits(arr, "--input")
    words = [sum(int(b) << j for j, b in enumerate(row)) for row in bits]
    gen_dir, man = generated("popcount", params)
    got, resp = run_popcount(gen_dir, man, words, sim=sim, seed=seed)
    return _summary("popcount", params, got, bits.sum(axis=1), resp, sim)


def compare_xnor(params, arr, *, sim="verilator", seed=1, **_):
    """``arr`` (V, 2, L): V pairs (activations, weights) of L <= max_length bits."""
    if arr.ndim != 3 or arr.shape[1] != 2 or not 1 <= arr.shape[2] <= params.max_length \
            or arr.shape[0] == 0:
        raise UsageError(f"--input for xnor must have shape (vectors, 2, L) with "
                         f"1 <= L <= max_length={params.max_length}, not {arr.shape}")
    bits = _bits(arr, "--input")
    v = XnorVectors()
    for a, w in bits:
        v.add_vector("user", a, w, params.n)
    gen_dir, man = generated("xnor", params)
    got, resp = run_xnor(gen_dir, man, v, sim=sim, seed=seed)
    want = xnor_stream_golden(params, v.a, v.w, v.length, v.first, v.last)
    return _summary("xnor", params, got, want, resp, sim)


def compare_bmvu(params, arr, *, weights=None, thresholds=None, invert=None,
                 sim="verilator", seed=1, **_):
    """``arr`` (V, cols) input vectors; ``weights`` (rows, cols); ``thresholds`` (rows, k)
    and optional ``invert`` (rows,) when the unit has thresholds."""
    if arr.ndim != 2 or arr.shape[1] != params.cols or arr.shape[0] == 0:
        raise UsageError(f"--input for bmvu must have shape (vectors, cols={params.cols}), "
                         f"not {arr.shape}")
    if weights is None:
        raise UsageError("bmvu needs --weights FILE.npy of shape (rows, cols)")
    if weights.shape != (params.rows, params.cols):
        raise UsageError(f"--weights must have shape (rows={params.rows}, "
                         f"cols={params.cols}), not {weights.shape}")
    x, w = _bits(arr, "--input"), _bits(weights, "--weights")
    if params.thresholds:
        if thresholds is None:
            raise UsageError(f"bmvu with thresholds={params.thresholds} needs --thresholds "
                             f"FILE.npy of shape (rows, {params.thresholds})")
        if not np.issubdtype(thresholds.dtype, np.integer):
            raise UsageError(f"--thresholds must hold integers, not {thresholds.dtype}")
        if invert is not None and invert.shape != (params.rows,):
            raise UsageError(f"--invert must have shape (rows={params.rows},), "
                             f"not {invert.shape}")
        try:
            bmvu_images(params, w, thresholds, invert)
        except ValueError as exc:
            raise UsageError(f"--thresholds: {exc}") from None
    elif thresholds is not None:
        raise UsageError("--thresholds given, but the unit has thresholds=0 (raw dot products)")
    gen_dir, man = generated("bmvu", params)
    got, resp = run_bmvu(gen_dir, man, params, w, x, thresholds, invert, sim=sim, seed=seed)
    want = bmvu_golden(params, w, x, thresholds, invert)
    flat_got = got.reshape(-1) if got is not None else np.array(resp["out"])
    return _summary("bmvu", params, flat_got, want.reshape(-1), resp, sim,
                    {"shape": list(want.shape)})


def _ints(arr, what):
    if not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"{what} must hold integers (raw two's complement codes), "
                         f"not {arr.dtype}")
    return arr.astype(np.int64)


def _checked(check, what, arr):
    try:
        return check(arr)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None


def compare_tiles(params, arr, *, filt=None, sim="verilator", seed=1, unit="winograd2d", **_):
    """Tile engines: ``arr`` (N, C, 4, 4) tiles (1-D: (N, C, 4)); ``filt`` (C, 3, 3) for
    every tile or (N, C, 3, 3) one per tile (1-D: (C, 3) or (N, C, 3)). The golden model is
    direct correlation."""
    tile, fshape, c = params.tile_shape, params.filter_shape, params.channels
    if arr.ndim != 2 + len(tile) or arr.shape[1:] != (c, *tile) or arr.shape[0] == 0:
        raise UsageError(f"--input for {unit} must have shape (tiles, channels={c}, "
                         f"{', '.join(map(str, tile))}), not {arr.shape}")
    if filt is None:
        raise UsageError(f"{unit} needs --filter FILE.npy of shape "
                         f"({', '.join(map(str, (c, *fshape)))})")
    tiles, filt = _ints(arr, "--input"), _ints(filt, "--filter")
    if filt.shape == (c, *fshape):
        filt = np.broadcast_to(filt, (len(tiles), *filt.shape))
    elif filt.shape != (len(tiles), c, *fshape):
        raise UsageError(f"--filter for {unit} must have shape "
                         f"({', '.join(map(str, (c, *fshape)))}) or (tiles={len(tiles)}, "
                         f"{', '.join(map(str, (c, *fshape)))}), not {filt.shape}")
    want = np.array([_checked(lambda x: params.compute(*x), "--input/--filter", (t, f))
                     for t, f in zip(tiles, filt)])
    gen_dir, man = generated(unit, params)
    got, resp = run_tiles(gen_dir, man, params, tiles, filt, sim=sim, seed=seed)
    return _summary(unit, params, got.reshape(-1), want.reshape(-1), resp, sim,
                    {"shape": list(want.shape)})


def _unless_given(items, inferred):
    """``items`` plus ``key=value`` for each inferred parameter the user did not give."""
    given = {item.partition("=")[0].strip() for item in items}
    return list(items) + [f"{k}={v}" for k, v in inferred.items() if k not in given]


def conv2d_shape_params(arr, items, **_):
    """``-p`` items for conv2d with ``channels``, ``height`` and ``width`` taken from the
    image's shape ((H, W), (C, H, W) or (N, C, H, W)) where the user did not give them."""
    if arr.ndim not in (2, 3, 4):
        raise UsageError(f"--input for conv2d must have shape (H, W), (C, H, W) or "
                         f"(images, C, H, W), not {arr.shape}")
    c, h, w = (1, *arr.shape) if arr.ndim == 2 else arr.shape[-3:]
    return _unless_given(items, {"channels": c, "height": h, "width": w})


def _bitserial_shape_params(arr, items, *, rhs=None, **_):
    # The buffers' maxima grow to the matrices where they exceed the defaults (which stay, so
    # smaller runs share one build); capped at the largest allowed, so that the size check
    # names M, K or N rather than the parameter. Bad shapes are left to compare_bitserial.
    default = get_unit("bitserial").defaults()
    dims = {}
    if arr.ndim == 2:
        dims["max_m"], dims["max_k"] = arr.shape
    if rhs is not None and rhs.ndim == 2:
        dims["max_k"] = max(dims.get("max_k", 0), rhs.shape[0])
        dims["max_n"] = rhs.shape[1]
    return _unless_given(items, {k: min(v, MAX_SIZE) for k, v in dims.items()
                                 if v > getattr(default, k)})


def _dpu_shape_params(arr, items, **_):
    """``dk`` from the input's bits per operand, ``(beats, 2, dk)``."""
    ok = arr.ndim == 3 and 1 <= arr.shape[2] <= MAX_DK
    return _unless_given(items, {"dk": arr.shape[2]} if ok else {})


def _p2s_shape_params(arr, items, **_):
    """``elements`` from the input's words, ``(words, E)``."""
    ok = arr.ndim == 2 and 1 <= arr.shape[1] <= MAX_ELEMENTS
    return _unless_given(items, {"elements": arr.shape[1]} if ok else {})


def shape_params(unit, arr, items, **files):
    """The ``-p`` items for ``unit`` with the parameters its input's shape implies added where
    the user did not give them (see :data:`SHAPE_PARAMS`); ``files`` are the other loaded
    arrays by option name (``rhs=``...)."""
    hook = SHAPE_PARAMS.get(unit)
    return hook(arr, items, **files) if hook else list(items)


def compare_conv2d(params, arr, *, filt=None, sim="verilator", seed=1, **_):
    """``arr`` one image (H, W) or (C, H, W), or images (N, C, H, W); ``filt`` (3, 3) or
    (C, 3, 3). The golden model is direct correlation with the layer's padding."""
    shape = (params.channels, params.height, params.width)
    images = _ints(arr, "--input")
    images = images.reshape(-1, *shape) if images.shape in (shape, shape[1:]) else images
    if images.ndim != 4 or images.shape[1:] != shape or images.shape[0] == 0:
        raise UsageError(f"--input for conv2d must have shape (C, H, W) = {shape} or "
                         f"(images, {', '.join(map(str, shape))}), not {arr.shape}")
    if filt is None:
        raise UsageError(f"conv2d needs --filter FILE.npy of shape ({params.channels}, 3, 3)")
    filt = _ints(filt, "--filter")
    if filt.shape == (3, 3) and params.channels == 1:
        filt = filt[None]
    if filt.shape != (params.channels, 3, 3):
        raise UsageError(f"--filter for conv2d must have shape (channels={params.channels}, 3, 3)"
                         f"{' or (3, 3)' if params.channels == 1 else ''}, not {filt.shape}")
    want = np.array([_checked(lambda x: params.compute(x, filt), "--input/--filter", im)
                     for im in images])
    gen_dir, man = generated("conv2d", params)
    got, resp = run_conv2d(gen_dir, man, params, images, filt, sim=sim, seed=seed)
    # A wrong pixel count or a misplaced 'last' is reported as every result mismatching.
    flat = got.reshape(-1) if got is not None else np.full(want.size, np.iinfo(np.int64).min)
    report = _summary("conv2d", params, flat, want.reshape(-1), resp, sim,
                      {"shape": list(want.shape)})
    report["values_per_cycle"] = round(images.size / max(resp["cycles"], 1), 4)
    return report


def _where(index):
    return tuple(int(i) for i in index) if len(index) > 1 else int(index[0])


def _only_bits(arr, what):
    """0/1 integers or booleans as uint8 (the DPU ANDs plain bits; nothing is binarized)."""
    if arr.dtype != bool and not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"{what} must hold bits 0 and 1 (integers or booleans), not {arr.dtype}")
    bad = np.argwhere((arr != 0) & (arr != 1))
    if len(bad):
        raise UsageError(f"{what} must hold bits 0 and 1, not {arr[tuple(bad[0])]} at index "
                         f"{_where(bad[0])}")
    return arr.astype(np.uint8)


def compare_dpu(params, arr, *, shift=None, negate=None, beats_per_sum=None, sim="verilator",
                seed=1, **_):
    """``arr`` (beats, 2, dk) bits: operands a and b of each beat (bit t of a word is element
    t). ``shift`` (beats,) integers 0..max_shift (default 0), ``negate`` (beats,) 0/1
    (default 0); every ``beats_per_sum`` beats form one sum (first/last; default: all beats).
    """
    if arr.ndim != 3 or arr.shape[1:] != (2, params.dk) or arr.shape[0] == 0:
        raise UsageError(f"--input for dpu must have shape (beats, 2, dk={params.dk}) with at "
                         f"least one beat, not {arr.shape}")
    bits = _only_bits(arr, "--input")
    n = len(bits)
    if shift is None:
        shifts = np.zeros(n, dtype=np.int64)
    else:
        if shift.shape != (n,):
            raise UsageError(f"--shift must have shape (beats={n},), not {shift.shape}")
        if not np.issubdtype(shift.dtype, np.integer):
            raise UsageError(f"--shift must hold integers, not {shift.dtype}")
        bad = np.flatnonzero((shift < 0) | (shift > params.max_shift))
        if len(bad):
            raise UsageError(f"--shift values must lie in [0, {params.max_shift}] (max_shift), "
                             f"not {int(shift[bad[0]])} at beat {int(bad[0])}")
        shifts = shift.astype(np.int64)
    if negate is None:
        signs = np.zeros(n, dtype=np.uint8)
    else:
        if negate.shape != (n,):
            raise UsageError(f"--negate must have shape (beats={n},), not {negate.shape}")
        signs = _only_bits(negate, "--negate")
    terms = n if beats_per_sum is None else beats_per_sum
    if terms < 1 or n % terms:
        raise UsageError(f"--beats-per-sum must be >= 1 and divide the {n} beats, not {terms}")
    weights = 1 << np.arange(params.dk, dtype=object)
    beats = [DPUBeat(int(a @ weights), int(b @ weights), int(s), bool(g), k % terms == 0,
                     k % terms == terms - 1)
             for k, ((a, b), s, g) in enumerate(zip(bits.astype(object), shifts, signs))]
    want = dpu_golden(params, beats)
    gen_dir, man = generated("dpu", params)
    got, resp = run_dpu(gen_dir, man, params, beats, sim=sim, seed=seed)
    return _summary("dpu", params, got, want, resp, sim,
                    {"shape": [len(want)], "beats_per_result": terms})


def compare_p2s(params, arr, *, w=None, sim="verilator", seed=1, **_):
    """``arr`` (words, E) integers, each a ``w``-bit element (signed or unsigned: the P2S takes
    the ``w``-bit pattern); ``w`` defaults to max_width. Results: ``w`` plane words per input
    word, LSB plane first, element e at bit e."""
    if arr.ndim != 2 or arr.shape[1] != params.elements or arr.shape[0] == 0:
        raise UsageError(f"--input for p2s must have shape (words, E={params.elements}) with "
                         f"at least one word, not {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"--input for p2s must hold integers, not {arr.dtype}")
    w = params.max_width if w is None else w
    _checked(params.check_w, "p2s", w)
    # Signed or unsigned w-bit values; anything wider would silently lose its high bits.
    lo, hi = -(1 << (w - 1)), (1 << w) - 1
    bad = np.argwhere((arr < lo) | (arr > hi))
    if len(bad):
        raise UsageError(f"--input values must lie in [{lo}, {hi}] (w = {w} bits, signed or "
                         f"unsigned), not {arr[tuple(bad[0])]} at index {_where(bad[0])}")
    words = arr.astype(np.int64)
    want = params.compute(words, w)
    gen_dir, man = generated("p2s", params)
    got, resp = run_p2s(gen_dir, man, params, words, w, sim=sim, seed=seed)
    return _summary("p2s", params, got, want, resp, sim,
                    {"shape": [len(words), w], "w": w})


def _int_matrix(arr, option, name):
    if not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"{option} ({name}) must hold integers, not {arr.dtype}")
    if arr.ndim != 2:
        raise UsageError(f"{option} ({name}) must be a matrix, not shape {arr.shape}")
    return arr


def compare_bitserial(params, arr, *, rhs=None, wa=None, wb=None, a_signed=None, b_signed=None,
                      sim="verilator", seed=1, **_):
    """``C = A B`` for ``arr`` = A (M, K) and ``rhs`` = B (K, N), integers of ``wa`` and ``wb``
    bits (default max_wa, max_wb), signed unless ``a_signed``/``b_signed`` is False. One run
    through the engine (P2S, DPU array) and the golden schedule, which never multiplies A by B.
    """
    if rhs is None:
        raise UsageError("bitserial needs --rhs FILE.npy, the right matrix B of shape (K, N)")
    A, B = _int_matrix(arr, "--input", "A"), _int_matrix(rhs, "--rhs", "B")
    if A.shape[1] != B.shape[0]:
        raise UsageError(f"--input (A) and --rhs (B) must agree on K: A is {A.shape}, "
                         f"B is {B.shape}")
    (M, K), N = A.shape, B.shape[1]
    wa = params.max_wa if wa is None else wa
    wb = params.max_wb if wb is None else wb
    a_signed = True if a_signed is None else a_signed
    b_signed = True if b_signed is None else b_signed
    try:
        params.check_run(M, K, N, 1, 1, a_signed, b_signed)
    except ValueError as exc:
        raise UsageError(f"bitserial: {exc} (A is {A.shape}, B is {B.shape})") from None
    _checked(lambda x: params.check_run(M, K, N, *x, a_signed, b_signed), "bitserial", (wa, wb))
    A = _checked(lambda x: check_fits("--input (A)", x, wa, a_signed), "bitserial", A)
    B = _checked(lambda x: check_fits("--rhs (B)", x, wb, b_signed), "bitserial", B)
    want = params.compute(A, B, wa, wb, a_signed, b_signed)
    gen_dir, man = generated("bitserial", params)
    got, resp = run_matmul(gen_dir, man, params, [MatmulRun(A, B, wa, wb, a_signed, b_signed)],
                           sim=sim, seed=seed)
    # A wrong result count or a misplaced 'last' is reported as every result mismatching.
    flat = got[0].reshape(-1) if got is not None else np.full(M * N, np.iinfo(np.int64).min)
    compute = params.cycles(M, K, N, wa, wb)
    kinds = ["signed" if s else "unsigned" for s in (a_signed, b_signed)]
    extra = {"shape": [M, N], "wa": wa, "wb": wb, "a_signed": a_signed, "b_signed": b_signed,
             "compute_cycles": compute,
             "effective_ops": 2 * M * K * N,
             "effective_ops_per_compute_cycle": round(2 * M * K * N / compute, 4),
             "peak_effective_ops_per_cycle": params.effective_ops_per_cycle(wa, wb),
             "notes": [f"A {M}x{K} at {wa} bits {kinds[0]}, B {K}x{N} at {wb} bits {kinds[1]}",
                       f"{compute} compute cycles in the schedule ({resp['cycles']} simulated, "
                       f"with loading through the P2S, readout, idle and back-pressure)",
                       f"effective ops (2 M K N = {2 * M * K * N}) per compute cycle: "
                       f"{2 * M * K * N / compute:.2f} (peak at {wa}x{wb} bits: "
                       f"{params.effective_ops_per_cycle(wa, wb):.2f})"]}
    return _summary("bitserial", params, flat, want.reshape(-1), resp, sim, extra)


COMPARE = {"mac": compare_mac, "popcount": compare_popcount, "xnor": compare_xnor,
           "bmvu": compare_bmvu, "winograd1d": compare_tiles, "winograd2d": compare_tiles,
           "direct3x3": compare_tiles, "conv2d": compare_conv2d, "dpu": compare_dpu,
           "p2s": compare_p2s, "bitserial": compare_bitserial}

#: Units whose input's shape implies parameters: ``hook(arr, items, **files) -> items``.
SHAPE_PARAMS = {"conv2d": conv2d_shape_params, "bitserial": _bitserial_shape_params,
                "dpu": _dpu_shape_params, "p2s": _p2s_shape_params}
