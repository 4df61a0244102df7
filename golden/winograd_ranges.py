"""Exact stage ranges of the Winograd F(2,3) datapath (:mod:`lowbit.golden.winograd`).

Stage widths
------------
Every stage value is, per channel, linear in the data tile ``d`` (input transform), linear in the
filter ``g`` (filter transform), or a bilinear form ``d^T Q g`` (product and everything after
it); channel sums add ``C`` independent copies. :func:`stage_ranges` computes the exact
minimum and maximum of each stage over all signed ``Wd``-bit tiles and ``Wg``-bit filters:

- linear: ``max = sum_i max(c_i hi, c_i lo)`` (each input at the extreme its coefficient's sign
  asks for), the min likewise;
- bilinear: for a fixed ``g`` the best ``d`` is the linear case again, and that maximum is
  convex in ``g``, so it suffices to try the ``2**3`` (1-D) or ``2**9`` (2-D) corners of the
  filter box;
- channel stages: ``C`` times the one-channel extreme (every channel takes the same pattern).

So every bound is attained, and :func:`worst_case_patterns` returns the tile and filter that
attain it. Classical interval arithmetic, which forgets that all elements of ``M`` come from the
same ``d`` and ``g``, is available as ``stage_ranges(..., exact=False)``; it agrees with the exact
ranges up to the channel sum and overestimates the output transform.

What the matrices give (``Wd``-bit data, ``Wg``-bit weights, signed):

- input transform: ``B^T`` rows have absolute sums 2, 2, 2, 2: +1 bit in 1-D, +2 bits in 2-D
  (``B^T d`` is +1, ``B^T d B`` +2), for every ``Wd``; the extremes are ``2 lo_d``, ``4 lo_d``.
- filter transform: ``G'`` rows 2, 3, 3, 2: ``G' g`` is +2 bits (factor 3), ``G' g G'^T`` +4
  bits (factor 9), for every ``Wg``.
- product: ``Wd + Wg + 2`` bits in 1-D, ``Wd + Wg + 5`` in 2-D, one bit less than a full
  multiplier of the transformed words, ``(Wd + 1) + (Wg + 2)`` or ``(Wd + 2) + (Wg + 4)``,
  because the most negative times the most negative word is out of reach; the extremes are
  ``(2 lo_d)(3 lo_g)`` in 1-D and ``(4 lo_d)(9 lo_g)`` in 2-D.
- channel sum: exactly ``C`` times the product range, i.e. up to ``ceil(log2 C)`` more bits and
  sometimes fewer (8-bit 2-D, C = 3: +1, not +2).
- output transform: ``A^T`` rows have absolute sums 3, 3 (9 in 2-D), but ``y' = 2 C corr`` and
  ``Y' = 4 C corr`` exactly, whose extremes lie inside the channel sum's: the exact output
  transform, and its first pass ``A^T S``, need no more bits than the channel sum.
- output: ``y = y' >> 1``, ``Y = Y' >> 2``: the direct correlation's range, ``C * taps`` times a
  ``Wd x Wg`` product's.

For 8-bit data and weights (exact; 2-D passes are ``B^T d``, ``G' g``, ``A^T S``)::

                     1-D: C=1  C=3  C=16     2-D: C=1  C=3  C=16
    input transform        9    9    9             10   10   10   (pass 1: 9)
    filter transform      10   10   10             12   12   12   (pass 1: 10)
    product               18   18   18             21   21   21
    channel sum           18   20   22             21   22   25
    output transform      18   20   22             21   22   25   (pass 1: 21 22 25)
    output (shifted)      17   19   21             19   20   23

Entrywise interval arithmetic (``exact=False``) gives the output transform 19, 21, 23 bits
(1-D) and 23, 25, 27 bits (2-D); the rule of thumb "product + ceil(log2 C) + 2 bits (1-D),
+ 4 bits (2-D)" gives 20, 22, 24 and 25, 27, 29.
"""

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from .checks import check_int as _check_int
from .winograd_matrices import A_T, B_T, G_SCALED

__all__ = [
    "MIN_WIDTH", "MAX_WIDTH", "MAX_CHANNELS", "STAGES_1D", "STAGES_2D",
    "signed_width", "StageRange", "WorstCase", "stage_ranges", "direct_stage_ranges",
    "worst_case_patterns",
]

