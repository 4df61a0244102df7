"""Synthesis to a bitstream with the YoWASP tools: the default MAC on both boards.

Each run takes a few seconds once the YoWASP caches are warm (the first call of each tool
compiles WebAssembly for about 40 s; TOOLCHAIN pitfall 2). Both runs share one xdist worker.
"""

import json
import re

import pytest
from lowbit.boards import BOARDS, get_board, synth
from lowbit.golden import MACParams
from lowbit.golden.checks import UsageError
from lowbit.hw.build import generated

pytestmark = [pytest.mark.synth, pytest.mark.mac]

# SB_MAC16 (with synth_ice40 -dsp) on the UP5K, MULT18X18D on the ECP5.
DSP_CELL = {"icebreaker": "SB_MAC16", "ulx3s-85f": "MULT18X18D"}


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s-85f"])
def test_mac_default_to_bitstream(board, tmp_path):
    out = tmp_path / board
    report = synth("mac", MACParams(), board, out)

    bitstream = out / report["bitstream"]
    assert bitstream.suffix == get_board(board).bitstream_ext
    assert bitstream.stat().st_size > 0
    assert json.loads((out / "report.json").read_text()) == report
    text = (out / "report.txt").read_text()
    assert "Fmax" in text
    # The unit's latency, as its manifest (lowbit generate) gives it.
    assert report["latency"] == generated("mac", MACParams())[1]["latency"]
    assert f"latency: {report['latency']} cycles" in text

    unit = report["unit_resources"]
    assert unit["dsp"] == 1, f"unit cells on {board}: {report['unit_cells']}"
    assert report["unit_cells"][DSP_CELL[board]] == 1
    assert unit["lut"] > 0 and unit["ff"] > 0
    # The harness adds registers, never DSPs: the one multiplier is the unit's.
    assert report["harness_resources"]["dsp"] == 0

    fmax = report["fmax_mhz"]
    assert fmax is not None and fmax > 0, report["notes"]
    assert report["board_clock_mhz"] == {"icebreaker": 12.0, "ulx3s-85f": 25.0}[board]
    assert report["target_mhz"] == get_board(board).pnr_target_mhz
    assert report["meets_board_clock"] == (fmax >= report["board_clock_mhz"])
    assert report["meets_target"] == (fmax >= report["target_mhz"])


def test_unknown_board_lists_the_boards(tmp_path):
    with pytest.raises(UsageError, match="unknown board 'nexys'") as info:
        synth("mac", MACParams(), "nexys", tmp_path / "out")
    for name in BOARDS:
        assert name in str(info.value)
    assert not (tmp_path / "out").exists()


def test_unknown_placer_names_nextpnrs(tmp_path):
    with pytest.raises(UsageError, match="unknown placer 'annealing'; choose one of: heap, "
                                         "static, sa"):
        synth("mac", MACParams(), "icebreaker", tmp_path / "out", placer="annealing")
    assert not (tmp_path / "out").exists()


#: (board, --clock-mhz, the PLL cell nextpnr places): the iCEBreaker at its oscillator and
#: from its SB_PLL40 at 24 MHz (3 Mbaud = 24 MHz / 8), the ULX3S from its EHXPLLL at 90 MHz
#: (3 Mbaud = 90 MHz / 30; the board's own link clock is 45 MHz from the same PLL).
LINK_CLOCKS = [("icebreaker", None, None), ("icebreaker", 24, "ICESTORM_PLL"),
               ("ulx3s-85f", 90, "EHXPLLL")]


@pytest.mark.parametrize("board,clock,pll", LINK_CLOCKS,
                         ids=[f"{b}-{c or 'osc'}" for b, c, _ in LINK_CLOCKS])
def test_mac_behind_the_host_link(board, clock, pll, tmp_path):
    """The link harness: the UART pins, link.json for the driver; the clock the design runs
    at (the oscillator's or the PLL's), which it must meet, and both clocks in the report."""
    out = tmp_path / board
    # Two runs also pass nextpnr's options through (lowbit synth --seed --placer --router,
    # --tmg-ripup).
    pnr = {"ICESTORM_PLL": dict(seed=3, placer="static", router="router2"),
           "EHXPLLL": dict(tmg_ripup=True)}.get(pll, {})
    report = synth("mac", MACParams(), board, out, harness="link", clock_mhz=clock, **pnr)
    assert report["nextpnr"] == {"seed": pnr.get("seed"), "placer": pnr.get("placer"),
                                 "router": pnr.get("router"), "tmg-ripup": pnr.get("tmg_ripup")}
    text = (out / "report.txt").read_text()
    placed_by = "Running Static placer" in (out / "logs" / "nextpnr.log").read_text()
    assert placed_by == ("placer" in pnr)
    if "router" in pnr:
        assert "Running router2" in (out / "logs" / "nextpnr.log").read_text()
        assert "nextpnr: --seed 3, --placer static, --router router2\n" in text
    elif pnr:
        assert "nextpnr: --tmg-ripup\n" in text
    else:
        assert "nextpnr:" not in text
    # router1 says what its timing-driven rip-up did, and only with the flag.
    ripped = "ripped up due to negative slack" in (out / "logs" / "nextpnr.log").read_text()
    assert ripped == bool(pnr.get("tmg_ripup"))
    b = get_board(board)
    mhz = clock or b.board_clock_mhz
    info = json.loads((out / "link.json").read_text())
    assert info["link"]["baud"] == b.link_baud == 3_000_000
    assert info["link"]["clk_hz"] == int(mhz * 1e6)
    assert info["unit_map"]["unit"] == "mac" and info["unit_map"]["in_width"] == 34
    h = report["harness"]
    assert h["kind"] == "link" and h["pins"] == {"rx": "uart_0:rx", "tx": "uart_0:tx"}
    assert h["actual_baud"] == 3_000_000
    assert report["unit_resources"]["dsp"] == 1 and report["harness_resources"]["dsp"] == 0
    assert report["board_clock_mhz"] == mhz and report["oscillator_mhz"] == b.board_clock_mhz
    assert report["meets_board_clock"], (report["fmax_mhz"], report["critical_path"])
    if pll is None:
        assert "pll" not in h and "PLL clock" not in text
    else:
        assert report["utilization"][pll]["used"] == 1
        assert h["pll_mhz"] == mhz and f"= {mhz:g} MHz" in h["pll"]
        assert re.search(rf"PLL clock +{mhz:.2f} MHz +met", text) and "oscillator" in text


def test_unit_without_streams_cannot_sit_behind_the_link(tmp_path):
    with pytest.raises(UsageError, match="unit lfsr cannot sit behind the host link.*"
                                         "use --harness scan"):
        synth("lfsr", None, "icebreaker", tmp_path / "out", harness="link")
    assert not (tmp_path / "out").exists()
