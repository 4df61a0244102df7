"""The binarized network on chip (``bnn``): its golden model against the layer-by-layer
network model, its parameters and network files, and the generated chain of bmvu layers
bit-exact against golden over layer counts, folds and both outputs, with idle cycles and
back-pressure; then the trained digits network on all 397 test images."""

import json

import numpy as np
import pytest
from lowbit.golden.binary import BMVUParams, bmvu_golden
from lowbit.golden.bnn import bnn_forward, load_digits_bits, trained_digits_bnn
from lowbit.golden.bnnchip import (
    BNNChipParams,
    bnn_chip_golden,
    encode_network,
    load_network,
    save_network,
)
from lowbit.golden.checks import UsageError, parse_params
from lowbit.hw.units import get_unit
from lowbit.sim.runner import run_unit

pytestmark = [pytest.mark.sim, pytest.mark.binary]


def _layerwise(params, x):
    """The network layer by layer through bmvu_golden (the bmvu's own model)."""
    a = x
    for q, layer in zip(params.layer_params, params.layers):
        a = bmvu_golden(q, layer.weights, a, layer.thresholds, layer.invert)
    return a


@pytest.mark.parametrize("sizes", ["64-256-10", "5-3-2", "37-20-13-3", "100-7"])
def test_golden_equals_the_layers(sizes):
    params = BNNChipParams(sizes=sizes, seed=3)
    x = np.random.default_rng(0).integers(0, 2, size=(300, params.inputs))
    scores, classes = bnn_chip_golden(params, x)
    want = _layerwise(params, x)
    assert np.array_equal(scores, want)
    assert np.array_equal(classes, np.argmax(want, axis=1))
    # ties go to the lowest index
    top = want.max(axis=1, keepdims=True)
    assert np.array_equal(classes, np.argmax(want == top, axis=1))


def test_trained_network_round_trips(tmp_path):
    """A trained BNN through from_bnn, and through a network file and -p network=, gives the
    classes of bnn_forward."""
    bnn = trained_digits_bnn()
    x = load_digits_bits().x_test
    _, want = bnn_forward(bnn, x)
    params = BNNChipParams.from_bnn(bnn)
    assert np.array_equal(bnn_chip_golden(params, x)[1], want)
    path = tmp_path / "net.npz"
    save_network(bnn, path)
    from_file = parse_params(get_unit("bnn"), [f"network={path}", "sizes=64-256-10"])
    assert from_file == params
    assert encode_network(load_network(path)) == params.network
    # JSON lists come back as the same parameters (the unit map's round trip)
    import dataclasses
    import json
    again = BNNChipParams(**json.loads(json.dumps(dataclasses.asdict(params))))
    assert again == params and hash(again) == hash(params)


@pytest.mark.parametrize("items, message", [
    (["sizes=64"], "sizes must list 2 to"),
    (["sizes=64-x-10"], "integers joined by dashes"),
    (["sizes=64-256-1"], "classes) must be >= 2"),
    (["pe=4"], "pe must list 2 values"),
    (["pe=300-4"], "layer 0 (64 -> 256): pe must be <= rows = 256"),
    (["output=probs"], "output must be one of"),
    (["sizes=4096-4096-4096"], "the network's weight bits must be <= 4,194,304 (every layer's "
                               "rows x cols), not 33,554,432"),
    (["network=/nonexistent.npz"], "no such file"),
])
def test_bad_parameters(items, message):
    with pytest.raises(UsageError, match=None) as err:
        parse_params(get_unit("bnn"), items)
    assert message in str(err.value)


