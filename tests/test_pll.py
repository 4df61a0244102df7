"""The PLLs behind ``lowbit synth --clock-mhz``: their dividers, their limits, their refusals.

The dividers are checked against the PLL equations written out here (never the search that
chose them) and against what Lattice's tools print for two frequencies (``icepll -i 12 -o
36`` and ``ecppll -i 25 -o 90``, Project IceStorm and Trellis, run once by hand); the place and
route of designs with either PLL is in ``tests/test_synth.py``.
"""

import pytest
from lowbit.boards import get_board
from lowbit.boards.targets import ICE40PLL, PLL
from lowbit.gen.cli import main
from lowbit.golden.checks import UsageError

pytestmark = [pytest.mark.synth]


def _ice40_out(p):
    return p.in_hz * (p.divf + 1) / ((p.divr + 1) * 2 ** p.divq)


@pytest.mark.parametrize("mhz", [18, 24, 30, 36, 42, 48, 60, 96, 120, 204])
def test_ice40_pll_makes_the_frequency_within_its_limits(mhz):
    p = ICE40PLL.for_output(12_000_000, mhz * 1_000_000)
    assert _ice40_out(p) == mhz * 1e6
    pfd, vco = 12e6 / (p.divr + 1), _ice40_out(p) * 2 ** p.divq
    assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6
    assert 0 <= p.divr <= 15 and 0 <= p.divf <= 127 and 1 <= p.divq <= 6
    assert p.filter_range == 1  # a 12 MHz phase detector: the table's first range (< 17 MHz)


def test_ice40_pll_as_icepll_chooses():
    p = ICE40PLL.for_output(12_000_000, 36_000_000)
    assert (p.divr, p.divf, p.divq, p.filter_range) == (0, 47, 4, 1)


@pytest.mark.parametrize("mhz", [45, 60, 75, 90, 100, 105, 120, 150])
def test_ecp5_pll_makes_the_frequency_within_its_limits(mhz):
    p = PLL.for_output(25_000_000, mhz * 1_000_000)
    assert 25e6 / p.clki_div * p.clkfb_div == mhz * 1e6
    assert 25e6 / p.clki_div >= 3.125e6 and 400e6 <= mhz * 1e6 * p.clkop_div <= 800e6


def test_ecp5_pll_as_ecppll_chooses_and_the_board_default():
    p = PLL.for_output(25_000_000, 90_000_000)
    assert (p.clki_div, p.clkfb_div, p.clkop_div) == (5, 18, 7)  # VCO 630 MHz
    # The ULX3S's own link clock: the dividers its board entry named by hand before the
    # search existed (25 / 5 x 9, VCO 585 MHz).
    ulx3s = get_board("ulx3s-85f")
    assert ulx3s.link_clock_mhz == 45
    p = ulx3s.clock_pll(45)
    assert (p.clki_div, p.clkfb_div, p.clkop_div) == (5, 9, 13)


@pytest.mark.parametrize("in_hz,out_hz", [(12_000_000, 37_000_000), (12_000_000, 1_000_000),
                                          (25_000_000, 33_333_333)])
def test_frequencies_no_pll_makes_exactly(in_hz, out_hz):
    kind = ICE40PLL if in_hz == 12_000_000 else PLL
    assert kind.for_output(in_hz, out_hz) is None


def test_the_nearby_frequencies_are_made_exactly():
    for name, made in (("icebreaker", _ice40_out),
                       ("ulx3s-85f", lambda p: p.in_hz / p.clki_div * p.clkfb_div)):
        board = get_board(name)
        near = board.pll_frequencies(37)
        assert len(near) == 6 and all(made(board.pll_for(f)) == f * 1e6 for f in near)


@pytest.mark.parametrize("board,mhz", [("icebreaker", 9), ("icebreaker", 276),
                                       ("ulx3s-85f", 500)])
def test_outputs_beyond_the_pll_range_are_refused(board, mhz):
    """SB_PLL40 PLLOUT 16..275 MHz, EHXPLLL CLKOP up to 400 MHz, though a divider set exists
    (12 MHz x 48 / 64 = 9 MHz, VCO 576 MHz)."""
    b = get_board(board)
    with pytest.raises(UsageError, match=f"--clock-mhz {mhz}: the {board} PLL cannot make it"):
        b.pll_for(mhz)
    assert all(16 <= f <= (275 if board == "icebreaker" else 400)
               for f in b.pll_frequencies(mhz))


@pytest.mark.parametrize("argv,message", [
    (["--clock-mhz", "37"], "--clock-mhz 37: the icebreaker PLL cannot make it exactly from "
                            "12 MHz; nearby: 30, 33, 36, 39, 42, 45 MHz"),
    (["--clock-mhz", "18", "--baud", "4000000"],  # 4.5 cycles a bit
     "--baud 4000000 at --clock-mhz 18 on icebreaker: baud 4000000 at clk_hz 18000000"),
    (["--clock-mhz", "24", "--harness", "scan"], "--clock-mhz sets the clock of a unit behind "
                                                 "the host link"),
    (["--clock-mhz", "54", "--board", "tangnano9k"], "lowbit has no PLL for tangnano9k"),
    (["--clock-mhz", "0"], "--clock-mhz: must be between 1 and 1000"),
])
def test_bad_clocks_are_refused_before_any_tool(argv, message, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["synth", "mac", "-o", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()
