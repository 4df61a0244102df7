"""Winograd F(2,3) golden model: bit-exact against direct correlation, exact shifts, stage
bounds that are attained and never exceeded, whole-image correlation, parameter rules."""

import dataclasses
import importlib.util
import itertools
import re

import numpy as np
import pytest
from lowbit.golden.winograd import (
    A_T,
    B_T,
    G_SCALED,
    STAGES_1D,
    STAGES_2D,
    Conv2dParams,
    Direct3x3Params,
    G,
    Winograd1DParams,
    Winograd2DParams,
    check_filter_shape,
    conv2d_job,
    correlate2d,
    direct_1d,
    direct_1d_channels,
    direct_2d,
    direct_2d_channels,
    direct_stage_ranges,
    output_shape,
    signed_width,
    stage_ranges,
    transform_filter_1d,
    transform_filter_2d,
    transform_input_1d,
    transform_input_2d,
    transform_output_1d,
    transform_output_2d,
    winograd_1d,
    winograd_1d_channels,
    winograd_2d,
    winograd_2d_channels,
    winograd_correlate2d,
    winograd_stages_1d,
    winograd_stages_2d,
    worst_case_patterns,
)

SEED = 20160509
DATA_WIDTHS = (2, 4, 8, 12, 16)
WEIGHT_WIDTHS = (2, 3, 8, 16)
CHANNELS = (1, 3, 16)
STAGES = {1: winograd_stages_1d, 2: winograd_stages_2d}
DIRECT = {1: direct_1d_channels, 2: direct_2d_channels}
WINOGRAD = {1: winograd_1d_channels, 2: winograd_2d_channels}
SHAPES = {1: ((4,), (3,)), 2: ((4, 4), (3, 3))}


def box(width):
    return -(1 << (width - 1)), (1 << (width - 1)) - 1


def tiles(rng, dim, wd, wg, c, n):
    """n random tiles and filters, then n with every entry at an extreme (lo or hi), then n
    with entries from {lo, hi, 0, -1, 1}: shapes (3n, C, *tile), (3n, C, *filter)."""
    (dl, dh), (gl, gh) = box(wd), box(wg)
    ds, gs = SHAPES[dim]
    d = [rng.integers(dl, dh, size=(n, c, *ds), endpoint=True),
         rng.choice([dl, dh], size=(n, c, *ds)),
         rng.choice([dl, dh, 0, -1, 1], size=(n, c, *ds))]
    g = [rng.integers(gl, gh, size=(n, c, *gs), endpoint=True),
         rng.choice([gl, gh], size=(n, c, *gs)),
         rng.choice([gl, gh, 0, -1, 1], size=(n, c, *gs))]
    return np.concatenate(d), np.concatenate(g)


def loop_1d(d, g):
    return [sum(int(d[c][i + k]) * int(g[c][k]) for c in range(len(d)) for k in range(3))
            for i in range(2)]


def loop_2d(d, g):
    return [[sum(int(d[c][y + i][x + j]) * int(g[c][i][j])
                 for c in range(len(d)) for i in range(3) for j in range(3))
             for x in range(2)] for y in range(2)]


def loop_image(image, filt, padding):
    c, h, w = image.shape
    pad = 1 if padding == "same" else 0
    ho, wo = output_shape(h, w, padding)
    out = np.zeros((ho, wo), dtype=np.int64)
    for y in range(ho):
        for x in range(wo):
            acc = 0
            for k in range(c):
                for i in range(3):
                    for j in range(3):
                        yy, xx = y + i - pad, x + j - pad
                        if 0 <= yy < h and 0 <= xx < w:
                            acc += int(image[k, yy, xx]) * int(filt[k, i, j])
            out[y, x] = acc
    return out


# --- the matrices and the algebra ------------------------------------------------------------

