"""Seconds and size of one bit-serial engine's RTLIL, its widest wires and its cell counts.

usage: python bench/popcount-expression/rtlil_size.py dm=1 dn=1 dk=1024 [KEY=VALUE ...]
"""

import collections
import re
import sys
import time

from amaranth.back import rtlil
from lowbit.hw import units
from lowbit.hw.build import elaborate

kv = dict(a.split("=") for a in sys.argv[1:])
kv = {k: int(v) if v.isdigit() else v for k, v in kv.items()}
unit = units.UNITS["bitserial"]
t = time.time()
text = rtlil.convert(elaborate(unit, unit.params_cls(**kv)), name=unit.top, emit_src=False)
print(sys.argv[1:], round(time.time() - t, 1), "s", len(text) // 1000, "kB")
ws = sorted(((int(m.group(1)), m.group(2))
             for m in re.finditer(r"wire width (\d+) (?:\w+ \d+ )*(\S+)", text)), reverse=True)
print(ws[:15])
print(collections.Counter(m.group(1) for m in re.finditer(r"\n  cell (\S+)", text)).most_common(12))
