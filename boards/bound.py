"""A quick bound before synthesis: does a unit's storage fit the board at all?

Yosys-free and in well under a second: the unit is elaborated (as generation does anyway)
and the bits of its memories counted. A device stores bits in its block RAMs, in LUT RAM
(ECP5 and Gowin; counted generously as 16 bits a LUT) and, at worst, in flip-flops. Memories
that exceed all three together cannot fit, and :func:`check_storage_fits` says so with the
same "does not fit" wording as a failed placement, before minutes of Yosys and nextpnr.
Anything it lets through is for synthesis to decide: a bound, not an estimate.
"""

from ..golden.checks import UsageError
from ..hw.build import elaborate

__all__ = ["memory_bits", "storage_capacity", "check_storage_fits", "BRAM_BITS"]

#: Bits of one block RAM: iCE40 SB_RAM40_4K, ECP5 DP16KD, Gowin B-SRAM (18 Kbit with parity).
BRAM_BITS = {"ice40": 4096, "ecp5": 18432, "gowin": 18432}
#: Bits a LUT can hold as distributed RAM (none on iCE40).
LUTRAM_BITS_PER_LUT = {"ice40": 0, "ecp5": 16, "gowin": 16}


def memory_bits(unit, params):
    """``(total bits, [(depth, width), ...])`` of the unit's memories, from its elaborated
    design (Amaranth's memory instances; no netlist is built)."""
    from amaranth.hdl import Fragment, Shape
    from amaranth.hdl._mem import MemoryInstance

    found = []
    stack = [Fragment.get(elaborate(unit, params), None)]
    while stack:
        frag = stack.pop()
        if isinstance(frag, MemoryInstance):
            data = frag._data
            found.append((data.depth, Shape.cast(data.shape).width))
        stack.extend(sub for sub, *_ in frag.subfragments)
    return sum(d * w for d, w in found), found


def storage_capacity(board):
    """``(total bits, text)``: the most bits ``board``'s device can store."""
    cap = board.capacity
    bram = cap["bram"] * BRAM_BITS[board.family]
    lutram = cap["lut"] * LUTRAM_BITS_PER_LUT[board.family]
    text = f"{cap['bram']} block RAMs of {BRAM_BITS[board.family]:,} bits"
    if lutram:
        text += f", at most {lutram:,} bits of LUT RAM"
    text += f" and {cap['ff']:,} flip-flops"
    return bram + lutram + cap["ff"], text


def check_storage_fits(unit, params, board):
    """Raise UsageError when the unit's memories hold more bits than ``board`` can store."""
    bits, found = memory_bits(unit, params)
    capacity, text = storage_capacity(board)
    if bits > capacity:
        biggest = max(found, key=lambda dw: dw[0] * dw[1])
        raise UsageError(
            f"unit {unit.name} does not fit the {board.device} ({board.name}): its memories "
            f"hold {bits:,} bits (the largest {biggest[0]:,} x {biggest[1]} bits), the device "
            f"at most {capacity:,} ({text}). Try smaller parameters or a larger board.")
    return bits
