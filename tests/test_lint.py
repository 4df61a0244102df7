"""The generated Verilog passes ``verilator --lint-only -Wall`` except the waivers in
lowbit.sim.lint (one place, each with its reason)."""

import pytest
from lowbit.golden import LFSRParams, MACParams
from lowbit.golden.binary import BMVUParams, PopcountParams, XnorParams
from lowbit.golden.bitserial import DPUParams, P2SParams
from lowbit.golden.winograd import Direct3x3Params, Winograd1DParams, Winograd2DParams
from lowbit.hw.build import generated
from lowbit.hw.units import UNITS
from lowbit.sim.lint import WAIVERS, lint

from .sweeps import CHAIN_SHAPE, CONV2D_SWEEP, LINK_SMALL, MAC_SWEEP, SHAPES, TINY, conv2d_params

pytestmark = [pytest.mark.sim, pytest.mark.rtl]


def _lint(gen_dir, man):
    """The generated Verilog with the models of the vendor cells it instantiates, if any."""
    return lint(gen_dir / man["verilog"], [gen_dir / m for m in man.get("models", [])])


@pytest.mark.parametrize("name", list(UNITS))
def test_every_unit_lint_clean(name):
    """Every unit of the registry at its defaults: a new unit is linted without a line here."""
    unit = UNITS[name]
    gen_dir, man = generated(unit, unit.defaults())
    assert _lint(gen_dir, man) == []


@pytest.mark.parametrize("overrides", [c for _, c in MAC_SWEEP], ids=[n for n, _ in MAC_SWEEP])
def test_mac_lint_clean(overrides):
    gen_dir, man = generated("mac", MACParams(**overrides))
    assert _lint(gen_dir, man) == []


@pytest.mark.parametrize("width,r_bits", [(3, 1), (16, 8), (64, 16)])
def test_lfsr_lint_clean(width, r_bits):
    gen_dir, man = generated("lfsr", LFSRParams(width=width, r_bits=r_bits))
    assert _lint(gen_dir, man) == []


MORE_UNITS = [("popcount", PopcountParams(n=100, spacing=3)),
          ("popcount", PopcountParams(n=7, spacing=0)),
          ("popcount", PopcountParams(n=64, style="plain")),
          ("xnor", XnorParams(n=33, max_length=200, spacing=1)),
          ("bmvu", BMVUParams(rows=10, cols=100, pe=3, simd=7, thresholds=3)),
          ("bmvu", BMVUParams(rows=5, cols=37, pe=2, simd=5, thresholds=0, spacing=0)),
          ("winograd2d", Winograd2DParams(channels=3, pipeline=3, filter_transform="onchip")),
          ("winograd2d", Winograd2DParams(pipeline=0)),
          ("winograd1d", Winograd1DParams(channels=3, filter_transform="onchip")),
          ("direct3x3", Direct3x3Params(channels=3, pipeline=3)),
          ("dpu", DPUParams(dk=1, max_shift=0, acc_width=2, spacing=0)),
          ("dpu", DPUParams(dk=7, max_shift=3, acc_width=6, spacing=1)),
          ("dpu", DPUParams(dk=64, max_shift=30, acc_width=64, spacing=1)),
          ("dpu", DPUParams(dk=33, popcount="chain", spacing=1)),
          ("p2s", P2SParams(elements=1, max_width=1)),
          ("p2s", P2SParams(elements=5, max_width=3)),
          ("p2s", P2SParams(elements=64, max_width=16)),
          ("bitserial", TINY), *(("bitserial", p) for p in SHAPES.values()),
          ("bitserial", CHAIN_SHAPE),
          ("link", LINK_SMALL)]


MORE_UNITS += [("conv2d", conv2d_params(CONV2D_SWEEP[k])) for k in (1, 4, 6, 8)]


@pytest.mark.parametrize("unit,params", MORE_UNITS,
                         ids=[f"{u}-{i}" for i, (u, _) in enumerate(MORE_UNITS)])
def test_more_units_lint_clean(unit, params):
    gen_dir, man = generated(unit, params)
    assert _lint(gen_dir, man) == []


def test_lint_catches_a_real_problem(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output reg y);\n"
                   "always @* if (a) y = 1'b1;\nendmodule\n")
    assert any("LATCH" in line for line in lint(bad))


def test_every_waiver_has_a_reason():
    assert all(len(reason) > 20 for reason in WAIVERS.values())