MIN_WIDTH, MAX_WIDTH = 2, 16
MAX_CHANNELS = 1024

#: Stage names in datapath order. Per-channel stages come before ``channel_sum``.
STAGES_1D = ("input_transform", "filter_transform", "product", "channel_sum",
             "output_transform", "output")
STAGES_2D = ("input_transform_pass1", "input_transform", "filter_transform_pass1",
             "filter_transform", "product", "channel_sum", "output_transform_pass1",
             "output_transform", "output")
_PER_CHANNEL = {"input_transform_pass1", "input_transform", "filter_transform_pass1",
                "filter_transform", "product"}
_SHIFT = {1: 1, 2: 2}


def signed_width(lo, hi):
    """Fewest bits of a two's complement word that holds every integer in ``[lo, hi]``."""
    lo, hi = int(lo), int(hi)
    mag = max((v if v >= 0 else ~v).bit_length() for v in (lo, hi))
    return mag + 1


def _nested(a):
    a = np.asarray(a)
    return tuple(_nested(x) for x in a) if a.ndim > 1 else tuple(int(v) for v in a)


@dataclass(frozen=True)
class StageRange:
    """The range of one datapath stage over all valid inputs.

    ``lo``/``hi`` bound the whole stage (its widest element), ``element_lo``/``element_hi``
    each element (nested tuples shaped like the stage, without channels), so hardware may size
    lanes one by one. ``per_channel``: the stage exists once per input channel.
    """

    name: str
    lo: int
    hi: int
    element_lo: tuple
    element_hi: tuple
    per_channel: bool

    @property
    def width(self):
        """Signed bits the stage needs."""
        return signed_width(self.lo, self.hi)

    @property
    def shape(self):
        return np.shape(self.element_lo)


@dataclass(frozen=True, eq=False)
class WorstCase:
    """A tile and filter that drive ``stage`` to its ``bound`` (``"min"``/``"max"``).

    ``data`` is ``(C, 4)`` or ``(C, 4, 4)``, ``filt`` ``(C, 3)`` or ``(C, 3, 3)`` (int64, every
    channel the same); the stage reaches ``value`` at element ``index`` (no channel axis).
    Inputs that do not matter are 0.
    """

    stage: str
    bound: str
    value: int
    index: tuple
    data: np.ndarray
    filt: np.ndarray


def _check_widths(dim, data_width, weight_width, channels):
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, not {dim!r}")
    _check_int("data_width", data_width, MIN_WIDTH, MAX_WIDTH)
    _check_int("weight_width", weight_width, MIN_WIDTH, MAX_WIDTH)
    _check_int("channels", channels, 1, MAX_CHANNELS)


def _box(width):
    return -(1 << (width - 1)), (1 << (width - 1)) - 1


@functools.cache
def _forms(dim):
    """Per-channel stage forms on flattened (row-major) tiles and filters.

    name -> (kind, shape, coefficients): ``"d"`` (n_out, 16|4) linear in d, ``"g"`` (n_out,
    9|3) linear in g, ``"dg"`` (n_out, n_d, n_g) bilinear. ``vec(X Y Z) = (X kron Z^T) vec(Y)``.
    """
    if dim == 1:
        kd, kg = B_T, G_SCALED
        q = kd[:, :, None] * kg[:, None, :]
        return {"input_transform": ("d", (4,), kd), "filter_transform": ("g", (4,), kg),
                "product": ("dg", (4,), q), "channel_sum": ("dg", (4,), q),
                "output_transform": ("dg", (2,), np.einsum("oe,eij->oij", A_T, q))}
    i3, i4 = np.eye(3, dtype=np.int64), np.eye(4, dtype=np.int64)
    kd, kg = np.kron(B_T, B_T), np.kron(G_SCALED, G_SCALED)
    q = kd[:, :, None] * kg[:, None, :]
    return {"input_transform_pass1": ("d", (4, 4), np.kron(B_T, i4)),
            "input_transform": ("d", (4, 4), kd),
            "filter_transform_pass1": ("g", (4, 3), np.kron(G_SCALED, i3)),
            "filter_transform": ("g", (4, 4), kg),
            "product": ("dg", (4, 4), q), "channel_sum": ("dg", (4, 4), q),
            "output_transform_pass1": ("dg", (2, 4), np.einsum("oe,eij->oij",
                                                               np.kron(A_T, i4), q)),
            "output_transform": ("dg", (2, 2), np.einsum("oe,eij->oij", np.kron(A_T, A_T), q))}


