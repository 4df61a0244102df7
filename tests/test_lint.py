"""The generated Verilog passes ``verilator --lint-only -Wall`` except the waivers in
lowbit.sim.lint (one place, each with its reason)."""

import pytest
from lowbit.gen import generated
from lowbit.golden import LFSRParams, MACParams
from lowbit.sim.lint import WAIVERS, lint

from .test_mac_sim import SWEEP

pytestmark = pytest.mark.sim


@pytest.mark.parametrize("overrides", [c for _, c in SWEEP], ids=[n for n, _ in SWEEP])
def test_mac_lint_clean(overrides):
    gen_dir, man = generated("mac", MACParams(**overrides))
    assert lint(gen_dir / man["verilog"]) == []


@pytest.mark.parametrize("width,r_bits", [(3, 1), (16, 8), (64, 16)])
def test_lfsr_lint_clean(width, r_bits):
    gen_dir, man = generated("lfsr", LFSRParams(width=width, r_bits=r_bits))
    assert lint(gen_dir / man["verilog"]) == []


def test_lint_catches_a_real_problem(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output reg y);\n"
                   "always @* if (a) y = 1'b1;\nendmodule\n")
    assert any("LATCH" in line for line in lint(bad))


def test_every_waiver_has_a_reason():
    assert all(len(reason) > 20 for reason in WAIVERS.values())
