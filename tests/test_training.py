"""Gupta et al.'s experiment (lowbit.golden.training, ``lowbit experiment gupta``): the
weight update's rounding (the paper's point, in isolation), a short run of the command, its
bias table recomputed, ``lowbit compare systolic`` through the RTL, and bad input."""

import json
import math

import numpy as np
import pytest
from lowbit.gen.cli import main
from lowbit.golden.gemm import SystolicParams, gemm_golden
from lowbit.golden.training import TrainConfig, _Fixed


@pytest.mark.parametrize("mode", ["nearest", "stochastic"])
def test_updates_below_half_an_eps(mode):
    """A weight of 0 takes 2000 updates of -0.2 eps each (lr 2^-4 times a gradient code of
    -3.2 rounded to -3, so -3/16 eps): round-to-nearest loses every one, stochastic rounding
    keeps their sum within a few eps of the exact 2000 * 3/16 = 375 eps."""
    cfg = TrainConfig(mode=mode, fl=8, lr_shift=4)
    fx = _Fixed(cfg, {"w": (50, 40)})
    w = np.zeros((50, 40), dtype=np.int64)
    for _ in range(2000):
        w = fx.update("w", w, np.full_like(w, -3))
    if mode == "nearest":
        assert (w == 0).all()
    else:
        # Each weight: 2000 Bernoulli(3/16) round-ups: mean 375, sd 17.5.
        assert abs(w.mean() - 375) < 4 * 17.5 / math.sqrt(w.size)
        assert w.std() < 2 * 17.5


def test_gupta_quick_run(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["experiment", "gupta", "--quick", "-o", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == [".lowbit-output", "gupta.png",
                                                     "report.md", "results.json"]
    assert r["fls"] == [8, 12] and r["epochs"] == 1 and len(r["runs"]) == 5
    assert r["summary"]["float32"] < 0.5  # one epoch learns something
    for mode in ("nearest", "stochastic"):
        for fl in ("8", "12"):
            assert 0 <= r["summary"][mode][fl] < 0.9
    report = (out / "report.md").read_text()
    assert "| 8 | 8 |" in report and "| 12 | 4 |" in report
    # The bias table, the predicted rates worked out here: r >= ceil((1 - f) 2^R) rounds up.
    f = round(0.30005 * 2 ** 16) / 2 ** 16
    for b in r["rounding_bias"]:
        R = b["r_bits"]
        need = math.ceil((1 - f) * 2 ** R)
        assert b["predicted_rate"] == (2 ** R - need) / 2 ** R
        assert abs(b["round_up_rate"] - b["predicted_rate"]) < 4 * b["standard_error"]
    assert [b["r_bits"] for b in r["rounding_bias"]] == [4, 8, 16]


@pytest.mark.parametrize("argv, message", [
    (["--fl", "0"], "--fl values must be between 1 and 15"),
    (["--fl", "8,x"], "--fl must be integers separated by commas"),
    (["--epochs", "0"], "--epochs must be between 1 and 500, not 0"),
    (["--seeds", "21"], "--seeds must be between 1 and 20, not 21"),
    (["--images", "5"], "--images is for the quantnets, bnn and cnn experiments, not gupta"),
])
def test_experiment_bad_input(usage_error, tmp_path, argv, message):
    usage_error(["experiment", "gupta", *argv, "-o", str(tmp_path / "g")], message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.sim
@pytest.mark.mac
def test_compare_systolic_through_rtl(tmp_path, capsys, npy):
    rng = np.random.default_rng(3)
    a = rng.uniform(-4, 4, size=(5, 7))  # floats: quantized to <4,12>
    b = rng.integers(-(1 << 15), 1 << 15, size=(7, 3))  # integers: raw codes
    report = tmp_path / "s.json"
    assert main(["compare", "systolic", "-p", "rows=2", "-p", "cols=3", "--input",
                 npy("a.npy", a), "--rhs", npy("b.npy", b), "-o", str(report)]) == 0
    assert "RTL vs golden mismatches: 0" in capsys.readouterr().out
    r = json.loads(report.read_text())
    assert r["mismatches_rtl_vs_golden"] == 0 and r["results"] == 15
    codes = np.floor(a * 4096 + 0.5).astype(np.int64)  # nearest, ties up
    C, _ = gemm_golden(SystolicParams(rows=2, cols=3), codes, b)
    assert [v[0] for v in r["rtl_values"]] == C.reshape(-1).tolist()


def test_compare_systolic_bad_input(usage_error, tmp_path, npy):
    a = npy("a.npy", np.ones((3, 4), np.int64))
    usage_error(["compare", "systolic", "--input", a, "-o", str(tmp_path / "r.json")],
                "systolic needs --rhs FILE.npy")
    b = npy("b.npy", np.ones((5, 2), np.int64))
    usage_error(["compare", "systolic", "--input", a, "--rhs", b, "-o",
                 str(tmp_path / "r.json")], "must agree on K: A is (3, 4), B is (5, 2)")
    big = npy("c.npy", np.full((4, 2), 1 << 20, np.int64))
    usage_error(["compare", "systolic", "--input", a, "--rhs", big, "-o",
                 str(tmp_path / "r.json")], "integer input is taken as raw B codes of <4,12>")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.sim
@pytest.mark.mac
def test_a_training_steps_gemms_through_the_rtl(sim):
    """The five GEMMs of one stochastic training step (forward, loss gradient back, weight
    gradients) of a 64-8-10 network, run back to back through the generated systolic array
    (its PEs' LFSRs continuing from GEMM to GEMM as the training's lanes do), equal the
    golden GEMM's results that the training used."""
    from lowbit.golden.gemm import systolic_job
    from lowbit.golden.job import chain
    from lowbit.golden.training import train
    from lowbit.sim.runner import run_unit

    cfg = TrainConfig(mode="stochastic", fl=8, hidden=8, batch=4, rows=3, cols=4)
    record = []
    assert train(cfg, record=record, max_steps=1) is None
    assert [(a.shape, b.shape) for a, b, _ in record] == [
        ((4, 65), (65, 8)), ((4, 9), (9, 10)), ((4, 10), (10, 9)), ((9, 4), (4, 10)),
        ((65, 4), (4, 8))]
    p = cfg.gemm_params()
    job = chain([systolic_job(p, a, b) for a, b, _ in record])
    got, _, resp, _ = run_unit("systolic", p, job, sim=sim, idle=0.1, backpressure=0.1)
    assert got is not None, f"{len(resp['out'])} tiles"
    for (_, _, c), (rtl, _) in zip(record, got, strict=True):
        assert (rtl == c).all()