def _linear(c, lo, hi):
    """Per row of ``c``: (min, max, argmin input, argmax input) over the box [lo, hi]^n."""
    top = np.where(c > 0, hi, np.where(c < 0, lo, 0))
    bot = np.where(c > 0, lo, np.where(c < 0, hi, 0))
    return (c * bot).sum(axis=-1), (c * top).sum(axis=-1), bot, top


@functools.cache
def _exact_one_channel(dim, data_width, weight_width):
    """name -> (lo, hi, (d_min, g_min), (d_max, g_max)) per element, flattened, one channel.

    int64 is exact here: with widths <= 16 every value is below 2**40.
    """
    (dl, dh), (gl, gh) = _box(data_width), _box(weight_width)
    n_d, n_g = (4, 3) if dim == 1 else (16, 9)
    out = {}
    for name, (kind, _, c) in _forms(dim).items():
        if kind == "d":
            lo, hi, dmin, dmax = _linear(c, dl, dh)
            zero = np.zeros((len(c), n_g), dtype=np.int64)
            out[name] = (lo, hi, (dmin, zero), (dmax, zero))
        elif kind == "g":
            lo, hi, gmin, gmax = _linear(c, gl, gh)
            zero = np.zeros((len(c), n_d), dtype=np.int64)
            out[name] = (lo, hi, (zero, gmin), (zero, gmax))
        else:
            corners = np.array(list(itertools.product((gl, gh), repeat=n_g)), dtype=np.int64)
            cd = np.einsum("eij,vj->evi", c, corners)        # d-coefficients per filter corner
            vlo, vhi, dlo, dhi = _linear(cd, dl, dh)         # (n_e, n_v), (n_e, n_v, n_d)
            e = np.arange(len(c))
            imin, imax = vlo.argmin(axis=1), vhi.argmax(axis=1)
            used = (c != 0).any(axis=1)                      # (n_e, n_g): filter taps that count
            gmin = np.where(used, corners[imin], 0)
            gmax = np.where(used, corners[imax], 0)
            out[name] = (vlo[e, imin], vhi[e, imax], (dlo[e, imin], gmin), (dhi[e, imax], gmax))
    return out


def _interval_linear(k, lo, hi):
    return np.minimum(k * lo, k * hi).sum(axis=1), np.maximum(k * lo, k * hi).sum(axis=1)


def _naive(dim, data_width, weight_width, channels):
    """name -> (lo, hi) per element by entrywise interval arithmetic, stage after stage."""
    (dl, dh), (gl, gh) = _box(data_width), _box(weight_width)
    out = {}
    if dim == 1:
        out["input_transform"] = v = _interval_linear(B_T, dl, dh)
        out["filter_transform"] = u = _interval_linear(G_SCALED, gl, gh)
    else:
        i2, i3, i4 = (np.eye(n, dtype=np.int64) for n in (2, 3, 4))
        out["input_transform_pass1"] = v1 = _interval_linear(np.kron(B_T, i4), dl, dh)
        out["input_transform"] = v = _interval_linear(np.kron(i4, B_T), *v1)
        out["filter_transform_pass1"] = u1 = _interval_linear(np.kron(G_SCALED, i3), gl, gh)
        out["filter_transform"] = u = _interval_linear(np.kron(i4, G_SCALED), *u1)
    ends = np.stack([u[0] * v[0], u[0] * v[1], u[1] * v[0], u[1] * v[1]])
    out["product"] = p = (ends.min(axis=0), ends.max(axis=0))
    out["channel_sum"] = s = (p[0] * channels, p[1] * channels)
    if dim == 1:
        out["output_transform"] = _interval_linear(A_T, *s)
    else:
        out["output_transform_pass1"] = y1 = _interval_linear(np.kron(A_T, i4), *s)
        out["output_transform"] = _interval_linear(np.kron(i2, A_T), *y1)
    return out