def test_bad_network_files(tmp_path):
    unit = get_unit("bnn")
    bnn = trained_digits_bnn()
    path = tmp_path / "net.npz"
    save_network(bnn, path)
    with pytest.raises(UsageError, match="need 3 layers|sizes"):
        parse_params(unit, [f"network={path}", "sizes=64-256-20-10"])
    bad = tmp_path / "bad.npz"
    np.savez(bad, w0=np.ones((3, 4)), w1=np.ones((2, 3)))
    with pytest.raises(UsageError, match="must hold arrays w0"):
        parse_params(unit, [f"network={bad}"])
    np.savez(bad, w0=np.full((3, 4), 2), t0=np.zeros(3, int), inv0=np.zeros(3, bool),
             w1=np.ones((2, 3)))
    with pytest.raises(UsageError, match="array of bits"):
        parse_params(unit, [f"network={bad}"])
    np.savez(bad, w0=np.ones((3, 4)), t0=np.full(3, 99), inv0=np.zeros(3, bool),
             w1=np.ones((2, 3)))
    with pytest.raises(UsageError, match="thresholds must lie in"):
        parse_params(unit, [f"network={bad}", "sizes=4-3-2"])
    # a network of other sizes than -p sizes: refused, naming the sizes to give
    small = BNNChipParams(sizes="32-256-10", seed=4)
    save_network(small.layers, bad)
    with pytest.raises(UsageError, match="layer 0 is 32 -> 256, but sizes '64-256-10' make it "
                                         "64 -> 256: give -p sizes=32-256-10"):
        parse_params(unit, [f"network={bad}"])
    assert parse_params(unit, [f"network={bad}", "sizes=32-256-10"]).layers[0].weights.shape \
        == (256, 32)
    text = tmp_path / "net.txt"
    text.write_text("not a network")
    with pytest.raises(UsageError, match="is not a network file"):
        parse_params(unit, [f"network={text}"])


# sizes, pe, simd, output, the random network's seed (one whose classes vary and, for a
# small last layer, tie, on any seed's images: the checks below need both)
CHIPS = [
    ("64-256-10", "", "", "class", 1),           # the default: 64 x 2 and 3 x 8 folds
    ("37-20-13-3", "3-5-2", "7-6-13", "class", 1),  # three layers, odd folds, padding lanes
    ("5-3-2", "1-1", "1-1", "class", 2),         # one bit and one neuron a cycle
    ("16-9-4", "9-4", "16-9", "class", 2),       # one fold each: every layer fully parallel
    ("37-20-13", "3-5", "7-6", "scores", 1),     # the last layer's dots out
    ("24-8-6", "8-6", "8-8", "class", 1),        # 8-bit input words, three beats an image
    ("16-12-10-8-6-4", "", "", "class", 2),      # five layers, default folding
    ("4-256-2", "1-1", "4-256", "class", 1),     # a slow first layer: 256 cycles an image
]


