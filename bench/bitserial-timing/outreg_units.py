"""For every unit at its default parameters: how many read-data flip-flops the ECP5 flow moves
into block RAMs (boards/outreg.py), from the out-of-context Yosys run lowbit synth makes.
Prints one JSON object (see outreg-units.json)."""

import json

import lowbit.boards.flow as flow
from lowbit.hw.units import UNITS

seen = {}
absorb = flow.absorb_in_file


def counting(path):
    seen["moved"] = absorb(path)
    return seen["moved"]


flow.absorb_in_file = counting
moved = {}
for name in sorted(UNITS):
    flow.netlist_resources(name, None, "ulx3s-85f")
    moved[name] = seen.pop("moved")
print(json.dumps(moved))