def stage_ranges(dim, *, data_width, weight_width, channels=1, exact=True):
    """The range and signed width of every stage of ``dim``-D F(2,3).

    Data are signed ``data_width``-bit, weights signed ``weight_width``-bit (2..16 each),
    ``channels`` 1..1024. ``exact=True`` (default): the true extremes over all inputs, each
    attained (see :func:`worst_case_patterns`). ``exact=False``: classical interval arithmetic
    stage after stage, treating each stage's elements as independent; an upper bound, loose
    for the output transform. Returns ``{name: StageRange}`` in :data:`STAGES_1D` /
    :data:`STAGES_2D` order; a channel accumulator's partial sums never leave its range.
    """
    _check_widths(dim, data_width, weight_width, channels)
    shapes = {name: shape for name, (_, shape, _) in _forms(dim).items()}
    if exact:
        one = _exact_one_channel(dim, data_width, weight_width)
        per = {name: (lo, hi) if name in _PER_CHANNEL else (lo * channels, hi * channels)
               for name, (lo, hi, _, _) in one.items()}
    else:
        per = _naive(dim, data_width, weight_width, channels)
    out = {}
    for name in (STAGES_1D if dim == 1 else STAGES_2D):
        if name == "output":
            lo, hi = (x >> _SHIFT[dim] for x in per["output_transform"])
            shape = shapes["output_transform"]
        else:
            (lo, hi), shape = per[name], shapes[name]
        out[name] = StageRange(name, int(lo.min()), int(hi.max()),
                               _nested(lo.reshape(shape)), _nested(hi.reshape(shape)),
                               name in _PER_CHANNEL)
    return out


def direct_stage_ranges(*, data_width, weight_width, channels=1, taps=9):
    """Exact ranges of a direct engine: one ``product`` and the ``taps * channels`` ``sum``."""
    _check_widths(2, data_width, weight_width, channels)
    (dl, dh), (gl, gh) = _box(data_width), _box(weight_width)
    ends = (dl * gl, dl * gh, dh * gl, dh * gh)
    plo, phi = min(ends), max(ends)
    n = taps * channels
    return {name: StageRange(name, lo, hi, (lo,), (hi,), name == "product")
            for name, lo, hi in (("product", plo, phi), ("sum", plo * n, phi * n))}


def worst_case_patterns(dim, *, data_width, weight_width, channels=1):
    """For every stage, a data tile and filter that reach its exact min and max.

    Returns ``{stage: {"min": WorstCase, "max": WorstCase}}``; feeding ``data``/``filt`` to
    :func:`winograd_stages_1d` / :func:`winograd_stages_2d` gives ``value`` at ``index`` of
    that stage (every channel, for per-channel stages), and ``value`` is the bound of
    :func:`stage_ranges`. Meant for directed hardware tests: these are the overflow corners.
    """
    _check_widths(dim, data_width, weight_width, channels)
    one = _exact_one_channel(dim, data_width, weight_width)
    forms = _forms(dim)
    dshape, gshape = ((4,), (3,)) if dim == 1 else ((4, 4), (3, 3))
    out = {}
    for name in (STAGES_1D if dim == 1 else STAGES_2D):
        src = "output_transform" if name == "output" else name
        scale = 1 if src in _PER_CHANNEL else channels
        lo, hi, at_min, at_max = one[src]
        shape = forms[src][1]
        cases = {}
        for bound, values, (dpat, gpat) in (("min", lo, at_min), ("max", hi, at_max)):
            e = int(values.argmin() if bound == "min" else values.argmax())
            value = int(values[e]) * scale
            if name == "output":
                value >>= _SHIFT[dim]
            data = np.broadcast_to(dpat[e].reshape(dshape), (channels, *dshape)).copy()
            filt = np.broadcast_to(gpat[e].reshape(gshape), (channels, *gshape)).copy()
            index = tuple(int(i) for i in np.unravel_index(e, shape))
            cases[bound] = WorstCase(name, bound, value, index, data, filt)
        out[name] = cases
    return out
