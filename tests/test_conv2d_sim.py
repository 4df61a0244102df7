"""The streaming Conv2dLayer under cocotb, pixel for pixel against numpy direct correlation:
a sweep of widths, channels, paddings and odd sizes with random and extreme images, every
scikit-learn digit, and a crop of a real RGB photograph, with edge, blur and random filters."""

import numpy as np
import pytest
from lowbit.golden.images import digits, named_filter, photo, to_signed8
from lowbit.golden.winograd import Conv2dParams, correlate_filters
from lowbit.hw.units import get_unit
from lowbit.sim.runner import run_job, run_unit

from .sweeps import CONV2D_FILTERS_SWEEP, CONV2D_SWEEP, conv2d_params

pytestmark = [pytest.mark.sim, pytest.mark.winograd]



def _images(params, rng, n):
    lo, hi = -(1 << (params.data_width - 1)), (1 << (params.data_width - 1)) - 1
    shape = (params.channels, params.height, params.width)
    imgs = [rng.integers(lo, hi + 1, size=(n, *shape)),
            np.full((1, *shape), lo), np.full((1, *shape), hi),
            # a checkerboard of extremes: every tile sees both signs
            np.where(np.indices(shape).sum(axis=0) % 2, lo, hi)[None]]
    return np.concatenate(imgs)


def _golden(params, images, filt):
    """Direct correlation of each image with each filter: (N, K, Ho, Wo)."""
    return correlate_filters(images, params.check_filters(filt), params.padding)


def _check(params, images, filt, sim, seed, idle=0.1, backpressure=0.1, design=None):
    """The layer (or ``design``, a ``(directory, manifest)`` such as a netlist) against direct
    correlation, filter by filter."""
    job = get_unit("conv2d").job(params, images, filt)
    if design is None:
        got, _, resp, man = run_unit("conv2d", params, job, sim=sim, seed=seed, idle=idle,
                                     backpressure=backpressure)
    else:
        got, _, resp = run_job(*design, job, sim=sim, seed=seed, idle=idle,
                               backpressure=backpressure)
        man = design[1]
    assert got is not None, (f"seed={seed}: {len(resp['out'])} pixels out, "
                             f"timed out: {resp['timed_out']} (or 'last' misplaced)")
    want = _golden(params, images, filt)
    bad = np.argwhere(got != want)
    assert not len(bad), f"seed={seed}: {len(bad)} values differ, first (n, k, y, x) {bad[:5]}"
    return resp, man


@pytest.mark.parametrize("cfg", CONV2D_SWEEP, ids=["-".join(map(str, c)) for c in CONV2D_SWEEP])
def test_conv2d_equals_direct_correlation(cfg, sim, seed):
    params = conv2d_params(cfg)
    wg, c = params.weight_width, params.channels
    rng = np.random.default_rng(seed)
    wl, wh = -(1 << (wg - 1)), (1 << (wg - 1)) - 1
    for k, filt in enumerate([rng.integers(wl, wh + 1, size=(c, 3, 3)),
                              np.full((c, 3, 3), wl)]):
        _check(params, _images(params, rng, 3), filt, sim, seed + k)


@pytest.mark.parametrize("cfg", CONV2D_FILTERS_SWEEP,
                         ids=["-".join(map(str, (*c, k, p))) for c, k, p in CONV2D_FILTERS_SWEEP])
def test_conv2d_filters_equal_direct_correlation(cfg, sim, seed):
    """K filters, ``parallel`` at a time (the rest folded): every output channel against
    direct correlation with its filter, random filters (a mixed-up lane or fold shows) and
    extreme ones (alternately all largest and all smallest), random and extreme images."""
    base, k, lanes = cfg
    params = conv2d_params(base, filters=k, parallel=lanes)
    wg, c = params.weight_width, params.channels
    rng = np.random.default_rng(seed)
    wl, wh = -(1 << (wg - 1)), (1 << (wg - 1)) - 1
    extremes = np.where(np.arange(k)[:, None, None, None] % 2, wl, wh) * np.ones((k, c, 3, 3),
                                                                                   int)
    for n, filt in enumerate([rng.integers(wl, wh + 1, size=(k, c, 3, 3)), extremes]):
        _check(params, _images(params, rng, 2), filt, sim, seed + n)


