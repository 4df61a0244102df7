"""The binary matrix-vector-threshold unit under cocotb: bit-exact against golden over PE,
SIMD and fold shapes, with back-pressure; then a binarized network on the digits, layer by
layer through the RTL."""

import numpy as np
import pytest
from lowbit.golden.binary import BMVUParams, bmvu_golden, xnor_dot
from lowbit.golden.bnn import load_digits_bits, trained_digits_bnn
from lowbit.hw.units import get_unit
from lowbit.sim.runner import run_job, run_unit

pytestmark = [pytest.mark.sim, pytest.mark.binary]

# rows, cols, pe, simd, thresholds, spacing
SHAPES = [
    (16, 64, 4, 16, 1, 2),   # the defaults
    (5, 37, 2, 5, 0, 1),     # H not a multiple of PE, W not a multiple of SIMD, raw dots
    (1, 1, 1, 1, 1, 0),      # the smallest
    (10, 100, 3, 7, 3, 2),   # multi-threshold (2-bit activations), odd folds
    (8, 256, 8, 32, 2, 3),   # one neuron fold
    (7, 9, 7, 9, 1, 1),      # one fold each way
    (33, 20, 4, 20, 0, 0),   # combinational popcount, 9 neuron folds
]


def _thresholds(rng, params, w, x):
    """Sorted thresholds, some set exactly at dot products that occur (the >= boundary)."""
    k, h = params.thresholds, params.rows
    t = rng.integers(-params.cols - 1, params.cols + 2, size=(h, k))
    dots = xnor_dot(x[:, None, :], w[None, :, :])
    hit = rng.random((h, k)) < 0.5
    t = np.where(hit, dots[rng.integers(0, len(x), size=(h, k)), np.arange(h)[:, None]], t)
    return np.sort(t, axis=1), rng.random(h) < 0.3


@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
def test_bmvu_bit_exact(shape, sim, seed):
    check_bmvu(shape, sim, seed)


def check_bmvu(shape, sim, seed, design=None):
    """The unit (or ``design``, a ``(directory, manifest)`` such as a netlist) against golden
    on directed and random vectors, with its throughput before back-pressure."""
    rows, cols, pe, simd, k, spacing = shape
    params = BMVUParams(rows=rows, cols=cols, pe=pe, simd=simd, thresholds=k, spacing=spacing)
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 2, size=(rows, cols), dtype=np.uint8)
    directed = np.array([np.ones(cols), np.zeros(cols), np.arange(cols) % 2,
                         np.eye(1, cols, cols // 2)[0], w[0]], dtype=np.uint8)
    x = np.concatenate([directed, rng.integers(0, 2, size=(120, cols), dtype=np.uint8)])
    t, inv = _thresholds(rng, params, w, x) if k else (None, None)
    # Columns past cols in each last chunk carry random bits: the unit must mask them.
    job = get_unit("bmvu").job(params, w, x, t, inv, pad_rng=np.random.default_rng(seed))
    if design is None:
        out, _, resp, _ = run_unit("bmvu", params, job, sim=sim, seed=seed)
    else:
        out, _, resp = run_job(*design, job, sim=sim, seed=seed)
    want = bmvu_golden(params, w, x, t, inv)
    assert out is not None, f"{len(resp['out'])} of {len(x) * params.nf} outputs"
    bad = np.argwhere(out != want)
    assert not len(bad), f"{len(bad)} mismatches, first (vector, row) {bad[:5]}"
    # Throughput: before any stall, one fold result every sf cycles, nf * sf cycles a vector.
    calm = [c for c in resp["out_cycles"] if resp["first_stall"] is None
            or c < resp["first_stall"]]
    assert len(calm) >= 3 and set(np.diff(calm)) == {params.sf}
    assert resp["first_stall"] is not None


def test_binarized_network_on_digits_layer_by_layer(sim):
    """64-256-10 BNN (trained in numpy on the scikit-learn digits) through the RTL."""
    bnn = trained_digits_bnn()
    data = load_digits_bits()
    x = data.x_test
    shapes = [dict(pe=16, simd=16), dict(pe=5, simd=32)]
    acts = x
    for layer, shape in zip(bnn.layers, shapes):
        params = BMVUParams(rows=layer.rows, cols=layer.cols, thresholds=int(layer.hidden),
                            spacing=2, **shape)
        t, inv = (layer.thresholds, layer.invert) if layer.hidden else (None, None)
        job = get_unit("bmvu").job(params, layer.weights, acts, t, inv,
                                   pad_rng=np.random.default_rng(1))
        out, _, _, _ = run_unit("bmvu", params, job, sim=sim, idle=0.05, backpressure=0.05)
        want = bmvu_golden(params, layer.weights, acts, t, inv)
        assert out is not None and np.array_equal(out, want), f"layer {layer.rows}x{layer.cols}"
        acts = out.astype(np.uint8) if layer.hidden else out
    predicted = np.argmax(acts, axis=1)
    accuracy = float(np.mean(predicted == data.y_test))
    print(f"BNN 64-256-10 on {len(x)} test digits through the RTL: accuracy {accuracy:.4f}")
    assert accuracy > 0.85
