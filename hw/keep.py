"""Submodules that synthesis keeps apart, so that copies of a register survive.

A control signal that steers thousands of flip-flops (a wide register's clock enable) is a
net whose loads span the die; the usual cure is to keep copies of its registers, each
steering one slice of the loads. Yosys's ``opt_merge`` merges flip-flops with the same
inputs in a flattened design, and ``keep`` on their wires does not stop it. It cannot merge
across a module boundary, so each copy goes in a submodule that the synthesis flows keep as
its own module through synthesis (Yosys's ``keep_hierarchy``) and flatten afterwards
(:data:`lowbit.boards.flow.KEEP_HIERARCHY`). In the generated Verilog these are ordinary
modules; simulation is not affected.
"""

from amaranth.hdl import Elaboratable, Module, Signal

__all__ = ["KEEP_PREFIX", "add_kept", "register_copies"]

#: Name prefix of a submodule kept apart through synthesis (the flows select modules by it).
KEEP_PREFIX = "keep_"


def add_kept(m, name, elaboratable):
    """``m.submodules[KEEP_PREFIX + name] = elaboratable``: a submodule whose registers
    synthesis must not merge with those of its siblings."""
    m.submodules[KEEP_PREFIX + name] = elaboratable
    return elaboratable


class _Register(Elaboratable):
    """A register, ``q <= d``, in a module of its own."""

    def __init__(self, width, init, name, reset_less):
        self.d = Signal(width, name="d")
        self.q = Signal(width, init=init, name=name, reset_less=reset_less)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.d)
        return m


def register_copies(m, name, next_value, count, *, init=0, reset_less=False):
    """``count`` copies of a register whose next value is ``next_value`` (its width), each
    kept apart through synthesis (``name0``, ``name1``, ...), for loads spread over the die:
    each copy can sit beside the loads it drives (``reset_less`` for data, which needs no
    reset). ``next_value`` may also be a list, a next value for each copy (of one width).
    Returns their outputs."""
    nexts = next_value if isinstance(next_value, list) else [next_value] * count
    assert len(nexts) == count
    copies = []
    for k, value in enumerate(nexts):
        reg = add_kept(m, f"{name}{k}", _Register(len(value), init, name, reset_less))
        m.d.comb += reg.d.eq(value)
        copies.append(reg.q)
    return copies