# (lanes, channels, output transforms): each transform takes at most C lanes in turn.
OUTPUT_LANES = [(4, 16, 1), (8, 3, 4), (3, 2, 3), (2, 2, 1), (8, 1, 8), (6, 4, 2), (1, 1, 1)]


@pytest.mark.parametrize("lanes,channels,transforms", OUTPUT_LANES)
def test_winograd_output_transforms(lanes, channels, transforms):
    """The fewest output transforms that leave each at most C lanes, and the output beats a
    tile the layer's back end then takes (the direct engine: every lane in one beat)."""
    from lowbit.hw.conv2d import Conv2dLayer
    from lowbit.hw.ports import discard
    from lowbit.hw.winograd import output_lanes

    assert output_lanes(lanes, channels) == transforms
    for engine, per_beat in (("winograd", transforms), ("direct", lanes)):
        layer = Conv2dLayer(Conv2dParams(channels=channels, filters=2 * lanes, parallel=lanes,
                                         engine=engine))
        discard(layer)  # built for its attributes only
        assert (layer.out_lanes, layer.out_beats) == (per_beat, 2 * lanes // per_beat)


# Each filter is a separate run of the same build (the filter memory is loaded first).
DIGIT_FILTERS = ["laplacian", "blur", "random"]


@pytest.mark.parametrize("name", DIGIT_FILTERS)
def test_conv2d_every_sklearn_digit(name, sim, seed):
    params = Conv2dParams(height=8, width=8, padding="same")  # CONV2D_SWEEP[0]: one build for both
    filt = (np.random.default_rng(seed).integers(-128, 128, size=(1, 3, 3)) if name == "random"
            else named_filter(name))
    images = digits()
    assert images.shape == (1797, 1, 8, 8)
    resp, _ = _check(params, images, filt, sim, seed, idle=0.02, backpressure=0.02)
    assert resp["first_stall"] is not None


PHOTO_FILTERS = ["sobel_x", "blur", "sharpen", "random"]


@pytest.mark.parametrize("name", PHOTO_FILTERS)
def test_conv2d_rgb_photo(name, sim, seed):
    """A 45x61 crop (odd both ways) of scikit-learn's china.jpg, RGB, as signed 8-bit."""
    image = to_signed8(photo(top=200, left=300, height=45, width=61))
    params = Conv2dParams(data_width=8, weight_width=8, channels=3, height=45, width=61,
                          padding="same", pipeline=2)
    filt = (np.random.default_rng(seed).integers(-128, 128, size=(3, 3, 3)) if name == "random"
            else named_filter(name, 3))
    _check(params, image[None], filt, sim, seed, idle=0.05, backpressure=0.05)


THROUGHPUT = {  # one build each, shared with the sweeps
    "one-filter": (Conv2dParams(height=2, width=13, channels=2, padding="same", pipeline=2,
                                filter_transform="onchip"), 6),  # CONV2D_SWEEP[7]
    "fold-2-one-channel": (conv2d_params(CONV2D_FILTERS_SWEEP[0][0], filters=2, parallel=1),
                           4),
    "output-bound": (Conv2dParams(height=6, width=6, channels=1, filters=4, parallel=2,
                                  pipeline=1), 4),
    # Nine tiles a row: the fold buffer's half a row is what keeps the engine up.
    "fold-4-wide": (Conv2dParams(height=4, width=17, channels=4, filters=4, parallel=1,
                                 pipeline=1), 4),
    "fold-2-input-bound": (conv2d_params(CONV2D_FILTERS_SWEEP[4][0], filters=16, parallel=8),
                           3),
    "fold-4": (conv2d_params(CONV2D_FILTERS_SWEEP[3][0], filters=16, parallel=4), 3),
    "fold-3-one-tile": (conv2d_params(CONV2D_FILTERS_SWEEP[2][0], filters=3, parallel=1), 5),
}


@pytest.mark.parametrize("name", THROUGHPUT)
def test_conv2d_throughput(name, sim, seed):
    """With the input always valid and the output always ready, a frame takes exactly
    ``cycles_per_frame`` cycles in steady state: one per value of the zero-padded image, or
    one per output value when the filters outnumber the channels; up to four folds keep up
    (the tile buffer holds what the engine has not reached by a tile row's end)."""
    params, frames = THROUGHPUT[name]
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (params.data_width - 1)), 1 << (params.data_width - 1)
    images = rng.integers(lo, hi, size=(frames, params.channels, params.height, params.width))
    wl, wh = -(1 << (params.weight_width - 1)), 1 << (params.weight_width - 1)
    filt = rng.integers(wl, wh, size=(params.filters, params.channels, 3, 3))
    resp, man = _check(params, images, filt, sim, seed, idle=0.0, backpressure=0.0)
    per_frame = man["widths"]["cycles_per_frame"]
    hp, wp = man["widths"]["virtual_height"], man["widths"]["virtual_width"]
    ho, wo = params.output_shape
    per = ho * wo * params.filters
    assert per_frame == max(hp * wp * params.channels, per)   # never the engine, F <= 4
    assert (per > hp * wp * params.channels) == (name == "output-bound")
    lasts = [resp["out_cycles"][k * per + per - 1] for k in range(len(images))]
    assert set(np.diff(lasts).tolist()) == {per_frame}


