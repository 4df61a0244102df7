"""The CLI for the binarized units: compare through the RTL, and bad input (exit 2)."""

import json

import numpy as np
import pytest
from lowbit.gen.cli import main


@pytest.mark.parametrize("argv,message", [
    (["generate", "popcount", "-p", "n=0"], "n must be between 1 and 4096, not 0"),
    (["generate", "xnor", "-p", "n=0"], "n must be between 1 and 4096, not 0"),
    (["generate", "bmvu", "-p", "pe=0"], "pe must be between 1 and 1024, not 0"),
    (["generate", "bmvu", "-p", "simd=0"], "simd must be between 1 and 4096, not 0"),
    (["generate", "bmvu", "-p", "pe=20"], "pe must be <= rows = 16, not 20"),
    (["generate", "xnor", "-p", "n=64", "-p", "max_length=32"],
     "max_length must be between 64 and 16777216, not 32"),
    (["generate", "popcount", "-p", "style=wallace"],
     "style must be one of 'tree', 'plain', 'packed'"),
    (["synth", "popcount", "--board", "arty"], "unknown board 'arty'"),
])
def test_bad_parameters_exit_2_nothing_written(argv, message, tmp_path, usage_error):
    usage_error(argv + ["-o", str(tmp_path / "out")], message)
    assert not (tmp_path / "out").exists()



def test_bmvu_bad_files(tmp_path, capsys, npy):
    p = ["-p", "rows=4", "-p", "cols=8", "-p", "pe=2", "-p", "simd=4"]
    x = npy("x.npy", np.zeros((3, 8), dtype=np.uint8))
    w = npy("w.npy", np.zeros((4, 8), dtype=np.uint8))
    cases = [
        (["--weights", npy("w_bad.npy", np.zeros((4, 9)))],
         "--weights must have shape (rows=4, cols=8), not (4, 9)"),
        (["--weights", w, "--thresholds",
          npy("t2.npy", np.array([[1], [2], [3], [4]]).repeat(2, axis=1)
                * np.array([1, -1]))],
         "thresholds must be sorted (non-decreasing) for every neuron"),
        (["--weights", w], "needs --thresholds FILE.npy of shape (rows, 1)"),
        ([], "bmvu needs --weights"),
        (["--weights", npy("w3.npy", np.full((4, 8), 3))],
         "--weights must hold bits 0 (-1) and 1 (+1)"),
    ]
    for extra, message in cases:
        params = p + (["-p", "thresholds=2"] if "t2.npy" in " ".join(extra) else [])
        assert main(["compare", "bmvu", "--input", x, *params, *extra]) == 2, extra
        assert message in capsys.readouterr().err
    assert main(["compare", "popcount", "--input", x, "--terms", "2"]) == 2
    assert "--terms applies to mac, not popcount" in capsys.readouterr().err


@pytest.mark.sim
@pytest.mark.binary
def test_compare_binary_units_through_rtl(tmp_path, capsys, npy):
    rng = np.random.default_rng(11)
    # Parameter sets of the simulation sweeps, so their builds are reused.
    bits = npy("words.npy", rng.integers(0, 2, size=(40, 9)))
    assert main(["compare", "popcount", "-p", "n=9", "-p", "spacing=3", "--input", bits]) == 0
    assert "RTL vs golden mismatches: 0" in capsys.readouterr().out
    # The same data through the iCE40 netlist.
    assert main(["compare", "popcount", "-p", "n=9", "-p", "spacing=3", "--input", bits,
                 "--netlist", "icebreaker"]) == 0
    out = capsys.readouterr().out
    assert "through the icebreaker netlist" in out and "mismatches: 0" in out

    pairs = npy("pairs.npy", rng.normal(size=(30, 2, 70)))  # binarized by sign
    assert main(["compare", "xnor", "-p", "n=33", "-p", "max_length=200", "-p", "spacing=1",
                 "--input", pairs]) == 0
    assert "RTL vs golden mismatches: 0" in capsys.readouterr().out

    x = npy("x.npy", rng.integers(0, 2, size=(25, 100)))
    w = npy("w.npy", rng.integers(0, 2, size=(10, 100)))
    t = npy("t.npy", np.sort(rng.integers(-100, 101, size=(10, 3)), axis=1))
    inv = npy("inv.npy", rng.random(10) < 0.5)
    report = tmp_path / "bmvu.json"
    assert main(["compare", "bmvu", "-p", "rows=10", "-p", "cols=100", "-p", "pe=3", "-p",
                 "simd=7", "-p", "thresholds=3", "--input", x, "--weights", w,
                 "--thresholds", t, "--invert", inv, "-o", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["mismatches_rtl_vs_golden"] == 0 and r["shape"] == [25, 10]
