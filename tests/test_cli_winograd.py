"""The CLI for the Winograd units and the conv layer: compare through the RTL, bad input."""

import json

import numpy as np
import pytest
from lowbit.gen.cli import main
from lowbit.golden.images import digits, named_filter


@pytest.mark.parametrize("argv,message", [
    (["generate", "winograd2d", "-p", "data_width=1"],
     "data_width must be between 2 and 16, not 1"),
    (["generate", "winograd2d", "-p", "weight_width=17"],
     "weight_width must be between 2 and 16, not 17"),
    (["generate", "direct3x3", "-p", "channels=0"], "channels must be between 1 and 1024, not 0"),
    (["generate", "winograd1d", "-p", "filter_transform=fpga"],
     "filter_transform must be one of 'offline', 'onchip'"),
    (["generate", "conv2d", "-p", "channels=0"], "channels must be between 1 and 1024, not 0"),
    (["generate", "conv2d", "-p", "height=2", "-p", "padding=valid"],
     "height must be >= 3 (the filter size) with padding='valid', not 2"),
    (["generate", "conv2d", "-p", "width=0"], "width must be between 1 and 4096, not 0"),
    (["generate", "conv2d", "-p", "padding=full"], "padding must be one of 'valid', 'same'"),
    (["synth", "conv2d", "--board", "de10"], "unknown board 'de10'"),
    (["generate", "conv2d", "-p", "relu=yes"],
     "relu belong to the requantizer: give out_width (2..32) too"),
    (["generate", "conv2d", "-p", "out_width=30"],
     "out_width must be <= 19, not 30: the accumulator's 19 bits, shifted right by 0"),
    (["generate", "conv2d", "-p", "out_width=8", "-p", "shift=20"],
     "shift must be between 0 and 18, not 20"),
    (["generate", "conv2d", "-p", "out_width=1"], "out_width must be 0 (no requantization)"),
    (["generate", "conv2d", "-p", "engine=fft"], "engine must be one of 'winograd', 'direct'"),
    (["generate", "conv2d", "-p", "engine=direct", "-p", "filter_transform=onchip"],
     "filter_transform is for engine=winograd"),
    (["generate", "conv2d", "-p", "out_width=8", "-p", "rounding=up"],
     "rounding must be one of 'truncate', 'nearest'"),
    (["generate", "conv2d", "-p", "filters=257"], "filters must be between 1 and 256, not 257"),
    (["generate", "conv2d", "-p", "filters=6", "-p", "parallel=4"],
     "parallel must divide filters=6 (0 for all of them): one of 1, 2, 3, 6, not 4"),
    (["generate", "conv2d", "-p", "filters=2", "-p", "parallel=3"],
     "parallel must divide filters=2 (0 for all of them): one of 1, 2, not 3 (give -p "
     "filters=K for more filters)"),
    (["generate", "conv2d", "-p", "parallel=257"], "parallel must be between 0 and 256"),
    (["generate", "conv2d", "-p", "width=4096", "-p", "filters=16"],
     "4 x width x filters x output_width must be <= "),
])
def test_bad_parameters_exit_2_nothing_written(argv, message, tmp_path, usage_error):
    usage_error(argv + ["-o", str(tmp_path / "out")], message)
    assert not (tmp_path / "out").exists()


