"""The CLI for the bit-serial units (dpu, p2s, bitserial): compare through the RTL, bad input."""

import json

import numpy as np
import pytest
from lowbit.gen.cli import main
from lowbit.gen.compare import shape_params
from lowbit.hw.units import get_unit

# The parameter sets of the simulation sweeps, so their builds are reused:
# SHAPES["2x64x2"] in test_matmul_sim.py, DPU[1] and P2S_CASES (5, 3) in test_bitserial_sim.py.
ENGINE = ["-p", "dm=2", "-p", "dn=2", "-p", "dk=64", "-p", "max_m=9", "-p", "max_k=100",
          "-p", "max_n=9"]
DPU = ["-p", "dk=7", "-p", "max_shift=3", "-p", "acc_width=6", "-p", "spacing=1"]
P2S = ["-p", "max_width=3"]  # elements=5 comes from the input's shape

# Each bad-input case: (files to write as name -> array, argv with {name} for their paths,
# the message expected on stderr).
I = np.int64
BAD = {
    "wa-above-max": (
        {"a": np.ones((3, 4), I), "b": np.ones((4, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}", "--wa", "9"],
        "wa must be between 1 and max_wa (= 8), not 9"),
    "wb-above-set-max": (
        {"a": np.ones((3, 4), I), "b": np.ones((4, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}", "-p", "max_wb=4", "--wb", "5"],
        "wb must be between 1 and max_wb (= 4), not 5"),
    "wa-zero": (
        {"a": np.ones((3, 4), I), "b": np.ones((4, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}", "--wa", "0"],
        "wa must be between 1 and max_wa (= 8), not 0"),
    "zero-rows": (
        {"a": np.ones((0, 5), I), "b": np.ones((5, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}"],
        "M must be between 1 and max_m (= 16), not 0 (A is (0, 5), B is (5, 2))"),
    "zero-k": (
        {"a": np.ones((3, 0), I), "b": np.ones((0, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}"],
        "K must be between 1 and max_k (= 256), not 0"),
    "zero-columns": (
        {"a": np.ones((3, 5), I), "b": np.ones((5, 0), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}"],
        "N must be between 1 and max_n (= 16), not 0"),
    "k-mismatch": (
        {"a": np.ones((3, 5), I), "b": np.ones((6, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}"],
        "--input (A) and --rhs (B) must agree on K: A is (3, 5), B is (6, 2)"),
    "larger-than-set-max": (
        {"a": np.ones((12, 5), I), "b": np.ones((5, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}", "-p", "max_m=9"],
        "M must be between 1 and max_m (= 9), not 12"),
    "larger-than-any-build": (
        {"a": np.ones((1, 5000), I), "b": np.ones((5000, 1), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}"],
        "K must be between 1 and max_k (= 4096), not 5000"),
    "a-does-not-fit-signed": (
        {"a": np.array([[1, 2], [3, 200]], I), "b": np.ones((2, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}", "--wa", "8"],
        "--input (A) values must lie in [-128, 127] (8-bit signed), not 200 at index (1, 1)"),
    "b-does-not-fit-unsigned": (
        {"a": np.ones((2, 2), I), "b": np.array([[0, 1], [-1, 2]], I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}", "--wb", "2", "--b-unsigned"],
        "--rhs (B) values must lie in [0, 3] (2-bit unsigned), not -1 at index (1, 0)"),
    "a-float": (
        {"a": np.ones((2, 2)), "b": np.ones((2, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}"],
        "--input (A) must hold integers, not float64"),
    "b-bool": (
        {"a": np.ones((2, 2), I), "b": np.ones((2, 2), bool)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}"],
        "--rhs (B) must hold integers, not bool"),
    "a-not-a-matrix": (
        {"a": np.ones((2, 2, 2), I), "b": np.ones((2, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}"],
        "--input (A) must be a matrix, not shape (2, 2, 2)"),
    "no-rhs": (
        {"a": np.ones((2, 2), I)},
        ["bitserial", "--input", "{a}"],
        "bitserial needs --rhs FILE.npy, the right matrix B of shape (K, N)"),
    "rhs-missing-file": (
        {"a": np.ones((2, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{a}.missing.npy"],
        "cannot read --rhs"),
    "array-too-big": (
        {"a": np.ones((2, 2), I), "b": np.ones((2, 2), I)},
        ["bitserial", "--input", "{a}", "--rhs", "{b}", "-p", "dm=65"],
        "dm must be between 1 and 64, not 65"),
    "wa-for-p2s": (
        {"x": np.ones((2, 8), I)},
        ["p2s", "--input", "{x}", "--wa", "2"],
        "--wa applies to bitserial, not p2s"),
    "unsigned-for-mac": (
        {"x": np.ones((2, 2), I)},
        ["mac", "--input", "{x}", "--a-unsigned"],
        "--a-signed/--a-unsigned applies to bitserial, not mac"),
    "p2s-w-zero": (
        {"x": np.ones((2, 8), I)},
        ["p2s", "--input", "{x}", "--w", "0"],
        "w must be between 1 and max_width (= 8), not 0"),
    "p2s-w-above-max": (
        {"x": np.ones((2, 8), I)},
        ["p2s", "--input", "{x}", "-p", "max_width=4", "--w", "5"],
        "w must be between 1 and max_width (= 4), not 5"),
    "p2s-does-not-fit-w": (
        {"x": np.array([[0, 1, 2, 3], [4, 5, 6, 16]], I)},
        ["p2s", "--input", "{x}", "--w", "4"],
        "--input values must lie in [-8, 15] (w = 4 bits, signed or unsigned), "
        "not 16 at index (1, 3)"),
    "p2s-shape": (
        {"x": np.ones(8, I)},
        ["p2s", "--input", "{x}"],
        "--input for p2s must have shape (words, E=8) with at least one word, not (8,)"),
    "p2s-elements-given": (
        {"x": np.ones((2, 6), I)},
        ["p2s", "--input", "{x}", "-p", "elements=5"],
        "--input for p2s must have shape (words, E=5) with at least one word, not (2, 6)"),
    "p2s-no-words": (
        {"x": np.ones((0, 8), I)},
        ["p2s", "--input", "{x}"],
        "--input for p2s must have shape (words, E=8) with at least one word, not (0, 8)"),
    "p2s-float": (
        {"x": np.ones((2, 8))},
        ["p2s", "--input", "{x}"],
        "--input for p2s must hold integers, not float64"),
    "dpu-shape": (
        {"x": np.ones((4, 3, 7), I)},
        ["dpu", "--input", "{x}"],
        "--input for dpu must have shape (beats, 2, dk=7) with at least one beat, not (4, 3, 7)"),
    "dpu-no-beats": (
        {"x": np.ones((0, 2, 7), I)},
        ["dpu", "--input", "{x}"],
        "--input for dpu must have shape (beats, 2, dk=7) with at least one beat, not (0, 2, 7)"),
    "dpu-not-bits": (
        {"x": np.tile([0, 1, 2], (4, 2, 1))},
        ["dpu", "--input", "{x}"],
        "--input must hold bits 0 and 1, not 2 at index (0, 0, 2)"),
    "dpu-shift-too-big": (
        {"x": np.ones((4, 2, 7), I), "s": np.array([0, 1, 4, 2])},
        ["dpu", "--input", "{x}", *DPU, "--shift", "{s}"],
        "--shift values must lie in [0, 3] (max_shift), not 4 at beat 2"),
    "dpu-shift-shape": (
        {"x": np.ones((4, 2, 7), I), "s": np.zeros(3, I)},
        ["dpu", "--input", "{x}", "--shift", "{s}"],
        "--shift must have shape (beats=4,), not (3,)"),
    "dpu-negate-not-bits": (
        {"x": np.ones((4, 2, 7), I), "n": np.array([0, 1, -1, 0])},
        ["dpu", "--input", "{x}", "--negate", "{n}"],
        "--negate must hold bits 0 and 1, not -1 at index 2"),
    "dpu-terms": (
        {"x": np.ones((4, 2, 7), I)},
        ["dpu", "--input", "{x}", "--beats-per-sum", "3"],
        "--beats-per-sum must be >= 1 and divide the 4 beats, not 3"),
    "dpu-terms-is-for-mac": (
        {"x": np.ones((4, 2, 7), I)},
        ["dpu", "--input", "{x}", "--terms", "2"],
        "--terms applies to mac, not dpu"),
    "beats-per-sum-for-p2s": (
        {"x": np.ones((2, 8), I)},
        ["p2s", "--input", "{x}", "--beats-per-sum", "2"],
        "--beats-per-sum applies to dpu, not p2s"),
    "dpu-dk-too-big": (
        {"x": np.ones((1, 2, 7), I)},
        ["dpu", "--input", "{x}", "-p", "dk=2000"],
        "dk must be between 1 and 1024, not 2000"),
}


@pytest.mark.parametrize("files,argv,message", list(BAD.values()), ids=list(BAD))
def test_bad_input_exit_2_one_line_nothing_written(files, argv, message, tmp_path,
                                                   usage_error):
    paths = {}
    for name, arr in files.items():
        paths[name] = str(tmp_path / f"{name}.npy")
        np.save(paths[name], arr)
    report = tmp_path / "report.json"
    usage_error(["compare", *(a.format(**paths) for a in argv), "-o", str(report)],
                message)
    assert not report.exists() and sorted(p.name for p in tmp_path.iterdir()) == \
        sorted(f"{name}.npy" for name in files)


def test_matrix_shapes_set_the_buffer_maxima():
    """Maxima grow to matrices larger than the defaults (16, 256, 16), never shrink, and a
    value the user gave stays."""
    a, b = np.zeros((40, 300)), np.zeros((300, 5))
    bitserial = get_unit("bitserial")
    assert shape_params(bitserial, a, [], rhs=b) == ["max_m=40", "max_k=300"]
    assert shape_params(bitserial, a, ["max_m = 64"], rhs=b) == ["max_m = 64", "max_k=300"]
    assert shape_params(bitserial, np.zeros((3, 4)), [], rhs=np.zeros((4, 17))) == ["max_n=17"]
    assert shape_params(get_unit("dpu"), np.zeros((9, 2, 33)), []) == ["dk=33"]
    assert shape_params(get_unit("p2s"), np.zeros((9, 12)), ["max_width=4"]) == \
        ["max_width=4", "elements=12"]
    assert shape_params(get_unit("mac"), a, ["fl_a=3"]) == ["fl_a=3"]



@pytest.mark.sim
@pytest.mark.bitserial
def test_compare_bitserial_units_through_rtl(tmp_path, capsys, npy):
    rng = np.random.default_rng(55)

    # Engine: 5x37 signed 5-bit A times 37x7 unsigned 3-bit B (no multiple of the 2x64x2 array).
    a = npy("a.npy", rng.integers(-16, 16, size=(5, 37)))
    b = npy("b.npy", rng.integers(0, 8, size=(37, 7)))
    report = tmp_path / "bitserial.json"
    assert main(["compare", "bitserial", *ENGINE, "--input", a, "--rhs", b, "--wa", "5",
                 "--wb", "3", "--b-unsigned", "-o", str(report)]) == 0
    out = capsys.readouterr().out
    assert "RTL vs golden mismatches: 0" in out and "result shape: 5 x 7" in out
    r = json.loads(report.read_text())
    assert r["mismatches_rtl_vs_golden"] == 0 and r["results"] == 35
    assert (r["wa"], r["wb"], r["a_signed"], r["b_signed"]) == (5, 3, True, False)
    assert np.array_equal(np.array(r["rtl_values"]).reshape(5, 7),
                          np.load(a) @ np.load(b))
    # 3 m-tiles x 4 n-tiles x 5 x 3 planes x 1 k-chunk.
    assert r["compute_cycles"] == 180 and r["cycles"] > 180
    assert r["effective_ops"] == 2 * 5 * 37 * 7
    assert r["peak_effective_ops_per_cycle"] == 2 * 2 * 64 * 2 / 15

    # DPU: 40 beats of 7-bit operands, per-beat shift and sign, sums of 4 beats.
    x = npy("x.npy", rng.integers(0, 2, size=(40, 2, 7)))
    s = npy("s.npy", rng.integers(0, 4, size=40))
    n = npy("n.npy", rng.random(40) < 0.5)
    report = tmp_path / "dpu.json"
    assert main(["compare", "dpu", *DPU, "--input", x, "--shift", s, "--negate", n,
                 "--beats-per-sum", "4", "-o", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["mismatches_rtl_vs_golden"] == 0 and r["results"] == 10
    assert r["beats_per_result"] == 4

    # P2S: 30 words of E=5 signed and unsigned 2-bit values at w=2 (elements from the shape).
    words = npy("w.npy", rng.integers(-2, 4, size=(30, 5)))
    report = tmp_path / "p2s.json"
    assert main(["compare", "p2s", *P2S, "--input", words, "--w", "2", "-o", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["mismatches_rtl_vs_golden"] == 0 and r["results"] == 60
    assert r["params"] == {"elements": 5, "max_width": 3} and r["shape"] == [30, 2]
