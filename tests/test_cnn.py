"""The digits CNN (lowbit.golden.cnn, ``lowbit experiment cnn``): the im2col convolution the
training uses against direct correlation, the quantized network's integers, and the test
images through the generated layers."""

import json

import numpy as np
import pytest
from lowbit.golden.bnn import N_TRAIN
from lowbit.golden.cnn import CNNConfig, QuantCNN, im2col, train_cnn
from lowbit.golden.images import digits
from lowbit.golden.winograd import correlate2d

SEED = 14


def test_im2col_is_same_padded_correlation():
    """A convolution through im2col (what training uses) equals direct correlation."""
    rng = np.random.default_rng(SEED)
    x = rng.integers(-50, 50, size=(3, 4, 8, 8))
    w = rng.integers(-9, 9, size=(5, 4, 3, 3))
    got = (im2col(x) @ w.reshape(5, -1).T).transpose(0, 2, 1).reshape(3, 5, 8, 8)
    want = np.array([[correlate2d(im, f, "same") for f in w] for im in x])
    np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def quick_net():
    from sklearn.datasets import load_digits

    return train_cnn(CNNConfig(epochs=2), digits(), load_digits().target, N_TRAIN)


def test_quantized_network_in_range(quick_net):
    """The integers the hardware sees: weights in w_bits, biases in the accumulator's range,
    activations in 0 .. 2^(a_bits-1) - 1 after each layer, and the shifts chosen so that the
    largest activation is not far below the top (the power-of-two shift loses at most a
    factor 2 on the calibration images; 4 allowed here, images of the training set)."""
    net, history = quick_net
    cfg = net.cfg
    assert len(history) == 2 and 0 < net.float_accuracy <= 1
    images = digits()[:200]
    acts = images
    for layer in range(2):
        w = net.conv_weights[layer]
        assert np.abs(w).max() == (1 << (cfg.w_bits - 1)) - 1
        params = net.conv_params(layer)
        params.check_bias(net.conv_biases[layer].tolist())   # raises when out of range
        acts = net.conv(layer, acts)
        assert acts.min() == 0 and acts.max() <= (1 << (cfg.a_bits - 1)) - 1
        assert acts.max() >= (1 << (cfg.a_bits - 3))
    assert np.abs(net.dense_weights).max() == (1 << (cfg.w_bits - 1)) - 1
    logits = net.forward(images)
    assert logits.shape == (200, 10) and logits.dtype == np.int64


def test_bad_config():
    with pytest.raises(ValueError, match="filters must be two counts"):
        CNNConfig(filters=(8,))
    with pytest.raises(ValueError, match="w_bits must be between 2 and 8, not 9"):
        CNNConfig(w_bits=9)
    assert QuantCNN.__doc__


@pytest.mark.sim
def test_experiment_cnn(tmp_path):
    """``lowbit experiment cnn --quick``: every layer through the RTL (both conv engines)
    equals golden on the RTL's own input, the logits equal golden's, the conv layers take the
    cycles the layer's model says, and the report has the table."""
    from lowbit.gen.cli import main

    out = tmp_path / "cnn"
    assert main(["experiment", "cnn", "--quick", "-o", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["rtl_equals_golden"] and r["images"] == 20
    conv = [e for lay in r["layers"][:2] for e in lay["engines"].values()]
    assert len(conv) == 4 and all(e["mismatches"] == 0 for e in conv)
    assert all(e["cycles_per_frame"] == e["cycles_per_frame_model"] for e in conv)
    assert r["layers"][2]["mismatches"] == 0 and r["layers"][2]["cycles"] > 0
    assert 0 <= r["accuracy"]["rtl"] <= 1
    assert "| conv1 (8 -> 8) | winograd |" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--images", "398"], "--images must be between 1 and 397, not 398"),
    (["--fl", "8"], "--fl is for the gupta experiment, not cnn"),
    (["--seeds", "2"], "--seeds is for the gupta experiment, not cnn"),
    (["--epochs", "0"], "--epochs must be between 1 and 500, not 0"),
])
def test_experiment_cnn_bad_input(usage_error, tmp_path, argv, message):
    usage_error(["experiment", "cnn", *argv, "-o", str(tmp_path / "c")], message)
    assert list(tmp_path.iterdir()) == []