def test_matrices_are_the_spec_ones():
    assert B_T.tolist() == [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    assert G.tolist() == [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
    assert A_T.tolist() == [[1, 1, 1, 0], [0, 1, -1, -1]]
    assert G_SCALED.dtype == np.int64 and (G_SCALED == 2 * G).all()
    for m in (B_T, G, A_T, G_SCALED):
        assert not m.flags.writeable
    # Row absolute sums the width rules come from.
    assert np.abs(B_T).sum(axis=1).tolist() == [2, 2, 2, 2]
    assert np.abs(G_SCALED).sum(axis=1).tolist() == [2, 3, 3, 2]
    assert np.abs(A_T).sum(axis=1).tolist() == [3, 3]


@pytest.mark.parametrize("dim", [1, 2])
def test_unshifted_output_is_exactly_scaled_direct_on_a_basis(dim):
    """y' and the direct correlation are both bilinear in (d, g): equal on every pair of unit
    tile and unit filter means y' = 2**dim * direct for all integer inputs, so the shift is
    exact. This is a proof, not a sample."""
    ds, gs = SHAPES[dim]
    nd, ng = int(np.prod(ds)), int(np.prod(gs))
    d = np.repeat(np.eye(nd, dtype=np.int64), ng, axis=0).reshape(nd * ng, 1, *ds)
    g = np.tile(np.eye(ng, dtype=np.int64), (nd, 1)).reshape(nd * ng, 1, *gs)
    st = STAGES[dim](d, g)
    np.testing.assert_array_equal(st["output_transform"], DIRECT[dim](d, g) << dim)


def test_float_g_gives_the_same_transform():
    rng = np.random.default_rng(SEED)
    g = rng.integers(-128, 128, size=(50, 3, 3))
    np.testing.assert_array_equal(transform_filter_2d(g), 4 * (G @ g @ G.T))
    np.testing.assert_array_equal(transform_filter_1d(g[:, 0]), 2 * (g[:, 0] @ G.T))


# --- Winograd == direct, bit for bit ---------------------------------------------------------

@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("wg", WEIGHT_WIDTHS)
@pytest.mark.parametrize("wd", DATA_WIDTHS)
def test_winograd_equals_direct(wd, wg, c, dim):
    seed = SEED + 1000 * wd + 100 * wg + 10 * c + dim
    rng = np.random.default_rng(seed)
    d, g = tiles(rng, dim, wd, wg, c, 60)
    st = STAGES[dim](d, g)
    direct = DIRECT[dim](d, g)
    msg = f"seed {seed}"
    assert st["output"].dtype == np.int64, msg
    np.testing.assert_array_equal(st["output"], direct, err_msg=msg)
    np.testing.assert_array_equal(WINOGRAD[dim](d, g), direct, err_msg=msg)
    # The shift drops only zeros: y' = 2**dim * y.
    assert (st["output_transform"] % (1 << dim) == 0).all(), msg
    np.testing.assert_array_equal(st["output_transform"], direct << dim, err_msg=msg)
    # Channels are summed in the transform domain, then one output transform.
    np.testing.assert_array_equal(st["channel_sum"], st["product"].sum(axis=-1 - dim))
    # A few against plain Python loops (the reference of the reference).
    loop = loop_1d if dim == 1 else loop_2d
    for k in (0, 61, 121, len(d) - 1):
        assert st["output"][k].tolist() == loop(d[k], g[k]), msg


@pytest.mark.parametrize("dim", [1, 2])
def test_single_channel_functions(dim):
    rng = np.random.default_rng(SEED + dim)
    d, g = tiles(rng, dim, 8, 8, 1, 40)
    d, g = d[:, 0], g[:, 0]
    wino, direct = (winograd_1d, direct_1d) if dim == 1 else (winograd_2d, direct_2d)
    np.testing.assert_array_equal(wino(d, g), direct(d, g))
    np.testing.assert_array_equal(wino(d[0], g[0]), direct(d[0], g[0]))
    loop = loop_1d if dim == 1 else loop_2d
    assert direct(d[3], g[3]).tolist() == loop(d[3:4], g[3:4])


def test_transforms_compose_to_the_stages():
    rng = np.random.default_rng(SEED)
    d, g = tiles(rng, 2, 8, 8, 3, 10)
    st = winograd_stages_2d(d, g)
    np.testing.assert_array_equal(transform_input_2d(d), st["input_transform"])
    np.testing.assert_array_equal(transform_filter_2d(g), st["filter_transform"])
    np.testing.assert_array_equal(transform_output_2d(st["channel_sum"]),
                                  st["output_transform"])
    np.testing.assert_array_equal(st["input_transform"], B_T @ d @ B_T.T)
    d1, g1 = tiles(rng, 1, 8, 8, 3, 10)
    st1 = winograd_stages_1d(d1, g1)
    np.testing.assert_array_equal(transform_input_1d(d1), st1["input_transform"])
    np.testing.assert_array_equal(transform_filter_1d(g1), st1["filter_transform"])
    np.testing.assert_array_equal(transform_output_1d(st1["channel_sum"]),
                                  st1["output_transform"])


@pytest.mark.parametrize("dim", [1, 2])
def test_wider_than_63_bits_uses_python_ints(dim):
    rng = np.random.default_rng(SEED)
    ds, gs = SHAPES[dim]
    d = np.array([[int(v) << 40 for v in rng.integers(-8, 8, size=int(np.prod(ds)))]
                  for _ in range(3)], dtype=object).reshape(3, *ds)
    g = np.array([[(int(v) << 40) + 1 for v in rng.integers(-8, 8, size=int(np.prod(gs)))]
                  for _ in range(3)], dtype=object).reshape(3, *gs)
    y = WINOGRAD[dim](d, g)
    assert y.dtype == object
    loop = loop_1d if dim == 1 else loop_2d
    assert y.tolist() == loop(d, g)
    assert DIRECT[dim](d, g).tolist() == loop(d, g)
    assert max(abs(v) for v in np.ravel(y)) > 1 << 63


# --- stage ranges: attained, never exceeded ---------------------------------------------------

@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("wd,wg", [(2, 2), (4, 7), (8, 8), (12, 5), (16, 16)])
@pytest.mark.parametrize("c", CHANNELS)
def test_worst_case_patterns_reach_the_bounds(dim, wd, wg, c):
    ranges = stage_ranges(dim, data_width=wd, weight_width=wg, channels=c)
    patterns = worst_case_patterns(dim, data_width=wd, weight_width=wg, channels=c)
    assert tuple(ranges) == tuple(patterns) == (STAGES_1D if dim == 1 else STAGES_2D)
    (dl, dh), (gl, gh) = box(wd), box(wg)
    for name, r in ranges.items():
        for bound, want in (("min", r.lo), ("max", r.hi)):
            case = patterns[name][bound]
            assert (case.stage, case.bound, case.value) == (name, bound, want)
            assert case.data.shape == (c, *SHAPES[dim][0])
            assert case.filt.shape == (c, *SHAPES[dim][1])
            assert dl <= case.data.min() and case.data.max() <= dh
            assert gl <= case.filt.min() and case.filt.max() <= gh
            got = STAGES[dim](case.data, case.filt)[name]
            if r.per_channel:
                assert (got[(slice(None), *case.index)] == want).all(), (name, bound)
            else:
                assert got[case.index] == want, (name, bound)
            # Extreme, so nothing in the stage goes past it.
            assert r.lo <= got.min() and got.max() <= r.hi


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("wd,wg", [(2, 2), (3, 8), (8, 8), (16, 12)])
@pytest.mark.parametrize("c", CHANNELS)
def test_random_tiles_stay_within_bounds(dim, wd, wg, c):
    seed = SEED + 7 * wd + 3 * wg + c + dim
    rng = np.random.default_rng(seed)
    d, g = tiles(rng, dim, wd, wg, c, 200)
    st = STAGES[dim](d, g)
    for name, r in stage_ranges(dim, data_width=wd, weight_width=wg, channels=c).items():
        v = st[name]
        lo, hi = np.array(r.element_lo), np.array(r.element_hi)
        assert v.shape[-lo.ndim:] == lo.shape == r.shape
        assert (v >= lo).all() and (v <= hi).all(), f"{name}, seed {seed}"
        assert signed_width(v.min(), v.max()) <= r.width


@pytest.mark.parametrize("wd,wg", [(2, 2), (2, 3), (3, 2)])
def test_1d_ranges_are_exact_by_exhaustion(wd, wg):
    """Every 1-D tile and filter of small widths: the extremes of each element are the ranges."""
    (dl, dh), (gl, gh) = box(wd), box(wg)
    dd = np.array(list(itertools.product(range(dl, dh + 1), repeat=4)))
    gg = np.array(list(itertools.product(range(gl, gh + 1), repeat=3)))
    d = np.repeat(dd, len(gg), axis=0)[:, None]
    g = np.tile(gg, (len(dd), 1))[:, None]
    st = winograd_stages_1d(d, g)
    for name, r in stage_ranges(1, data_width=wd, weight_width=wg).items():
        v = st[name].reshape(len(d), -1)
        assert v.min(axis=0).tolist() == list(r.element_lo), name
        assert v.max(axis=0).tolist() == list(r.element_hi), name


def test_width_rules_for_every_width():
    """What the matrices give, for every data and weight width (see the module docstring)."""
    for wd, wg in itertools.product(range(2, 17), repeat=2):
        for dim in (1, 2):
            w = {n: r.width for n, r in
                 stage_ranges(dim, data_width=wd, weight_width=wg).items()}
            assert w["input_transform"] == wd + dim
            assert w["filter_transform"] == wg + 2 * dim
            assert w["product"] == wd + wg + (2 if dim == 1 else 5)
            if dim == 2:
                assert w["input_transform_pass1"] == wd + 1
                assert w["filter_transform_pass1"] == wg + 2
        for c in (1, 2, 3, 7, 16, 1024):
            r1 = stage_ranges(1, data_width=wd, weight_width=wg, channels=c)
            r2 = stage_ranges(2, data_width=wd, weight_width=wg, channels=c)
            (dl, dh), (gl, gh) = box(wd), box(wg)
            pmin, pmax = min(dl * gh, dh * gl), dl * gl
            for r, taps, dim in ((r1, 3, 1), (r2, 9, 2)):
                # The output is the direct correlation's exact range.
                assert (r["output"].lo, r["output"].hi) == (taps * c * pmin, taps * c * pmax)
                assert (r["output_transform"].lo, r["output_transform"].hi) == (
                    taps * c * pmin << dim, taps * c * pmax << dim)
                # Channel sums: C times the product; the output transform adds nothing.
                assert (r["channel_sum"].lo, r["channel_sum"].hi) == (
                    c * r["product"].lo, c * r["product"].hi)
                for name in ("output_transform", "output_transform_pass1"):
                    if name in r:
                        assert r["channel_sum"].lo <= r[name].lo, name
                        assert r[name].hi <= r["channel_sum"].hi, name
                assert r["channel_sum"].width <= r["product"].width + (c - 1).bit_length()


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("c", CHANNELS)
def test_interval_arithmetic_bounds_the_exact_ranges(dim, c):
    exact = stage_ranges(dim, data_width=8, weight_width=8, channels=c)
    naive = stage_ranges(dim, data_width=8, weight_width=8, channels=c, exact=False)
    for name in exact:
        e, n = exact[name], naive[name]
        assert (np.array(n.element_lo) <= np.array(e.element_lo)).all(), name
        assert (np.array(n.element_hi) >= np.array(e.element_hi)).all(), name
        if name.startswith(("input", "filter", "product", "channel")):
            assert (n.element_lo, n.element_hi) == (e.element_lo, e.element_hi), name
    assert naive["output_transform"].width > exact["output_transform"].width


# The table in lowbit.golden.winograd_ranges's docstring (8-bit data and weights).
TABLE_8BIT = {
    (1, 1): {"input_transform": 9, "filter_transform": 10, "product": 18, "channel_sum": 18,
             "output_transform": 18, "output": 17},
    (1, 3): {"channel_sum": 20, "output_transform": 20, "output": 19},
    (1, 16): {"channel_sum": 22, "output_transform": 22, "output": 21},
    (2, 1): {"input_transform_pass1": 9, "input_transform": 10, "filter_transform_pass1": 10,
             "filter_transform": 12, "product": 21, "channel_sum": 21,
             "output_transform_pass1": 21, "output_transform": 21, "output": 19},
    (2, 3): {"channel_sum": 22, "output_transform_pass1": 22, "output_transform": 22,
             "output": 20},
    (2, 16): {"channel_sum": 25, "output_transform_pass1": 25, "output_transform": 25,
              "output": 23},
}
NAIVE_OUTPUT_TRANSFORM_8BIT = {(1, 1): 19, (1, 3): 21, (1, 16): 23,
                               (2, 1): 23, (2, 3): 25, (2, 16): 27}


@pytest.mark.parametrize("key", sorted(TABLE_8BIT))
def test_documented_8bit_widths(key):
    dim, c = key
    params = (Winograd1DParams if dim == 1 else Winograd2DParams)(channels=c)
    widths = params.stage_widths
    for name, want in TABLE_8BIT[key].items():
        assert widths[name] == want, name
    naive = stage_ranges(dim, data_width=8, weight_width=8, channels=c, exact=False)
    assert naive["output_transform"].width == NAIVE_OUTPUT_TRANSFORM_8BIT[key]


def test_signed_width():
    assert [signed_width(lo, hi) for lo, hi in
            [(0, 0), (-1, 0), (0, 1), (-2, 1), (-2, 2), (-128, 127), (-129, 0), (0, 128),
             (-(1 << 70), (1 << 70) - 1)]] == [1, 1, 2, 2, 3, 8, 9, 9, 71]


def test_direct_engine_widths_match_winograd_output():
    for wd, wg, c in [(2, 2, 1), (8, 8, 3), (8, 4, 16), (16, 16, 1024), (5, 13, 7)]:
        direct = Direct3x3Params(data_width=wd, weight_width=wg, channels=c)
        wino = Winograd2DParams(data_width=wd, weight_width=wg, channels=c)
        assert direct.output_width == wino.output_width
        assert direct.product_width == wd + wg
        s = direct_stage_ranges(data_width=wd, weight_width=wg, channels=c)["sum"]
        assert (s.lo, s.hi) == (wino.stages["output"].lo, wino.stages["output"].hi)
        assert (direct.multiplies, wino.multiplies) == (36 * c, 16 * c)


# --- whole-image correlation ------------------------------------------------------------------

IMAGES = [(1, 1), (1, 5), (2, 2), (2, 7), (3, 3), (3, 4), (4, 7), (5, 5), (6, 9), (8, 8),
          (11, 6)]


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("h,w,padding", [(h, w, p) for h, w in IMAGES for p in ("valid", "same")
                                         if p == "same" or min(h, w) >= 3])
def test_correlate2d_against_loops(h, w, padding, c):
    seed = SEED + 100 * h + 10 * w + c
    rng = np.random.default_rng(seed)
    image = rng.integers(-128, 128, size=(c, h, w))
    filt = rng.integers(-128, 128, size=(c, 3, 3))
    want = loop_image(image, filt, padding)
    got = correlate2d(image, filt, padding)
    assert got.shape == output_shape(h, w, padding)
    np.testing.assert_array_equal(got, want, err_msg=f"seed {seed}")
    np.testing.assert_array_equal(winograd_correlate2d(image, filt, padding), want,
                                  err_msg=f"seed {seed}")


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_correlate2d_against_scipy(padding):
    if importlib.util.find_spec("scipy") is None:
        pytest.skip("scipy not installed")
    from scipy.signal import correlate2d as scipy_correlate2d

    rng = np.random.default_rng(SEED)
    for h, w in [(3, 3), (4, 4), (5, 8), (9, 7), (16, 16), (17, 30)]:
        for c in (1, 3, 16):
            image = rng.integers(-(1 << 15), 1 << 15, size=(c, h, w))
            filt = rng.integers(-(1 << 15), 1 << 15, size=(c, 3, 3))
            want = sum(scipy_correlate2d(image[k], filt[k], mode=padding) for k in range(c))
            np.testing.assert_array_equal(correlate2d(image, filt, padding), want)
            np.testing.assert_array_equal(winograd_correlate2d(image, filt, padding), want)


def test_correlate2d_extremes_and_tiles_agree():
    """Extreme images through the whole-image path equal the tile engine on each tile."""
    rng = np.random.default_rng(SEED)
    image = rng.choice([-(1 << 15), (1 << 15) - 1], size=(16, 6, 8))
    filt = rng.choice([-(1 << 15), (1 << 15) - 1], size=(16, 3, 3))
    out = winograd_correlate2d(image, filt, "valid")
    np.testing.assert_array_equal(out, correlate2d(image, filt, "valid"))
    for ty, tx in itertools.product(range(2), range(3)):
        tile = image[:, 2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4]
        np.testing.assert_array_equal(out[2 * ty:2 * ty + 2, 2 * tx:2 * tx + 2],
                                      winograd_2d_channels(tile, filt))


# --- parameter objects --------------------------------------------------------------------------

ENGINES = [Winograd1DParams, Winograd2DParams, Direct3x3Params, Conv2dParams]


@pytest.mark.parametrize("cls", ENGINES)
@pytest.mark.parametrize("kwargs,message", [
    ({"data_width": 1}, "data_width must be between 2 and 16, not 1"),
    ({"data_width": 17}, "data_width must be between 2 and 16, not 17"),
    ({"weight_width": 1}, "weight_width must be between 2 and 16, not 1"),
    ({"weight_width": 40}, "weight_width must be between 2 and 16, not 40"),
    ({"channels": 0}, "channels must be between 1 and 1024, not 0"),
    ({"channels": 1025}, "channels must be between 1 and 1024, not 1025"),
    ({"pipeline": -1}, "pipeline must be between 0 and 6, not -1"),
    ({"pipeline": 7}, "pipeline must be between 0 and 6, not 7"),
])
def test_param_rules(cls, kwargs, message):
    with pytest.raises(ValueError) as exc:
        cls(**kwargs)
    assert str(exc.value) == message


@pytest.mark.parametrize("cls", ENGINES)
@pytest.mark.parametrize("kwargs,message", [
    ({"data_width": 8.0}, "data_width must be an integer, not 8.0"),
    ({"weight_width": "8"}, "weight_width must be an integer, not '8'"),
    ({"channels": True}, "channels must be an integer, not True"),
    ({"pipeline": None}, "pipeline must be an integer, not None"),
])
def test_param_types(cls, kwargs, message):
    with pytest.raises(TypeError) as exc:
        cls(**kwargs)
    assert str(exc.value) == message


@pytest.mark.parametrize("cls", [Winograd1DParams, Winograd2DParams, Conv2dParams])
def test_filter_transform_rule(cls):
    with pytest.raises(ValueError) as exc:
        cls(filter_transform="fpga")
    assert str(exc.value) == "filter_transform must be one of 'offline', 'onchip', not 'fpga'"
    assert cls(filter_transform="onchip").filter_transform == "onchip"


@pytest.mark.parametrize("kwargs,message", [
    ({"height": 0}, "height must be between 1 and 4096, not 0"),
    ({"width": 4097}, "width must be between 1 and 4096, not 4097"),
    ({"height": 2.5}, "height must be an integer, not 2.5"),
    ({"padding": "full"}, "padding must be one of 'valid', 'same', not 'full'"),
    ({"padding": "valid", "height": 2},
     "height must be >= 3 (the filter size) with padding='valid', not 2"),
    ({"padding": "valid", "height": 5, "width": 1},
     "width must be >= 3 (the filter size) with padding='valid', not 1"),
])
def test_conv2d_param_rules(kwargs, message):
    with pytest.raises((ValueError, TypeError)) as exc:
        Conv2dParams(**kwargs)
    assert str(exc.value) == message


def test_small_images_are_fine_with_same_padding():
    p = Conv2dParams(height=1, width=2, padding="same")
    assert p.output_shape == (1, 2) and p.tiles == (1, 1)
    image = np.array([[[3, -4]]])
    filt = np.arange(9).reshape(1, 3, 3) - 4
    assert p.compute(image, filt).tolist() == [[3 * 0 + -4 * 1, 3 * -1 + -4 * 0]]


def test_params_are_frozen_and_replace_validates():
    p = Winograd2DParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.channels = 3
    assert dataclasses.replace(p, channels=3).channels == 3
    with pytest.raises(ValueError, match="channels must be between 1 and 1024, not 0"):
        dataclasses.replace(p, channels=0)
    for cls in ENGINES:
        for f in dataclasses.fields(cls):
            assert f.metadata["help"], (cls.__name__, f.name)
    assert not hasattr(Direct3x3Params(), "filter_transform")


@pytest.mark.parametrize("cls,dshape,gshape", [
    (Winograd1DParams, (3, 4), (3, 3)),
    (Winograd2DParams, (3, 4, 4), (3, 3, 3)),
    (Direct3x3Params, (3, 4, 4), (3, 3, 3)),
])
def test_params_compute_and_checks(cls, dshape, gshape):
    p = cls(data_width=6, weight_width=5, channels=3)
    rng = np.random.default_rng(SEED)
    d = rng.integers(-32, 32, size=dshape)
    g = rng.integers(-16, 16, size=gshape)
    dim = len(dshape) - 1
    np.testing.assert_array_equal(p.compute(d, g), DIRECT[dim](d, g))
    assert p.compute(d, g).shape == p.output_shape
    with pytest.raises(ValueError) as exc:
        p.compute(d, g[:2])
    assert str(exc.value) == f"filter must have shape {gshape}, not {(2, *gshape[1:])}"
    with pytest.raises(ValueError) as exc:
        p.compute(d[0], g)
    assert str(exc.value) == f"data must have shape {dshape}, not {dshape[1:]}"
    bad = g.copy()
    bad.flat[4] = 16
    with pytest.raises(ValueError) as exc:
        p.check_filter(bad)
    assert str(exc.value) == "filter values must lie in [-16, 15] (weight_width = 5), not 16"
    bad = d.copy()
    bad.flat[2] = -33
    with pytest.raises(ValueError) as exc:
        p.check_data(bad)
    assert str(exc.value) == "data values must lie in [-32, 31] (data_width = 6), not -33"
    with pytest.raises(TypeError) as exc:
        p.check_filter(g + 0.5)
    assert str(exc.value) == "filter must hold integers, not dtype float64"


def test_winograd_params_filter_transform_and_widths():
    rng = np.random.default_rng(SEED)
    g = rng.integers(-128, 128, size=(2, 3, 3))
    offline = Winograd2DParams(channels=2)
    onchip = dataclasses.replace(offline, filter_transform="onchip")
    np.testing.assert_array_equal(offline.transform_filter(g), 4 * (G @ g @ G.T))
    assert (offline.filter_word_width, onchip.filter_word_width) == (12, 8)
    assert offline.input_transform_width == 10
    assert offline.filter_transform_width == 12
    assert offline.product_width == 21
    assert offline.channel_sum_width == 22
    assert offline.output_transform_width == 22
    assert offline.output_width == 20
    assert offline.multiplies == 32
    p1 = Winograd1DParams(channels=2)
    np.testing.assert_array_equal(p1.transform_filter(g[:, 0]), 2 * (g[:, 0] @ G.T))
    assert (p1.filter_word_width, p1.multiplies) == (10, 8)
    cases = p1.worst_case_patterns()
    assert cases["output"]["max"].value == 2 * 3 * 128 * 128


def test_conv2d_params():
    p = Conv2dParams(channels=3, height=7, width=10, padding="valid", data_width=4)
    assert p.output_shape == (5, 8) and p.tiles == (3, 4)
    assert p.winograd == Winograd2DParams(channels=3, data_width=4)
    assert p.output_width == p.winograd.output_width
    rng = np.random.default_rng(SEED)
    image = rng.integers(-8, 8, size=(3, 7, 10))
    filt = rng.integers(-128, 128, size=(3, 3, 3))
    np.testing.assert_array_equal(p.compute(image, filt), correlate2d(image, filt, "valid"))
    with pytest.raises(ValueError) as exc:
        p.compute(image[:, :6], filt)
    assert str(exc.value) == "image must have shape (3, 7, 10), not (3, 6, 10)"
    with pytest.raises(ValueError) as exc:
        p.compute(image * 2, filt)
    assert str(exc.value).startswith("image values must lie in [-8, 7] (data_width = 4), not ")


def test_check_filter_shape():
    assert check_filter_shape([[1, 2, 3]], (1, 3)).dtype == np.int64
    with pytest.raises(ValueError) as exc:
        check_filter_shape(np.zeros((3, 3), dtype=int), (1, 3, 3))
    assert str(exc.value) == "filter must have shape (1, 3, 3), not (3, 3)"
    with pytest.raises(ValueError) as exc:
        check_filter_shape(np.zeros((2, 3, 4), dtype=int), (2, 3, 3), name="g")
    assert str(exc.value) == "g must have shape (2, 3, 3), not (2, 3, 4)"
    with pytest.raises(TypeError) as exc:
        check_filter_shape(np.zeros((1, 3)), (1, 3))
    assert str(exc.value) == "filter must hold integers, not dtype float64"
    with pytest.raises(TypeError) as exc:
        check_filter_shape(np.array([[1, 2.5, 3]], dtype=object), (1, 3))
    assert str(exc.value) == "filter must hold integers, not 2.5"


def test_function_input_errors():
    img = np.zeros((2, 5, 5), dtype=int)
    with pytest.raises(ValueError) as exc:
        correlate2d(img[:, :2], np.zeros((2, 3, 3), dtype=int))
    assert str(exc.value) == "image of 2x5 is smaller than the 3x3 filter (padding='valid')"
    with pytest.raises(ValueError) as exc:
        winograd_correlate2d(img, np.zeros((1, 3, 3), dtype=int))
    assert str(exc.value) == "filter must have shape (2, 3, 3), not (1, 3, 3)"
    with pytest.raises(ValueError) as exc:
        correlate2d(img[0], np.zeros((3, 3), dtype=int))
    assert str(exc.value) == "image must have shape (C, H, W), not (5, 5)"
    with pytest.raises(ValueError) as exc:
        correlate2d(img, np.zeros((2, 3, 3), dtype=int), padding="full")
    assert str(exc.value) == "padding must be one of 'valid', 'same', not 'full'"
    with pytest.raises(ValueError) as exc:
        winograd_2d(np.zeros((4, 3), dtype=int), np.zeros((3, 3), dtype=int))
    assert str(exc.value) == "d must have shape (..., 4, 4), not (4, 3)"
    with pytest.raises(ValueError) as exc:
        winograd_1d(np.zeros(4, dtype=int), np.zeros(4, dtype=int))
    assert str(exc.value) == "g must have shape (..., 3), not (4,)"
    with pytest.raises(ValueError) as exc:
        winograd_2d_channels(np.zeros((3, 4, 4), dtype=int), np.zeros((2, 3, 3), dtype=int))
    assert str(exc.value) == ("d and g must have the same channel axis (..., C, ...), "
                              "not (3, 4, 4) and (2, 3, 3)")
    with pytest.raises(TypeError) as exc:
        direct_1d(np.zeros(4), np.zeros(3, dtype=int))
    assert str(exc.value) == "d must hold integers, not dtype float64"


@pytest.mark.parametrize("kwargs,message", [
    ({"dim": 3}, "dim must be 1 or 2, not 3"),
    ({"data_width": 1}, "data_width must be between 2 and 16, not 1"),
    ({"weight_width": 17}, "weight_width must be between 2 and 16, not 17"),
    ({"channels": 0}, "channels must be between 1 and 1024, not 0"),
])
def test_stage_range_arguments(kwargs, message):
    args = {"dim": 2, "data_width": 8, "weight_width": 8, "channels": 1} | kwargs
    dim = args.pop("dim")
    for fn in (stage_ranges, worst_case_patterns):
        with pytest.raises(ValueError) as exc:
            fn(dim, **args)
        assert str(exc.value) == message


def test_conv2d_job_refuses_filters_and_biases_of_another_layer():
    """What the host driver's conv2d passes on: filters of another K or C, a bias list of
    the wrong length or out of range, each one message naming the shape or channel."""
    p = Conv2dParams(channels=2, height=4, width=4, filters=3, parallel=1, out_width=8,
                     bias=True)
    images = np.zeros((1, 2, 4, 4), dtype=np.int64)
    good = np.zeros((3, 2, 3, 3), dtype=np.int64)
    cases = [(np.zeros((2, 2, 3, 3), dtype=np.int64), 0,
              "filter must have shape (3, 2, 3, 3), not (2, 2, 3, 3)"),
             (np.zeros((2, 3, 3), dtype=np.int64), 0,
              "filter must have shape (3, 2, 3, 3), not (2, 3, 3)"),
             (good, [1, 2], "bias must be one integer or 3 (one per filter), not shape (2,)"),
             (good, [0, 1 << 20, 0], "bias[1] must be between")]
    for filt, bias, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            conv2d_job(p, images, filt, bias)
    job = conv2d_job(p, images, good, [1, -2, 3])
    assert [w["b_data"] for w in job.loads if "b_data" in w] == [1, (1 << p.output_width) - 2, 3]
    assert sorted((w["f_lane"], w["f_addr"]) for w in job.loads if "f_addr" in w) == \
        [(0, a) for a in range(6)]
