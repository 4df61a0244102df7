"""Board targets, the scan harness, and synthesis to a bitstream with a resource/Fmax report."""

from .flow import SynthError, netlist_resources, synth
from .harness import ScanHarness, ScanTop
from .report import format_report
from .targets import BOARDS, DEFAULT_BOARD, Board, get_board

__all__ = ["BOARDS", "DEFAULT_BOARD", "Board", "get_board", "synth", "netlist_resources",
           "SynthError",
           "format_report", "ScanHarness", "ScanTop"]
