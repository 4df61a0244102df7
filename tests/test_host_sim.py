"""The host driver against units behind the link, through the harness's UART pins.

Each test runs a script from :mod:`lowbit.tests.host_scripts` (the real
:class:`lowbit.host.Device`) inside the simulation of ``HostLink(unit=...)`` at the default
3 Mbaud from a 12 MHz clock, and checks what came back against the golden models here.
"""

import dataclasses
import itertools

import numpy as np
import pytest
from lowbit.golden import mac_golden
from lowbit.golden.binary import BMVUParams, PopcountParams, bmvu_golden
from lowbit.golden.bitserial import BitSerialParams
from lowbit.golden.bnn import bnn_forward, load_digits_bits, trained_digits_bnn
from lowbit.golden.bnnchip import BNNChipParams
from lowbit.golden.link import ErrorCode
from lowbit.golden.unitmap import UnitMap
from lowbit.golden.winograd import Conv2dParams, correlate2d, correlate_filters
from lowbit.hw.build import generated
from lowbit.hw.units import hosted
from lowbit.sim.host import run_host

# The hosted units (a unit behind the link) are not in the registry the netlist flow
# synthesizes from: these run on the generated Verilog only.
pytestmark = [pytest.mark.sim, pytest.mark.link, pytest.mark.rtl]

SCRIPTS = "lowbit.tests.host_scripts"
MATMUL = BitSerialParams(dm=2, dn=2, dk=16, max_wa=4, max_wb=4, max_m=6, max_k=40, max_n=5)
CONV = Conv2dParams(data_width=8, weight_width=8, channels=2, height=7, width=6,
                    padding="same")
BNN = BMVUParams(rows=256, cols=64, pe=16, simd=16, thresholds=1, spacing=2)


def _build(name, params=None):
    unit, hp = hosted(name, params)
    gen_dir, man = generated(unit, hp)
    return gen_dir, man, hp.link


def _run(build, script, args, sim, **kw):
    gen_dir, man, link = build
    result, resp = run_host(gen_dir, man, link, f"{SCRIPTS}:{script}",
                            {"unit_map": man["unit_map"], **args}, sim=sim, **kw)
    assert "error" not in resp, resp.get("traceback")
    return result, resp


@pytest.fixture(scope="module")
def mac_build():
    return _build("mac")


def test_matmul_through_the_link(sim, seed):
    """Products at several precisions and signednesses, one larger than the engine's buffers
    (the driver cuts it into blocks), against numpy's A @ B."""
    rng = np.random.default_rng(seed)
    runs = []
    for (M, K, N), wa, wb, sa, sb in [((5, 37, 4), 4, 4, True, True), ((1, 1, 1), 1, 1, True,
                                      False), ((6, 40, 5), 3, 2, False, True),
                                      ((13, 90, 11), 4, 3, True, True)]:
        lo_a, hi_a = (-(1 << wa - 1), (1 << wa - 1) - 1) if sa else (0, (1 << wa) - 1)
        lo_b, hi_b = (-(1 << wb - 1), (1 << wb - 1) - 1) if sb else (0, (1 << wb) - 1)
        A = rng.integers(lo_a, hi_a + 1, size=(M, K))
        B = rng.integers(lo_b, hi_b + 1, size=(K, N))
        if M == 6:  # extremes
            A[0], B[:, 0] = hi_a, lo_b
        runs.append(dict(A=A.tolist(), B=B.tolist(), wa=wa, wb=wb, a_signed=sa, b_signed=sb))
    result, _ = _run(_build("bitserial", MATMUL), "matmul", {"runs": runs}, sim)
    for run, C in zip(runs, result["C"]):
        want = np.array(run["A"], dtype=np.int64) @ np.array(run["B"], dtype=np.int64)
        assert np.array_equal(np.array(C), want), (run["wa"], run["wb"], np.shape(want))


