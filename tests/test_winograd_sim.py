"""Winograd F(2x2,3x3) and direct 3x3 tile engines under cocotb, bit-exact against direct
correlation (golden), with the worst-case sign patterns of every stage and seeded random tiles.

The tile engines only; the streaming conv layer built from them (``hw/conv2d.py``) is tested in
``tests/test_conv2d_sim.py``.
"""

import numpy as np
import pytest
from lowbit.golden.winograd import (
    direct_1d_channels,
    direct_2d_channels,
)
from lowbit.hw.units import get_unit
from lowbit.sim.runner import run_job, run_unit
from lowbit.sim.score import score

pytestmark = [pytest.mark.sim, pytest.mark.winograd]

# (data_width, weight_width, channels, pipeline, filter_transform)
WINOGRAD = [(8, 8, 1, 1, "offline"), (2, 2, 1, 0, "offline"), (4, 3, 3, 2, "onchip"),
            (12, 6, 3, 3, "offline"), (16, 16, 16, 3, "onchip"), (8, 8, 16, 2, "offline"),
            (8, 8, 3, 4, "offline"), (5, 7, 2, 6, "onchip")]
DIRECT = [(8, 8, 1, 1), (16, 16, 3, 3), (2, 5, 16, 0), (8, 8, 3, 6)]  # 6: every stage


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


def _check(unit, params, sim, seed, design=None):
    """The engine (or ``design``, a ``(directory, manifest)`` such as a netlist) against
    direct correlation."""
    rng = np.random.default_rng(seed)
    tiles, filters = _vectors(params, rng, 200)
    if unit.startswith("winograd"):  # the sign patterns that reach each stage's bound
        extra = [(w.data, w.filt) for bounds in params.worst_case_patterns().values()
                 for w in bounds.values()]
        tiles = np.concatenate([tiles, np.array([e[0] for e in extra])])
        filters = np.concatenate([filters, np.array([e[1] for e in extra])])
    job = get_unit(unit).job(params, tiles, filters)
    if design is None:
        got, _, resp, man = run_unit(unit, params, job, sim=sim, seed=seed)
    else:
        got, _, resp = run_job(*design, job, sim=sim, seed=seed)
        man = design[1]
    reference = direct_1d_channels if params.dim == 1 else direct_2d_channels
    want = np.array([reference(t, f) for t, f in zip(tiles, filters)])
    # A tile's outputs as one result: (y0, y1, ...) tuples.
    board = score(job, [] if got is None else got.reshape(len(got), -1),
                  want.reshape(len(want), -1), resp, latency=man["latency"])
    assert board.ok, board.describe()
    assert board.latency_seen == {man["latency"]}
    assert resp["first_stall"] is not None


# Every engine configuration: (unit, data_width, weight_width, channels, pipeline[,
# filter_transform]); the unit's registry entry makes the parameter object.
WINOGRAD1D = [(8, 8, 1, 1, "offline"), (2, 3, 3, 0, "onchip"), (16, 12, 16, 4, "offline")]
ENGINES = ([("winograd2d", *c) for c in WINOGRAD] + [("direct3x3", *c) for c in DIRECT]
           + [("winograd1d", *c) for c in WINOGRAD1D])
_FIELDS = ("data_width", "weight_width", "channels", "pipeline", "filter_transform")


@pytest.mark.parametrize("cfg", ENGINES, ids=["-".join(map(str, c)) for c in ENGINES])
def test_engine_equals_direct_correlation(cfg, sim, seed):
    unit, *values = cfg
    _check(unit, get_unit(unit).params_cls(**dict(zip(_FIELDS, values))), sim, seed)
