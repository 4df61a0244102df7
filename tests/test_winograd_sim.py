"""Winograd F(2x2,3x3) and direct 3x3 tile engines under cocotb, bit-exact against direct
correlation (golden), with the worst-case sign patterns of every stage and seeded random tiles.

The tile engines only; the streaming conv layer built from them (``hw/conv2d.py``) is tested in
``tests/test_conv2d_sim.py``.
"""

import numpy as np
import pytest
from lowbit.golden.winograd import (
    Direct3x3Params,
    Winograd1DParams,
    Winograd2DParams,
    direct_1d_channels,
    direct_2d_channels,
)
from lowbit.hw.build import generated
from lowbit.sim.score import observed_latency
from lowbit.sim.winograd import run_tiles

pytestmark = [pytest.mark.sim, pytest.mark.winograd]

# (data_width, weight_width, channels, pipeline, filter_transform)
WINOGRAD = [(8, 8, 1, 1, "offline"), (2, 2, 1, 0, "offline"), (4, 3, 3, 2, "onchip"),
            (12, 6, 3, 3, "offline"), (16, 16, 16, 3, "onchip"), (8, 8, 16, 2, "offline")]
DIRECT = [(8, 8, 1, 1), (16, 16, 3, 3), (2, 5, 16, 0)]


def _vectors(params, rng, n):
    lo, hi = -(1 << (params.data_width - 1)), 1 << (params.data_width - 1)
    wl, wh = -(1 << (params.weight_width - 1)), 1 << (params.weight_width - 1)
    c = params.channels
    ts, fs = (c, *params.tile_shape), (c, *params.filter_shape)
    tiles = [rng.integers(lo, hi, size=(n, *ts))]
    filters = [rng.integers(wl, wh, size=(n, *fs))]
    # Every input at its most negative / most positive value.
    for dv, gv in ((lo, wl), (hi - 1, wh - 1), (lo, wh - 1), (hi - 1, wl)):
        tiles.append(np.full((1, *ts), dv))
        filters.append(np.full((1, *fs), gv))
    return np.concatenate(tiles), np.concatenate(filters)


def _check(unit, params, sim, seed):
    rng = np.random.default_rng(seed)
    tiles, filters = _vectors(params, rng, 200)
    if unit.startswith("winograd"):  # the sign patterns that reach each stage's bound
        extra = [(w.data, w.filt) for bounds in params.worst_case_patterns().values()
                 for w in bounds.values()]
        tiles = np.concatenate([tiles, np.array([e[0] for e in extra])])
        filters = np.concatenate([filters, np.array([e[1] for e in extra])])
    gen_dir, man = generated(unit, params)
    got, resp = run_tiles(gen_dir, man, params, tiles, filters, sim=sim, seed=seed)
    reference = direct_1d_channels if params.dim == 1 else direct_2d_channels
    want = np.array([reference(t, f) for t, f in zip(tiles, filters)])
    assert got.shape == want.shape, f"seed={seed}: {len(got)} of {len(want)} tiles"
    bad = np.flatnonzero((got != want).reshape(len(want), -1).any(axis=1))
    assert not len(bad), f"seed={seed}: {len(bad)} tiles differ, first {bad[:5]}"
    lasts = [k * params.channels + params.channels - 1 for k in range(len(tiles))]
    assert observed_latency(resp, lasts) == {man["latency"]}
    assert resp["first_stall"] is not None


@pytest.mark.parametrize("cfg", WINOGRAD, ids=["-".join(map(str, c)) for c in WINOGRAD])
def test_winograd2d_equals_direct_correlation(cfg, sim):
    wd, wg, c, pipe, ft = cfg
    params = Winograd2DParams(data_width=wd, weight_width=wg, channels=c, pipeline=pipe,
                              filter_transform=ft)
    _check("winograd2d", params, sim, seed=500 + wd * 17 + c)


@pytest.mark.parametrize("cfg", DIRECT, ids=["-".join(map(str, c)) for c in DIRECT])
def test_direct3x3_equals_direct_correlation(cfg, sim):
    wd, wg, c, pipe = cfg
    params = Direct3x3Params(data_width=wd, weight_width=wg, channels=c, pipeline=pipe)
    _check("direct3x3", params, sim, seed=600 + wd * 17 + c)


WINOGRAD1D = [(8, 8, 1, 1, "offline"), (2, 3, 3, 0, "onchip"), (16, 12, 16, 3, "offline")]


@pytest.mark.parametrize("cfg", WINOGRAD1D, ids=["-".join(map(str, c)) for c in WINOGRAD1D])
def test_winograd1d_equals_direct_correlation(cfg, sim):
    wd, wg, c, pipe, ft = cfg
    params = Winograd1DParams(data_width=wd, weight_width=wg, channels=c, pipeline=pipe,
                              filter_transform=ft)
    _check("winograd1d", params, sim, seed=700 + wd * 17 + c)
