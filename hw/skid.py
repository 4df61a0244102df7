"""A stream output whose handshake does not reach the pipeline behind it: a skid register and
a registered pipeline enable (used by the bit-serial engine's readout, ``bmvu`` and the tile
engines)."""

from amaranth.hdl import Elaboratable, Module, Mux, Signal

from .keep import add_kept

__all__ = ["skid_output"]


class _Enable(Elaboratable):
    """A copy of the pipeline's enable ``~skid_valid | ~out_valid`` as a register: it takes the
    value that expression will have next cycle, from the flags' next values (the skid fills
    when the stream refuses a valid beat and empties when it is ready; the last stage loads
    ``feed``, the stage before it, when the pipeline advances). Both flags reset to 0, so the
    enable resets to 1. A submodule kept apart through synthesis (:mod:`lowbit.hw.keep`), so
    that each copy drives its own loads."""

    def __init__(self):
        self.o_ready, self.out_valid, self.skid_valid, self.feed = (
            Signal(name=n) for n in ("o_ready", "out_valid", "skid_valid", "feed"))
        self.ce = Signal(init=1, name="ce")

    def elaborate(self, platform):
        m = Module()
        skid_next = ~self.o_ready & (self.out_valid | self.skid_valid)
        out_next = Mux(self.ce, self.feed, self.out_valid)
        m.d.sync += self.ce.eq(~skid_next | ~out_next)
        return m


def skid_output(m, o, out_valid, feed, fields, *, copies, name):
    """Drive stream ``o`` from a pipeline's last stage through a skid register; return the
    pipeline's enable, one kept register copy per name in ``copies``.

    ``out_valid`` is the last stage's valid flag and ``feed`` the flag of the stage before it
    (what the last stage loads when the pipeline advances); ``fields`` pairs each payload
    value of the last stage with the part of ``o.payload`` it drives. The pipeline advances
    while the skid is empty or its last stage is empty; a beat that ``o`` refuses goes into the
    skid. So ``o.ready`` reaches only the skid's valid flag, the payload multiplexer and the
    enable registers, none of the pipeline's own registers (their enable is a flip-flop). No
    latency: with the skid empty a beat passes straight through. In the bit-serial engine's
    readout this took the path from the harness's ``o.ready`` through the enable into the
    loop counters off the critical path (7.37 ns, 5.90 of it routing, at 4x256x4 on the
    ECP5-85F; then 7.18 ns with the enable a LUT of the two flags: bench/bitserial-fanout).
    Returns ``(enables, skid_valid)``."""
    skid_valid = Signal(name=f"{name}_skid_valid")
    enables = []
    for copy in copies:
        en = add_kept(m, copy, _Enable())
        m.d.comb += [en.o_ready.eq(o.ready), en.out_valid.eq(out_valid),
                     en.skid_valid.eq(skid_valid), en.feed.eq(feed)]
        enables.append(en.ce)
    for k, (value, target) in enumerate(fields):
        held = Signal.like(value, name=f"{name}_skid{k}", reset_less=True)
        # Loaded whenever the skid is empty (it is read only while skid_valid is set), so
        # that o.ready is not in the enable of its register.
        with m.If(~skid_valid):
            m.d.sync += held.eq(value)
        m.d.comb += target.eq(Mux(skid_valid, held, value))
    with m.If(o.ready):
        m.d.sync += skid_valid.eq(0)
    with m.Elif(out_valid):
        m.d.sync += skid_valid.eq(1)
    m.d.comb += o.valid.eq(out_valid | skid_valid)
    return enables, skid_valid