def test_resident_weights_through_the_link(sim, seed):
    """load_weights(B) then matmul(A) several times: B crosses the link with the first product
    only (the later ones take fewer cycles), every product equals numpy's; then other
    weights replace them (sent again, once)."""
    rng = np.random.default_rng(seed)
    groups = []
    for K, N, wa, wb in ((37, 5, 4, 4), (40, 3, 2, 3)):
        B = rng.integers(-(1 << wb - 1), 1 << wb - 1, size=(K, N))
        As = [rng.integers(-(1 << wa - 1), 1 << wa - 1, size=(M, K)) for M in (4, 6, 11)]
        groups.append(dict(B=B.tolist(), wb=wb, wa=wa, As=[a.tolist() for a in As]))
    result, _ = _run(_build("bitserial", MATMUL), "resident", {"groups": groups}, sim)
    products = result["products"]
    k = 0
    for g in groups:
        B = np.array(g["B"], dtype=np.int64)
        cycles = []
        for A in g["As"]:
            got = products[k]
            k += 1
            assert np.array_equal(np.array(got["C"]), np.array(A, dtype=np.int64) @ B)
            cycles.append(got["cycles"])
        # The second product (M = 6) sends A alone and takes fewer cycles than the first
        # (M = 4) that sent B with it.
        assert cycles[1] < cycles[0], cycles


