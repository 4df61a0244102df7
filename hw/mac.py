"""Fixed-point multiply-accumulate with stochastic rounding (Gupta et al. 2015)."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import add, delay, pipelined_add, segments
from .fixed import round_offset, saturate
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

    def _segments(self, width):
        return len(segments(width, self.params.carry_chain))

    @property
    def _round_widths(self):
        """Adder widths of the product and output roundings (None where nothing is added)."""
        p = self.params
        adds = p.rounding != "truncate"
        prod = p.product_width + 1 if (adds and p.product_drop > 0) else None
        out = p.acc_width + 1 if (adds and p.output_drop > 0) else None
        return prod, out

    @property
    def stages(self):
        """The optional register stages present, by name."""
        return PIPELINE_STAGES[:self.params.pipeline]

    @property
    def latency(self):
        """Cycles from accepting a ``last`` beat to its result: the accumulator, the pipeline
        stages, and one per extra carry-chain segment (``carry_chain``)."""
        p = self.params
        prod, out = self._round_widths
        extra = (self._segments(p.acc_width) - 1
                 + (self._segments(prod) - 1 if prod else 0)
                 + (self._segments(out) - 1 if out else 0))
        return 1 + p.pipeline + extra

    @property
    def widths(self):
        p = self.params
        return {"a": p.fmt_a.wl, "b": p.fmt_b.wl, "product": p.product_width,
                "term": p.term_width, "accumulator": p.acc_width, "output": p.fmt_o.wl,
                "accumulator_segments": self._segments(p.acc_width)}

    def _round(self, m, ce, x, d, sample, name):
        """``x`` rounded by ``d`` bits: offset, carry-cut add, shift. Returns (value, stages)."""
        p = self.params
        rp = min(p.r_bits, d) if d > 0 else 0
        off = round_offset(x, d, p.rounding, sample, rp)
        if off is None:
            return (x >> d) if d > 0 else (x << -d), 0
        n = len(x) + 1
        xs, os_ = Signal(signed(n), name=f"{name}_x"), Signal(n, name=f"{name}_off")
        m.d.comb += [xs.eq(x), os_.eq(off)]
        total, stages = pipelined_add(m, ce, xs, os_, p.carry_chain, name=name)
        return total.as_signed() >> d, stages

    def _accumulate(self, m, ce, term, valid, first, last):
        """The accumulator, cut into carry segments; segment j runs j cycles behind segment 0.

        Returns ``(acc, done)``: the full sum (deskewed) and the flag that it is a result.
        A segment's carry belongs to the same beat in the next segment, one cycle later, so a
        ``first`` that restarts segment j never sees a carry of the previous sum.
        """
        p = self.params
        bounds = segments(p.acc_width, p.carry_chain)
        k_last = len(bounds) - 1
        ext = Signal(signed(p.acc_width))
        m.d.comb += ext.eq(term)
        parts, carry = [], None
        for j, (lo, hi) in enumerate(bounds):
            w = hi - lo
            t_j = delay(m, ce, ext[lo:hi], j, name=f"term{j}")
            v_j = delay(m, ce, valid, j, name=f"valid{j}", reset_less=False)
            f_j = delay(m, ce, first, j, name=f"first{j}")
            acc_j = Signal(w, name=f"acc{j}")
            c_j = Signal(name=f"carry{j}")
            with m.If(ce):
                m.d.sync += c_j.eq(0)
                with m.If(v_j):
                    # The mux before the adder (one adder, its operand 0 on `first`) measured
                    # 38.3 MHz / 132 LUTs on the UP5K against 35.9 MHz / 93 LUTs with the mux
                    # after it: speed is what the carry-chain cut is for.
                    s = add(Mux(f_j, 0, acc_j), t_j, carry)
                    m.d.sync += acc_j.eq(s[:w])
                    if j < k_last:
                        m.d.sync += c_j.eq(s[w])
            carry = c_j
            parts.append(delay(m, ce, acc_j, k_last - j, name=f"acc{j}_d"))
        done = Signal()
        v_top = delay(m, ce, valid, k_last, name="valid_top", reset_less=False)
        l_top = delay(m, ce, last, k_last, name="last_top")
        with m.If(ce):
            m.d.sync += done.eq(v_top & l_top)
        acc = Signal(signed(p.acc_width))
        m.d.comb += acc.eq(Cat(*parts))
        return acc, done

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
        sample = lfsr.sample if stochastic else None

        def data_stage(name, value, present):
            # Data registers have no reset, so Yosys can pack them into the DSP blocks.
            return delay(m, ce, value, int(present), name=name)

        def ctl_stage(name, value, present):
            return delay(m, ce, value, int(present), name=name, reset_less=False)

        # Input stage.
        a = data_stage("a_q", self.i.payload.a, "input" in stages)
        b = data_stage("b_q", self.i.payload.b, "input" in stages)
        v0 = ctl_stage("valid_q", self.i.valid, "input" in stages)
        f0 = data_stage("first_q", self.i.payload.first, "input" in stages)
        l0 = data_stage("last_q", self.i.payload.last, "input" in stages)

        # Product, optionally rounded to fl_o (one LFSR sample per valid product).
        product = Signal(signed(p.product_width))
        m.d.comb += product.eq(a * b)
        rounded, n_r = self._round(m, ce, product, p.product_drop, sample, "prnd")
        if stochastic and p.product_drop > 0:
            m.d.comb += lfsr.en.eq(v0 & ce)
        term = Signal(signed(p.term_width))
        m.d.comb += term.eq(rounded)
        v0 = delay(m, ce, v0, n_r, name="valid_pr", reset_less=False)
        f0 = delay(m, ce, f0, n_r, name="first_pr")
        l0 = delay(m, ce, l0, n_r, name="last_pr")
        t1 = data_stage("term_q", term, "product" in stages)
        v1 = ctl_stage("valid_p", v0, "product" in stages)
        f1 = data_stage("first_p", f0, "product" in stages)
        l1 = data_stage("last_p", l0, "product" in stages)

        # Accumulator: always registered. Sums of more than 2**guard terms wrap.
        acc, done = self._accumulate(m, ce, t1, v1, f1, l1)

        # Output conversion: round (one LFSR sample per result), then saturate.
        rounded, n_o = self._round(m, ce, acc, p.output_drop, sample, "ornd")
        if stochastic and p.output_drop > 0:
            m.d.comb += lfsr.en.eq(done & ce)
        rounded_sig = Signal(signed(len(rounded)))
        m.d.comb += rounded_sig.eq(rounded)
        done = delay(m, ce, done, n_o, name="done_or", reset_less=False)
        r2 = data_stage("rounded_q", rounded_sig, "round" in stages)
        v2 = ctl_stage("valid_r", done, "round" in stages)

        value, ovf = saturate(r2, p.fmt_o.wl, wrap=not p.saturate)
        value_sig = Signal(signed(p.fmt_o.wl))
        ovf_sig = Signal()
        m.d.comb += [value_sig.eq(value), ovf_sig.eq(ovf)]
        m.d.comb += [
            self.o.valid.eq(ctl_stage("valid_o", v2, "output" in stages)),
            self.o.payload.value.eq(data_stage("value_q", value_sig, "output" in stages)),
            self.o.payload.overflow.eq(data_stage("overflow_q", ovf_sig, "output" in stages)),
        ]
        return m
