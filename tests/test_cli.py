"""The ``lowbit`` command line: outputs, help, and one clear message with exit 2 for bad input."""

import json

import numpy as np
import pytest
from lowbit.gen.cli import main

COMMANDS = ["list", "generate", "test", "synth", "compare", "demo", "bench", "sweep",
            "experiment"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_explains_every_option(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in {"generate": ["--param", "--output"], "synth": ["--board", "--target-mhz"],
                "compare": ["--input", "--terms", "--quantize", "--netlist"],
                "test": ["--sim", "--jobs", "--netlist"],
                "list": ["--json"], "demo": ["--board"],
                "bench": ["--workers", "--scheduler", "--no-pnr"],
                "sweep": ["--param", "--point", "--workers", "--scheduler", "--retry-failed",
                          "--yes", "--metric", "Pareto"],
                "experiment": ["--fl", "--epochs", "--seeds", "--quick", "float32"]}[command]:
        assert opt in text


def test_list_shows_units_parameters_and_boards(capsys):
    assert main(["list", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["units"]["mac"]["parameters"]["guard"]["default"] == 8
    assert set(info["boards"]) == {"icebreaker", "ulx3s-85f", "tangnano9k"}
    assert info["boards"]["tangnano9k"]["device"] == "GW1NR-9C"


def test_generate_writes_verilog_and_manifest(tmp_path, capsys):
    out = tmp_path / "mac"
    assert main(["generate", "mac", "-p", "il_a=2", "-p", "fl_a=6", "-p", "pipeline=0",
                 "-o", str(out)]) == 0
    man = json.loads((out / "lowbit_mac.json").read_text())
    assert man["params"]["il_a"] == 2 and man["latency"] == 1
    assert man["widths"]["accumulator"] == 8 + 16 + 8
    assert "module lowbit_mac(" in (out / "lowbit_mac.v").read_text()
    assert sorted(p.name for p in out.iterdir()) == [".lowbit-output", "lowbit_mac.json",
                                                     "lowbit_mac.v"]


@pytest.mark.parametrize("argv,message", [
    (["generate", "mac", "-p", "il_a=0"], "il_a must be >= 1"),
    (["generate", "mac", "-p", "fl_o=-1"], "fl_o must be >= 0, not -1"),
    (["generate", "mac", "-p", "il_a=30", "-p", "fl_a=8"], "must be <= 32, not 30 + 8 = 38"),
    (["generate", "mac", "-p", "rounding=ceil"], "rounding must be one of"),
    (["generate", "mac", "-p", "r_bits=17"], "r_bits must be between 1 and lfsr_width = 16"),
    (["generate", "mac", "-p", "seed=0"], "seed must not be 0"),
    (["generate", "mac", "-p", "colour=red"], "unknown parameter 'colour'"),
    (["synth", "mac", "--board", "de0-nano"], "unknown board 'de0-nano'; choose one of: "
                                              "icebreaker, ulx3s-85f, tangnano9k"),
    (["synth", "mac", "--target-mhz", "0"], "--target-mhz: must be between 1 and 1000, not 0"),
    (["synth", "mac", "--lut-mapping", "delay"],
     "--lut-mapping delay is for ECP5 boards; icebreaker is ice40 (use the default, area)"),
    (["synth", "bitserial", "-p", "popcount=chain"],
     "popcount=chain instantiates ECP5 carry cells; icebreaker is ice40: use popcount=packed "
     "or tree"),
    (["compare", "lfsr", "--input", "x.npy"],
     "compare is available for: mac, popcount, xnor, bmvu"),
    (["compare", "mac", "--input", "x.npy", "--netlist", "de0-nano"], "unknown board 'de0-nano'"),
])
def test_bad_input_one_message_exit_2_nothing_written(argv, message, tmp_path, capsys,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv + ["-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv,message", [
    (["generate", "conv"], "invalid choice: 'conv'"),
    (["generate", "mac", "-p"], "expected one argument"),
])
def test_argparse_usage_errors_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_compare_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((4, 3)))
    big = tmp_path / "big.npy"
    np.save(big, np.array([[40000, 1]]))
    for path, message in ((tmp_path / "missing.npy", "no such file"),
                          (bad, "not a readable .npy array"),
                          (wrong, "must have shape (n, 2) or (m, k, 2)"),
                          (big, "element 0 is 40000")):
        assert main(["compare", "mac", "--input", str(path)]) == 2
        assert message in capsys.readouterr().err
    np.save(wrong, np.zeros((6, 2)))
    assert main(["compare", "mac", "--input", str(wrong), "--terms", "4"]) == 2
    assert "--terms must be >= 1 and divide the 6 input rows" in capsys.readouterr().err


@pytest.mark.sim
@pytest.mark.mac
def test_compare_user_floats_through_rtl_and_golden(tmp_path, capsys):
    rng = np.random.default_rng(3)
    data = rng.normal(0, 0.5, size=(50, 16, 2))
    path = tmp_path / "dots.npy"
    np.save(path, data)
    report = tmp_path / "report.json"
    assert main(["compare", "mac", "--input", str(path), "-o", str(report)]) == 0
    text = capsys.readouterr().out
    assert "RTL vs golden mismatches: 0" in text
    r = json.loads(report.read_text())
    assert r["results"] == 50 and r["terms_per_result"] == 16
    # nearest rounding at the output: every error within half an output LSB
    assert r["error_vs_exact_eps"]["max_abs"] <= 0.5
    ref = (data[..., 0] * data[..., 1]).sum(axis=1)
    assert np.allclose(r["rtl_values"], ref, atol=16 * 2 ** -11 + 2 ** -8)


@pytest.mark.parametrize("board,message", [
    ("de0-nano", "unknown board 'de0-nano'"),
])
def test_test_netlist_of_an_unknown_board(board, message, usage_error):
    usage_error(["test", "mac", "--netlist", board], message)


def test_compare_on_a_netlist_the_models_do_not_cover(tmp_path, usage_error, monkeypatch):
    """A netlist with a cell the family's models do not cover (boards.netlist refuses it with
    NetlistError, see tests/test_netlist_sim.py): one message, exit 2, nothing written."""
    import lowbit.boards.netlist as netlist

    def refuse(*args, **kwargs):
        raise netlist.NetlistError("the gowin netlist uses SDPB, which the family's "
                                   "simulation models do not model")

    monkeypatch.setattr(netlist, "netlist_design", refuse)
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.arange(6).reshape(2, 3))
    np.save(b, np.arange(6).reshape(3, 2))
    out = tmp_path / "out"
    usage_error(["compare", "bitserial", "--input", str(a), "--rhs", str(b), "--netlist",
                 "tangnano9k", "-o", str(out)],
                "--netlist tangnano9k: the gowin netlist uses SDPB")
    assert not out.exists()