def test_operands_packed_at_the_run_precision_through_the_link(sim, seed):
    """operands=planes (the boards' default): every precision pair 1..8 through the real
    driver against numpy; then resident weights and products at 1, 4 and 8 bits, where the
    same A-only product sends w / 8 of the operand bytes of the words build."""
    p8 = dataclasses.replace(MATMUL, max_wa=8, max_wb=8)
    rng = np.random.default_rng(seed)
    runs = []
    for wa, wb in itertools.product(range(1, 9), range(1, 9)):
        A = rng.integers(-(1 << wa - 1), 1 << wa - 1, size=(3, 37))
        B = rng.integers(0, 1 << wb, size=(37, 4))
        if wa == wb:  # extremes
            A[0], B[:, 0] = -(1 << wa - 1), (1 << wb) - 1
        runs.append(dict(A=A.tolist(), B=B.tolist(), wa=wa, wb=wb, a_signed=True,
                         b_signed=False))
    planes = _build("bitserial", dataclasses.replace(p8, operands="planes"))
    assert planes[1]["unit_map"]["in_fields"] == {
        "plane": {"offset": 0, "width": MATMUL.dk, "signed": False}}
    result, _ = _run(planes, "matmul", {"runs": runs}, sim)
    for run, C in zip(runs, result["C"]):
        want = np.array(run["A"], dtype=np.int64) @ np.array(run["B"], dtype=np.int64)
        assert np.array_equal(np.array(C), want), (run["wa"], run["wb"])
    B = rng.integers(-2, 2, size=(40, 5))
    groups = [dict(B=B.tolist(), wb=2, wa=w,
                   As=[rng.integers(-(1 << w - 1), 1 << w - 1, size=(6, 40)).tolist()
                       for _ in range(3)]) for w in (1, 4, 8)]
    sent = {}
    for name, build in (("planes", planes), ("words", _build("bitserial", p8))):
        result, _ = _run(build, "resident", {"groups": groups}, sim)
        for got, A in zip(result["products"], [A for g in groups for A in g["As"]]):
            assert np.array_equal(np.array(got["C"]), np.array(A) @ B)
        # the third product of each group: A alone, the registers as they were
        sent[name] = [result["products"][k]["host_bytes"] for k in (2, 5, 8)]
    # 6 rows x 3 chunks of 16 elements: 18 words of 16 bytes, or 18 x w planes of 2 bytes;
    # and 20 bytes of framing (STATUS, SEND, RECV), 6 more for each further SEND of 256
    # bytes; no register written (the driver does not write a register again with the value
    # it holds).
    def cost(payload):
        return payload + 20 + 6 * (-(-payload // 256) - 1)

    assert sent["words"] == [cost(18 * 16)] * 3
    assert sent["planes"] == [cost(18 * 2 * w) for w in (1, 4, 8)]


def test_conv2d_through_the_link(sim, seed):
    """Random and extreme 2-channel images with a random filter, against direct correlation."""
    rng = np.random.default_rng(seed)
    images = [rng.integers(-128, 128, size=(2, 7, 6)), np.full((2, 7, 6), -128),
              np.where(np.indices((2, 7, 6)).sum(axis=0) % 2, 127, -128)]
    filt = rng.integers(-128, 128, size=(2, 3, 3))
    filt[0, 0, 0] = -128
    result, _ = _run(_build("conv2d", CONV), "conv2d",
                     {"images": [i.tolist() for i in images], "filter": filt.tolist()}, sim)
    for img, got in zip(images, result["maps"]):
        assert np.array_equal(np.array(got), correlate2d(img, filt, "same"))


def test_requantized_conv2d_through_the_link(sim, seed):
    """A layer of three filters folded through one lane, with a bias a channel, stochastic
    requantization to 8 bits and ReLU: images one call each (the biases in their memory, the
    LFSR running on from call to call), against direct correlation and the golden
    requantizer over the outputs in the order they left."""
    params = dataclasses.replace(CONV, out_width=8, shift=7, rounding="stochastic", relu=True,
                                 bias=True, r_bits=4, seed=77, filters=3, parallel=1)
    rng = np.random.default_rng(seed)
    images = [rng.integers(-128, 128, size=(2, 7, 6)) for _ in range(3)]
    filt = rng.integers(-128, 128, size=(3, 2, 3, 3))
    bias = [-1234, 0, 2000]
    result, _ = _run(_build("conv2d", params), "conv2d",
                     {"images": [i.tolist() for i in images], "filter": filt.tolist(),
                      "bias": bias}, sim)
    maps = correlate_filters(images, filt, "same")
    want = params.requantize(maps, bias)
    assert np.array_equal(np.array(result["maps"]), want)
    assert want.min() == 0 and want.max() > 0


def test_mac_stream_through_the_link(sim, mac_build, seed):
    """Sums of random and extreme codes (saturating), beat flags as the stream gives them."""
    params = hosted("mac")[1].params
    rng = np.random.default_rng(seed)
    fa, fb = params.fmt_a, params.fmt_b
    n = 120
    a = rng.integers(fa.min_int, fa.max_int + 1, size=n)
    b = rng.integers(fb.min_int, fb.max_int + 1, size=n)
    a[:10], b[:10] = fa.min_int, fb.min_int  # the largest product, ten times: saturates
    lengths = [10, 1, 3, 50, 56]
    first = np.zeros(n, dtype=int)
    last = np.zeros(n, dtype=int)
    ends = np.cumsum(lengths)
    first[np.concatenate([[0], ends[:-1]])] = 1
    last[ends - 1] = 1
    result, _ = _run(mac_build, "mac_stream", {"a": a.tolist(), "b": b.tolist(),
                                               "first": first.tolist(), "last": last.tolist()},
                     sim)
    values, overflow = mac_golden(params, a, b, first, last)
    assert result["values"] == [int(v) for v in values]
    assert result["overflow"] == [int(v) for v in overflow]


def test_bnn_layer_through_the_link(sim):
    """The hidden layer of the 64-256-10 digits BNN (thresholds and inverted neurons loaded
    through the strobe registers) on 40 test digits, against bmvu_golden; the output layer
    then classifies the activations that came back."""
    bnn = trained_digits_bnn()
    data = load_digits_bits()
    hidden, output = bnn.layers
    assert (hidden.rows, hidden.cols) == (BNN.rows, BNN.cols)
    x = data.x_test[:40]
    result, _ = _run(_build("bmvu", BNN), "bnn_layer",
                     {"x": x.tolist(), "weights": hidden.weights.tolist(),
                      "thresholds": hidden.thresholds.tolist(),
                      "invert": hidden.invert.astype(int).tolist()}, sim)
    acts = np.array(result)
    assert np.array_equal(acts, bmvu_golden(BNN, hidden.weights, x, hidden.thresholds,
                                            hidden.invert))
    op = BMVUParams(rows=output.rows, cols=output.cols, thresholds=0)
    scores = bmvu_golden(op, output.weights, acts.astype(np.uint8))
    assert np.mean(np.argmax(scores, axis=1) == data.y_test[:40]) > 0.8


def test_bnn_on_chip_classifies_the_digits_through_the_link(sim):
    """The trained 64-256-10 digits BNN generated into the chip, behind the link: all 397
    test images through Device.classify at 3 Mbaud, every class equal to golden; accuracy
    and images a second (against the line's limit for the bytes an image needs) printed
    (the figures: lowbit experiment bnn, bench/bnn)."""
    bnn = trained_digits_bnn()
    data = load_digits_bits()
    params = BNNChipParams.from_bnn(bnn)
    build = _build("bnn", params)
    result, _ = _run(build, "classify", {"x": data.x_test.tolist()}, sim)
    _, want = bnn_forward(bnn, data.x_test)
    assert result["classes"] == want.tolist()
    n = len(want)
    rate = n / result["seconds"]
    in_bytes = UnitMap.from_dict(build[1]["unit_map"]).in_bytes
    limit = build[2].baud / 10 / (params.beats_per_image * in_bytes)
    print(f"digits BNN through the link: accuracy {np.mean(want == data.y_test):.4f}, "
          f"{rate:.0f} images/s, {rate / limit:.1%} of the 3 Mbaud line's {limit:.0f}")


def test_bad_frames_are_answered_and_the_link_recovers(sim, mac_build):
    """Corrupted, truncated, unknown, wrong-length and broken (framing) frames, read-only and
    missing registers, and a SEND with no room each get their error frame; after a RESET the
    unit computes again."""
    link = mac_build[2]
    a = [[4096, -4096, 2048], [100, 200, 300]]
    b = [[4096, 4096, -4096], [-50, 60, 70]]
    got, _ = _run(mac_build, "errors", {"timeout_bits": link.timeout_bits, "a": a, "b": b},
                  sim)
    assert got["corrupted"] == ErrorCode.BAD_CRC
    assert got["truncated"] == ErrorCode.TIMEOUT
    assert got["unknown"] == ErrorCode.UNKNOWN_COMMAND
    assert got["ragged_send"] == ErrorCode.BAD_LENGTH
    assert got["short_recv"] == ErrorCode.BAD_LENGTH
    assert got["framing"] == ErrorCode.FRAMING
    assert got["read_only"] == ErrorCode.BAD_ADDRESS
    assert got["no_such_register"] == ErrorCode.BAD_ADDRESS
    assert got["empty_status"] == [mac_build[1]["unit_map"]["in_queue"], 0]
    assert got["no_room"] == ErrorCode.NO_ROOM
    assert got["full_status"][1] == mac_build[1]["unit_map"]["out_queue"]
    assert got["reset_status"] == got["empty_status"]
    assert got["recv_sizes"] == [[1], [], [2, 3], [4, 5], []]
    assert got["ping"] == list(b"alive")
    params = hosted("mac")[1].params
    flat_a, flat_b = np.array(a).reshape(-1), np.array(b).reshape(-1)
    values, _ = mac_golden(params, flat_a, flat_b, [1, 0, 0] * 2, [0, 0, 1] * 2)
    assert got["mac"] == [int(v) for v in values]


def test_a_device_that_does_not_answer(sim, mac_build):
    """At a quarter of the baud rate nothing the device sends decodes: the driver gives up
    after its timeout with a message, instead of hanging."""
    link = mac_build[2]
    result, resp = _run(mac_build, "no_answer", {"timeout": 0.002}, sim,
                        divisor=4 * link.clk_hz / link.baud)
    kind, message = result
    assert kind == "NoAnswer", message
    assert "no answer to READ_REG within 0.002 s at 3000000 baud" in message


def test_any_unit_through_the_link_by_its_adapter(sim, seed):
    """A unit the driver has no method for (popcount) runs through the link with the same
    job its simulation runs (Device.compute: the registry's adapter)."""
    gen_dir, man, link = _build("popcount", PopcountParams(n=24, spacing=1))
    words = np.random.default_rng(seed).integers(0, 1 << 24, size=300).tolist()
    out, resp = run_host(gen_dir, man, link, "lowbit.sim.host:call",
                         {"unit_map": man["unit_map"], "method": "compute", "args": [words]},
                         sim=sim)
    assert "error" not in resp, resp.get("traceback")
    assert out["result"] == [bin(w).count("1") for w in words]