def test_bad_files_exit_2_nothing_written(tmp_path, usage_error, npy):
    img = npy("img.npy", np.zeros((8, 8), dtype=np.int64))
    lap = npy("lap.npy", named_filter("laplacian")[0])
    tiles = npy("tiles.npy", np.zeros((5, 1, 4, 4), dtype=np.int64))
    cases = [
        (["conv2d", "--input", img, "--filter", npy("f5.npy", np.ones((5, 5),
                                                                                 dtype=int))],
         "--filter for conv2d must have shape (filters=1, channels=1, 3, 3) or (1, 3, 3) or "
         "(3, 3), not (5, 5)"),
        (["conv2d", "--input", img, "--filter", npy("f3.npy", np.ones((3, 3, 3),
                                                                                 dtype=int))],
         "--filter for conv2d must have shape (filters=1, channels=1, 3, 3) or (1, 3, 3) or "
         "(3, 3), not (3, 3, 3)"),
        (["conv2d", "--input", npy("small.npy", np.zeros((2, 2), dtype=int)),
          "--filter", lap, "-p", "padding=valid"],
         "height must be >= 3 (the filter size) with padding='valid', not 2"),
        (["conv2d", "--input", img, "--filter", lap, "-p", "height=9"],
         "--input for conv2d must have shape (C, H, W) = (1, 9, 8)"),
        (["conv2d", "--input", img, "--filter", lap, "-p", "channels=0"],
         "channels must be between 1 and 1024, not 0"),
        (["conv2d", "--input", npy("f.npy", np.zeros((8, 8))), "--filter", lap],
         "--input must hold integers (raw two's complement codes), not float64"),
        (["conv2d", "--input", npy("big.npy", np.full((8, 8), 200)),
          "--filter", lap], "image values must lie in [-128, 127] (data_width = 8), not 200"),
        (["conv2d", "--input", img],
         "conv2d needs --filter FILE.npy of shape (1, 1, 3, 3) or (1, 3, 3) or (3, 3)"),
        (["conv2d", "--input", img, "--filter", lap, "--bias", npy("b.npy", np.array([3]))],
         "--bias is for a conv2d with a bias (-p bias=yes -p out_width=...)"),
        (["conv2d", "--input", img, "--filter", lap, "-p", "out_width=8", "-p", "bias=yes"],
         "this conv2d has a bias memory: give --bias FILE.npy (one integer)"),
        (["conv2d", "--input", img, "--filter", lap, "-p", "out_width=8", "-p", "bias=yes",
          "--bias", npy("b2.npy", np.array([1, 2]))],
         "--bias for conv2d holds one integer, not shape (2,)"),
        (["conv2d", "--input", img, "--filter", npy("k2.npy", np.ones((2, 1, 3, 3), dtype=int)),
          "-p", "filters=3"],
         "--filter for conv2d must have shape (filters=3, channels=1, 3, 3), not (2, 1, 3, 3)"),
        (["conv2d", "--input", img, "--filter", npy("k4.npy", np.ones((4, 1, 3, 3), dtype=int)),
          "-p", "parallel=3"],
         "parallel must divide filters=4 (0 for all of them): one of 1, 2, 4, not 3"),
        (["conv2d", "--input", img, "--filter", npy("k2b.npy", np.ones((2, 1, 3, 3), dtype=int)),
          "-p", "out_width=8", "-p", "bias=yes", "--bias", npy("b3k.npy", np.array([1, 2, 3]))],
         "--bias for conv2d holds one integer or 2 (one per filter), not shape (3,)"),
        (["conv2d", "--input", img, "--filter", lap, "-p", "out_width=8", "-p", "bias=yes",
          "--bias", npy("b3.npy", np.array([1 << 20]))],
         "--bias: bias must be between -262144 and 262143, not 1048576"),
        (["conv2d", "--input", img, "--filter", str(tmp_path / "missing.npy")],
         "cannot read --filter"),
        (["winograd2d", "--input", tiles, "--filter", lap],
         "--filter for winograd2d must have shape (1, 3, 3) or (tiles=5, 1, 3, 3), not (3, 3)"),
        (["winograd2d", "--input", npy("t3.npy", np.zeros((5, 1, 3, 3), dtype=int)),
          "--filter", lap], "--input for winograd2d must have shape (tiles, channels=1, 4, 4)"),
        (["winograd1d", "--input", tiles, "--filter", lap],
         "--input for winograd1d must have shape (tiles, channels=1, 4)"),
        (["popcount", "--input", tiles, "--filter", lap],
         "--filter applies to conv2d, direct3x3, winograd1d, winograd2d, not popcount"),
    ]
    for argv, message in cases:
        report = tmp_path / "report.json"
        usage_error(["compare", *argv, "-o", str(report)], message)
        assert not report.exists()


@pytest.mark.sim
@pytest.mark.winograd
def test_compare_winograd_units_through_rtl(tmp_path, capsys, npy):
    # Parameter sets of the simulation sweeps (the defaults), so their builds are reused.
    rng = np.random.default_rng(21)
    tiles = npy("tiles.npy", rng.integers(-128, 128, size=(30, 1, 4, 4)))
    filt = npy("filt.npy", rng.integers(-128, 128, size=(30, 1, 3, 3)))
    for unit in ("winograd2d", "direct3x3"):
        assert main(["compare", unit, "--input", tiles, "--filter", filt]) == 0
        out = capsys.readouterr().out
        assert "RTL vs golden mismatches: 0" in out and "30 x 2 x 2" in out

    # Five digits as (N, C, H, W) with the default 8x8 'same' layer.
    imgs = npy("digits.npy", digits()[:5])
    report = tmp_path / "conv.json"
    assert main(["compare", "conv2d", "--input", imgs, "--filter",
                 npy("lap.npy", named_filter("laplacian")), "-o", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["mismatches_rtl_vs_golden"] == 0 and r["shape"] == [5, 1, 8, 8]
    assert r["params"]["height"] == 8 and 0 < r["values_per_cycle"] <= 1

    # Two filters (K, C, 3, 3) on five 5x7 crops, one lane (CONV2D_FILTERS_SWEEP[0]'s
    # build): filters is taken from the filter's shape.
    two = npy("two.npy", np.stack([named_filter("laplacian"), named_filter("blur")]))
    crops = npy("crops.npy", digits()[:5, :, :5, :7])
    assert main(["compare", "conv2d", "--input", crops, "--filter", two, "-p", "parallel=1",
                 "-o", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["mismatches_rtl_vs_golden"] == 0 and r["shape"] == [5, 2, 5, 7]
    assert r["params"]["filters"] == 2 and r["params"]["parallel"] == 1