def _images(params, rng, n):
    k = params.inputs
    directed = np.array([np.ones(k), np.zeros(k), np.arange(k) % 2, np.eye(1, k, k // 2)[0]])
    return np.concatenate([directed, rng.integers(0, 2, size=(n, k))]).astype(np.uint8)


@pytest.mark.parametrize("chip", CHIPS, ids=["_".join(filter(None, c[:4])) for c in CHIPS])
def test_bnn_chip_bit_exact(chip, sim, seed):
    sizes, pe, simd, output, net_seed = chip
    params = BNNChipParams(sizes=sizes, pe=pe, simd=simd, output=output, seed=net_seed)
    rng = np.random.default_rng(seed)
    x = _images(params, rng, 150)
    job = get_unit("bnn").job(params, x, pad_rng=np.random.default_rng(seed))
    out, _, resp, _ = run_unit("bnn", params, job, sim=sim, seed=seed)
    scores, classes = bnn_chip_golden(params, x)
    want = classes if output == "class" else scores
    assert out is not None, f"{len(resp['out'])} outputs of {job.expect}"
    bad = np.argwhere(np.atleast_2d(out != want))
    assert not len(bad), f"{len(bad)} mismatches, first {bad[:5]}"
    if output == "class":
        assert len(set(classes.tolist())) > 1
        if params.layer_params[-1].cols <= 16:  # small last layers tie: lowest index wins
            top = scores == scores.max(axis=1, keepdims=True)
            assert (top.sum(axis=1) > 1).any()


@pytest.mark.parametrize("chip", [("37-20-13-3", "3-5-2", "7-6-13", 42),
                                  ("16-9-4", "9-4", "16-9", 2),
                                  ("64-256-10", "16-5", "16-32", 64)])
def test_bnn_chip_throughput(chip, sim):
    """Without idle cycles or back-pressure the chain takes an image every
    cycles_per_image cycles (the slowest layer's nf x sf; at least sf + 1 after the
    first)."""
    sizes, pe, simd, interval = chip
    params = BNNChipParams(sizes=sizes, pe=pe, simd=simd)
    assert params.cycles_per_image == interval
    x = _images(params, np.random.default_rng(5), 60)
    job = get_unit("bnn").job(params, x)
    out, _, resp, _ = run_unit("bnn", params, job, sim=sim, idle=0, backpressure=0)
    assert np.array_equal(out, bnn_chip_golden(params, x)[1])
    gaps = set(np.diff(resp["out_cycles"][10:]).tolist())
    assert gaps == {params.cycles_per_image}, gaps


def test_trained_digits_network_on_chip(sim):
    """The 64-256-10 digits BNN generated into the chip: all 397 test images, every class
    equal to golden; accuracy printed."""
    bnn = trained_digits_bnn()
    data = load_digits_bits()
    params = BNNChipParams.from_bnn(bnn, pe="16-5", simd="16-32")
    job = get_unit("bnn").job(params, data.x_test)
    out, _, _, _ = run_unit("bnn", params, job, sim=sim, idle=0.05, backpressure=0.05)
    _, want = bnn_forward(bnn, data.x_test)
    assert out is not None and np.array_equal(out, want)
    accuracy = float(np.mean(out == data.y_test))
    print(f"digits BNN on chip, {len(out)} test images: accuracy {accuracy:.4f}")
    assert accuracy > 0.85


def test_layer_params_fold_as_given():
    p = BNNChipParams(sizes="64-256-10", pe="16-5", simd="16-32")
    assert p.layer_params[0] == BMVUParams(rows=256, cols=64, pe=16, simd=16, thresholds=1)
    assert p.layer_params[1] == BMVUParams(rows=10, cols=256, pe=5, simd=32, thresholds=0)
    assert p.cycles_per_image == 16 * 4


@pytest.mark.link
def test_experiment_bnn(tmp_path):
    """``lowbit experiment bnn --quick``: the chip's classes through the simulated link equal
    golden, the resident products are exact, and packed planes cost fewer bytes than words
    below the largest precision; the network file it writes is the network it ran."""
    from lowbit.gen.cli import main

    out = tmp_path / "bnn"
    assert main(["experiment", "bnn", "--quick", "--images", "20", "-o", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["bnn"]["rtl_equals_golden"] and r["bnn"]["images"] == 20
    assert r["bnn"]["bytes_per_image"] == 8
    rows = {(p["operands"], p["wa"]): p for p in r["resident_products"]["products"]}
    assert all(p["exact"] for p in rows.values())
    assert rows[("planes", 1)]["host_bytes"] < rows[("words", 1)]["host_bytes"] / 4
    nets = r["quantnets"]["networks"]
    assert [n["rtl_equals_golden"] for n in nets] == [True] * 3
    assert all(n["images"] == 20 and n["host_bytes"] > 0 for n in nets)
    params = parse_params(get_unit("bnn"), [f"network={out / 'digits-bnn.npz'}"])
    assert params == BNNChipParams.from_bnn(trained_digits_bnn())
    assert "| operands | wa x wb |" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--images", "0"], "--images must be between 1 and 397, not 0"),
    (["--seeds", "2"], "--seeds is for the gupta experiment, not bnn"),
])
def test_experiment_bnn_bad_input(usage_error, tmp_path, argv, message):
    usage_error(["experiment", "bnn", *argv, "-o", str(tmp_path / "b")], message)
    assert list(tmp_path.iterdir()) == []


def test_bad_images_and_a_network_too_big_for_the_board(usage_error, tmp_path):
    """Images of the wrong shape or values, one message each; a network whose memories
    exceed the UP5K is refused before synthesis, nothing written."""
    params = BNNChipParams()
    for x, message in ((np.zeros((3, 63)), r"images must have shape \(images, 64\)"),
                       (np.full((2, 64), 2), "images must hold bits 0")):
        with pytest.raises(ValueError, match=message):
            get_unit("bnn").job(params, x)
    usage_error(["synth", "bnn", "--board", "icebreaker", "-p", "sizes=1024-1024-10", "-o",
                 str(tmp_path / "out")], "unit bnn does not fit the iCE40UP5K")
    assert list(tmp_path.iterdir()) == []
