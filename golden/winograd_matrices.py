"""The Winograd F(2,3) matrices (Lavin & Gray 2016; SPEC section 3), read-only int64 arrays
(``G`` float64: it holds halves). :mod:`lowbit.golden.winograd` computes with them and
``hw/winograd.py`` builds the same sums in hardware.
"""

import numpy as np

__all__ = ["B_T", "G", "A_T", "G_SCALED"]


def _const(rows, dtype=np.int64):
    a = np.array(rows, dtype=dtype)
    a.flags.writeable = False
    return a


#: The F(2,3) matrices exactly as in SPEC section 3 (G holds halves, exact in float64).
B_T = _const([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
G = _const([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = _const([[1, 1, 1, 0], [0, 1, -1, -1]])
#: G' = 2G, all integers: the filter transform the hardware computes.
G_SCALED = _const([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]])