# rounding, out_width, shift, relu, bias, filters: every rounding mode, saturation (a narrow
# output), ReLU, a bias a channel, a shift of 0 and a shift wider than the LFSR's sample.
REQUANT = [("truncate", 8, 6, False, False, 1), ("nearest", 8, 6, True, True, 3),
           ("nearest_even", 4, 2, False, True, 1), ("stochastic", 8, 9, True, True, 2),
           ("stochastic", 6, 3, False, False, 1), ("nearest", 12, 0, True, False, 1)]


@pytest.mark.parametrize("cfg", REQUANT, ids=["-".join(map(str, c)) for c in REQUANT])
def test_conv2d_requantizes_its_output(cfg, sim, seed):
    """(acc + bias) >> shift, rounded, saturated to out_width, ReLU: against direct
    correlation then the golden requantizer (lowbit.golden.fixed.requantize), each output
    channel with its own bias, the LFSR's samples drawn an output value in stream order, with
    idle cycles and back-pressure."""
    rounding, out_width, shift, relu, bias, k = cfg
    params = Conv2dParams(data_width=8, weight_width=6, channels=2, height=7, width=9,
                          padding="same", pipeline=2, out_width=out_width, shift=shift,
                          rounding=rounding, relu=relu, bias=bias, r_bits=5, seed=seed % 999 + 1,
                          filters=k)
    rng = np.random.default_rng(seed)
    filt = rng.integers(-32, 32, size=(k, 2, 3, 3))
    images = _images(params, rng, 4)
    b = rng.integers(-300, 300, size=k).tolist() if bias else 0
    job = get_unit("conv2d").job(params, images, filt, b)
    got, _, resp, _ = run_unit("conv2d", params, job, sim=sim, seed=seed, idle=0.1,
                               backpressure=0.2)
    assert got is not None, f"{len(resp['out'])} pixels out"
    want = params.requantize(_golden(params, images, filt), b)
    bad = np.argwhere(got != want)
    assert not len(bad), f"seed={seed}: {len(bad)} pixels differ, first {bad[:5]}"
    lo = 0 if relu else -(1 << (out_width - 1))
    assert want.min() >= lo and want.max() <= (1 << (out_width - 1)) - 1
    if out_width == 4:  # saturation was exercised
        assert (want == 7).any() and (want == -8).any()
