"""ECP5 carry chains: no fabric cells at their ends where none is needed.

nextpnr-ecp5 (``ecp5/pack.cc``, ``pack_carries``) starts every chain whose first CCU2C has a
net on ``CIN`` with a feed-in CCU2C (the carry from the fabric), and ends every chain whose
last ``COUT`` has a net with a feed-out CCU2C (the carry to the fabric): two logic cells
each, four a chain. Yosys's abc9 ties an unconnected ``CIN`` to 0 and gives every ``COUT`` a
net, used or not, so every chain gets both. :func:`free_chain_ends` rewrites the synthesized
JSON netlist between Yosys and nextpnr where the behaviour at the pins cannot change:

- a ``COUT`` that nothing reads (no cell input, no module output) is left unconnected;
- a constant ``CIN`` is left unconnected where it reaches nothing read: the first half's
  propagate LUT is 0 for every value its inputs can take (its tied pins as they are), so the
  carry out of that half is its generate (``cout = p ? cin : g``), and its sum ``S0 = p ^
  cin`` is read by nothing.

Both hold for the chains :func:`lowbit.hw.popcount.popcount_chain` builds (a guard position
first, ``p = 0``; the last carry out unread): 4 logic cells a chain, 44 chains in its 256-bit
popcount (bench/popcount-chain has it after the pass: 462). Yosys's own adders start with
``p = A ^ B``, so they keep their feed-in, and lose a feed-out where their carry out is
unread.
"""

from itertools import product

from .outreg import _int_param, _nets

__all__ = ["free_chain_ends"]


def _never_propagates(cell):
    """Whether the first half's LUT (``INIT0`` on A0..D0) is 0 for every value of its
    unconstant inputs, its constant ones as they are tied."""
    init = _int_param(cell["parameters"].get("INIT0", "0"))
    if init is None:
        return False
    pins = [cell["connections"].get(p, ["x"])[0] for p in ("A0", "B0", "C0", "D0")]
    choices = [(int(b),) if b in ("0", "1") else (0, 1) for b in pins]
    return all(not init >> (a | b << 1 | c << 2 | d << 3) & 1
               for a, b, c, d in product(*choices))


def free_chain_ends(module):
    """Unconnect the carry ends of ``module``'s CCU2C cells that reach nothing read (the
    module docstring); returns ``{"carry_ins", "carry_outs"}``, how many were freed."""
    sinks, _ = _nets(module)
    counts = {"carry_ins": 0, "carry_outs": 0}
    for cell in module["cells"].values():
        if cell["type"] != "CCU2C":
            continue
        conn = cell["connections"]
        cout = conn.get("COUT", [])
        if cout and isinstance(cout[0], int) and not sinks.get(cout[0]):
            conn["COUT"] = ["x"]
            counts["carry_outs"] += 1
        s0 = conn.get("S0", [])
        s0_read = bool(s0) and isinstance(s0[0], int) and bool(sinks.get(s0[0]))
        if conn.get("CIN") in (["0"], ["1"]) and not s0_read and _never_propagates(cell):
            conn["CIN"] = ["x"]
            counts["carry_ins"] += 1
    return counts
