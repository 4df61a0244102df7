"""TWN and DoReFa (lowbit.golden.quantnets, ``lowbit experiment quantnets``): the quantizers
on worked examples, the integer forward pass against the float one training uses, and the
networks' products through the generated bit-serial engine with resident weights."""

import json

import numpy as np
import pytest
from lowbit.gen.cli import main
from lowbit.golden.quantnets import (
    QuantNetConfig,
    dorefa_activation,
    dorefa_weights,
    train_quantnet,
    twn_ternarize,
)
from lowbit.golden.training import load_digits_real


def test_twn_threshold_and_scale():
    # E|W| = 1.65 / 5 = 0.33, delta = 0.231: 0.9 and -0.6 survive, alpha = 0.75.
    codes, alpha = twn_ternarize([0.9, -0.05, -0.6, 0.1, 0.0])
    assert codes.tolist() == [1, 0, -1, 0, 0] and alpha == pytest.approx(0.75)


def test_dorefa_quantizers():
    # 2-bit activations: clip to [0, 1], times 3, to the nearest integer.
    assert dorefa_activation([-0.2, 0.0, 0.33, 0.8, 1.2], 2).tolist() == [0, 0, 1, 2, 3]
    # 1-bit weights: sign, scale E|W|.
    codes, scale = dorefa_weights([0.5, -0.25, 0.0, -1.0], 1)
    assert codes.tolist() == [1, -1, 1, -1] and scale == pytest.approx(0.4375)
    # 2-bit weights: q = round((tanh(w) / (2 max |tanh|) + 1/2) 3), code 2q - 3, value code/3.
    w = np.array([1.0, -1.0, 0.2, -0.05])
    t = np.tanh(w) / (2 * np.tanh(1.0)) + 0.5
    codes, scale = dorefa_weights(w, 2)
    assert codes.tolist() == (2 * np.rint(t * 3) - 3).astype(int).tolist() == [3, -3, 1, -1]
    assert scale == pytest.approx(1 / 3)


@pytest.mark.parametrize("kind, a_bits, w_bits", [("twn", 4, 2), ("dorefa", 4, 2),
                                                  ("dorefa", 2, 1)])
def test_integer_forward_equals_the_float_one(kind, a_bits, w_bits):
    """The integers the engine computes, scaled, give the logits of the float-simulated
    quantized network training evaluates."""
    data = load_digits_real()
    cfg = QuantNetConfig(kind=kind, a_bits=a_bits, w_bits=w_bits, epochs=3)
    net, history = train_quantnet(cfg, data)
    n = (1 << a_bits) - 1
    a = dorefa_activation(data[2], a_bits) / n
    for layer, (c, s, b) in enumerate(zip(net.codes, net.scales, net.biases)):
        z = a @ (c * s) + b
        if layer == 0:
            a = dorefa_activation(z, a_bits) / n
    logits = net.forward(net.inputs(data[2]))
    assert np.allclose(logits, z, atol=1e-9)
    assert float((logits.argmax(axis=1) != data[3]).mean()) == pytest.approx(history[-1])
    assert history[-1] < 0.5  # three epochs learn something


@pytest.mark.sim
@pytest.mark.bitserial
def test_quantnets_through_the_rtl(tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["experiment", "quantnets", "--quick", "-o", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert [e["weight_codes"][0] for e in r["networks"]] == [[-1, 0, 1], [-3, -1, 1, 3],
                                                             [-1, 1]]
    for e in r["networks"]:
        assert e["rtl_equals_golden"] and e["images"] == 16
        assert [s["mismatches"] for s in e["layers"]] == [0, 0]
        assert e["accuracy"]["golden_all_397"] > 0.7
    assert "| TWN, 4-bit activations |" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--images", "0"], "--images must be between 1 and 397, not 0"),
    (["--images", "398"], "--images must be between 1 and 397, not 398"),
    (["--fl", "8"], "--fl is for the gupta experiment, not quantnets"),
])
def test_quantnets_bad_input(usage_error, tmp_path, argv, message):
    usage_error(["experiment", "quantnets", *argv, "-o", str(tmp_path / "q")], message)
    assert list(tmp_path.iterdir()) == []
