"""Fixed-point multiply-accumulate with stochastic rounding (Gupta et al. 2015)."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .fixed import round_shift, saturate
from .lfsr import LFSR

__all__ = ["FixedPointMAC", "PIPELINE_STAGES"]

#: Optional register stages in the order the ``pipeline`` parameter adds them. The product
#: register comes first because it is the DSP block's own output register (SB_MAC16 and
#: MULT18X18D both have one); the input register matches the DSP input register.
PIPELINE_STAGES = ("product", "input", "output", "round")


class FixedPointMAC(wiring.Component):
    """Signed fixed-point MAC: exact product and accumulator, one rounding, saturation.

    Parameters
    ----------
    params : lowbit.golden.mac.MACParams

    Members
    -------
    i : In(stream.Signature(StructLayout({"a": signed(WL_a), "b": signed(WL_b),
                                          "first": 1, "last": 1})))
        Operand beats. ``first`` starts a new sum, ``last`` ends it and produces a result.
    o : Out(stream.Signature(StructLayout({"value": signed(WL_o), "overflow": 1})))
        One result per ``last`` beat; ``overflow`` is set when the value was saturated
        (or wrapped).

    Latency and throughput
    ----------------------
    One beat per cycle while ``o.ready`` is high. A result appears :attr:`latency` cycles
    after the edge that accepts its ``last`` beat. Back-pressure stalls the whole pipeline
    (``i.ready = o.ready | ~o.valid``).
    """

    def __init__(self, params):
        self.params = params
        p = params
        self._in_layout = data.StructLayout({
            "a": signed(p.fmt_a.wl), "b": signed(p.fmt_b.wl), "first": 1, "last": 1})
        self._out_layout = data.StructLayout({"value": signed(p.fmt_o.wl), "overflow": 1})
        super().__init__({
            "i": In(stream.Signature(self._in_layout)),
            "o": Out(stream.Signature(self._out_layout)),
        })

    @property
    def stages(self):
        """The optional register stages present, by name."""
        return PIPELINE_STAGES[:self.params.pipeline]

    @property
    def latency(self):
        """Cycles from accepting a ``last`` beat to its result: the accumulator plus stages."""
        return 1 + self.params.pipeline

    @property
    def widths(self):
        p = self.params
        return {"a": p.fmt_a.wl, "b": p.fmt_b.wl, "product": p.product_width,
                "term": p.term_width, "accumulator": p.acc_width, "output": p.fmt_o.wl}

    def elaborate(self, platform):
        m = Module()
        p = self.params
        stages = self.stages
        # A global clock enable: the pipeline moves when the output is free or empty.
        ce = Signal()
        m.d.comb += [ce.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(ce)]

        stochastic = p.rounding == "stochastic"
        if stochastic:
            m.submodules.lfsr = lfsr = LFSR(p.lfsr)

        def stage(name, value, present, init=0):
            """Register ``value`` under ``ce`` when the stage is present."""
            if not present:
                return value
            reg = Signal.like(value, name=name, init=init)
            with m.If(ce):
                m.d.sync += reg.eq(value)
            return reg

        # Input stage.
        a = stage("a_q", self.i.payload.a, "input" in stages)
        b = stage("b_q", self.i.payload.b, "input" in stages)
        v0 = stage("valid_q", self.i.valid, "input" in stages)
        f0 = stage("first_q", self.i.payload.first, "input" in stages)
        l0 = stage("last_q", self.i.payload.last, "input" in stages)

        # Product (optionally rounded to fl_o: one LFSR sample per valid product).
        product = Signal(signed(p.product_width))
        m.d.comb += product.eq(a * b)
        term = Signal(signed(p.term_width))
        if p.product_drop > 0:
            rp = min(p.r_bits, p.product_drop)
            m.d.comb += term.eq(round_shift(product, p.product_drop, p.rounding,
                                            lfsr.sample if stochastic else None, rp))
            if stochastic:
                m.d.comb += lfsr.en.eq(v0 & ce)
        else:
            m.d.comb += term.eq(round_shift(product, p.product_drop, p.rounding))
        t1 = stage("term_q", term, "product" in stages)
        v1 = stage("valid_p", v0, "product" in stages)
        f1 = stage("first_p", f0, "product" in stages)
        l1 = stage("last_p", l0, "product" in stages)

        # Accumulator: always a register. Sums of more than 2**guard terms wrap.
        acc = Signal(signed(p.acc_width))
        done = Signal()
        with m.If(ce):
            m.d.sync += done.eq(v1 & l1)
            with m.If(v1):
                with m.If(f1):
                    m.d.sync += acc.eq(t1)
                with m.Else():
                    m.d.sync += acc.eq(acc + t1)

        # Output conversion: round (one LFSR sample per result), then saturate.
        d = p.output_drop
        if d > 0:
            rp = min(p.r_bits, d)
            rounded = round_shift(acc, d, p.rounding, lfsr.sample if stochastic else None, rp)
            if stochastic:
                m.d.comb += lfsr.en.eq(done & ce)
        else:
            rounded = round_shift(acc, d, p.rounding)
        rounded_sig = Signal(signed(len(rounded)))
        m.d.comb += rounded_sig.eq(rounded)
        r2 = stage("rounded_q", rounded_sig, "round" in stages)
        v2 = stage("valid_r", done, "round" in stages)

        value, ovf = saturate(r2, p.fmt_o.wl, wrap=not p.saturate)
        value_sig = Signal(signed(p.fmt_o.wl))
        ovf_sig = Signal()
        m.d.comb += [value_sig.eq(value), ovf_sig.eq(ovf)]
        v3 = stage("valid_o", v2, "output" in stages)
        m.d.comb += [
            self.o.valid.eq(v3),
            self.o.payload.value.eq(stage("value_q", value_sig, "output" in stages)),
            self.o.payload.overflow.eq(stage("overflow_q", ovf_sig, "output" in stages)),
        ]
        return m
