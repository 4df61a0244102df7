"""``lowbit experiment gupta``: Gupta et al. 2015's experiment on lowbit's exact arithmetic
(:mod:`lowbit.golden.training`): test error against FL at a word length of 16 for
round-to-nearest and stochastic rounding, against float32; and the bias of the array's
stochastic rounding for R = 4, 8, 16 random bits (:mod:`lowbit.golden.gemm`).

Writes ``DIR/results.json`` (every run's per-epoch test error, its configuration, the
command), ``DIR/report.md`` (the tables) and ``DIR/gupta.png`` (the figure), atomically.
"""

import argparse
import json
import math
import os
import sys
import textwrap
import time
from pathlib import Path

from ..golden.checks import UsageError

__all__ = ["add_parser", "run", "run_gupta", "rounding_bias", "run_quantnets", "rtl_matmul",
           "run_bnn", "QUANTNETS", "QUANTNET_ENGINE", "LINK_PRODUCTS"]

#: The defaults of the full run (about 7 minutes on one core).
FLS = (8, 9, 10, 11, 12, 13, 14)
MODES = ("nearest", "stochastic")
#: The dropped fraction of the bias measurement, in eps (issue 18's example).
BIAS_FRACTION = 0.30005
BIAS_R = (4, 8, 16)


#: The networks of ``lowbit experiment quantnets``: (name, configuration overrides).
QUANTNETS = (("TWN, 4-bit activations", dict(kind="twn", a_bits=4)),
             ("DoReFa, 4-bit activations, 2-bit weights", dict(kind="dorefa", a_bits=4,
                                                               w_bits=2)),
             ("DoReFa, 2-bit activations, 1-bit weights", dict(kind="dorefa", a_bits=2,
                                                               w_bits=1)))
#: The bit-serial engine the quantized networks run on: 16 images a run, 64 inputs and 64
#: hidden units at most, 4-bit activations and 3-bit weight codes.
QUANTNET_ENGINE = dict(dm=2, dn=2, dk=32, max_wa=4, max_wb=3, max_m=16, max_k=64, max_n=64)


#: The resident-weight products of ``lowbit experiment bnn``'s link section: ``(wa, wb)`` on
#: the iCEBreaker's bit-serial engine, A (max_m x max_k) against a resident B (max_k x max_n).
LINK_PRODUCTS = ((4, 4), (1, 1))


def add_parser(sub):
    p = sub.add_parser(
        "experiment", help="reproduce a paper's experiment on lowbit's arithmetic (gupta, "
                           "quantnets)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "quantnets: train a TWN and two DoReFa networks (64-64-10) on the digits in "
            "numpy, then run the test images through them with every matrix product on the "
            "generated bit-serial engine (simulated, Verilator), each layer's weights "
            "resident in the engine across its runs; every layer's integers must equal the "
            "golden model's; accuracy printed. --images N: the first N test images (default "
            "all 397). ", 79) + "\n\n" + textwrap.fill(
            "gupta: train a 64-H-10 network on the scikit-learn digits with every matrix "
            "product, forward and backward, and every weight update in 16-bit fixed point "
            "<IL, FL> (lowbit's golden GEMM, the systolic array's arithmetic bit for bit), "
            "for FL in --fl, with round-to-nearest and with stochastic rounding, against "
            "float32; then the bias of the array's stochastic rounding for R = 4, 8 and 16 "
            "random bits. Writes DIR/results.json, DIR/report.md and DIR/gupta.png. The full "
            "run takes about seven minutes; --quick (one epoch, FL 8 and 12, one seed) under "
            "a minute.", 79) + "\n\n" + textwrap.fill(
            "bnn: the digits BNN (64-256-10) generated into the on-chip network (unit bnn) "
            "behind the host link (12 MHz, 3 Mbaud, simulated with Verilator): the test images "
            "through Device.classify, every class against golden, accuracy, images a second "
            "against the line's limit and the chip's own rate; then 4-bit and 1-bit products "
            "with resident weights on the iCEBreaker's bit-serial engine through the link, "
            "operands as words and as bit planes, against the engine's own time (the "
            "link-bound factor). Writes DIR/results.json, DIR/report.md and DIR/digits-bnn.npz "
            "(the network, for -p network=). --images N: the first N test images.", 79)
        + "\n\n" + textwrap.fill(
            "cnn: a small CNN on the digits (two 3x3 conv layers of 8 filters, 8-bit weights "
            "and activations, a dense layer), trained in numpy and quantized; the test images "
            "through the generated conv2d layers (both engines, Verilator) and the dense layer "
            "through the bit-serial engine, the RTL's output of each layer the next one's "
            "input; every layer against golden, accuracy beside the float model's, each "
            "layer's cycles an image. Writes DIR/results.json and DIR/report.md. --images N: "
            "the first N test images; --quick: 3 epochs, 20 images.", 79))
    p.add_argument("name", choices=["gupta", "quantnets", "bnn", "cnn"],
                   help="the experiment")
    p.add_argument("-o", "--output", type=Path, default=Path("lowbit-experiment/gupta"),
                   metavar="DIR", help="output directory (default: ./lowbit-experiment/NAME)")
    p.add_argument("--fl", default=None, metavar="FL,FL,...",
                   help=f"fraction bits to train at, word length 16 (default: "
                        f"{','.join(map(str, FLS))}; each 1..15)")
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="gupta, cnn: passes over the 1400 training images (default: 30; "
                        "1..500)")
    p.add_argument("--seeds", type=int, default=None, metavar="N",
                   help="runs of each case with seeds 1..N, averaged (default: 3; 1..20)")
    p.add_argument("--quick", action="store_true",
                   help="gupta: one epoch, FL 8 and 12, one seed (what the tests run); "
                        "quantnets: 16 test images; bnn: 40; cnn: 20 and 3 epochs")
    p.add_argument("--images", type=int, default=None, metavar="N",
                   help="quantnets, bnn, cnn: the first N of the 397 test images (default: "
                        "all)")
    return p


def _fls(text):
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--fl must be integers separated by commas, not {text!r}") from None
    bad = [v for v in values if not 1 <= v <= 15]
    if bad:
        raise UsageError(f"--fl values must be between 1 and 15 (word length 16), not {bad[0]}")
    return sorted(set(values))


#: The experiments that run test images through the RTL: their function, the images of
#: --quick and what else --quick changes.
_IMAGE_RUNS = {"quantnets": ("run_quantnets", 16, {}), "bnn": ("run_bnn", 40, {}),
               "cnn": ("run_cnn", 20, {"epochs": 3})}


def run(args):
    if args.name in _IMAGE_RUNS:
        function, quick, quick_kw = _IMAGE_RUNS[args.name]
        for opt in ("fl", "epochs", "seeds"):
            if getattr(args, opt) is not None and not (opt == "epochs" and args.name == "cnn"):
                raise UsageError(f"--{opt} is for the gupta experiment"
                                 f"{' and cnn' if opt == 'epochs' else ''}, not {args.name}")
        extra = dict(quick_kw) if args.quick else {}
        if args.epochs is not None:
            if not 1 <= args.epochs <= 500:
                raise UsageError(f"--epochs must be between 1 and 500, not {args.epochs}")
            extra["epochs"] = args.epochs
        images = args.images if args.images is not None else (quick if args.quick else 397)
        if not 1 <= images <= 397:
            raise UsageError(f"--images must be between 1 and 397, not {images}")
        out = args.output if args.output != Path("lowbit-experiment/gupta") else \
            Path(f"lowbit-experiment/{args.name}")
        command = ["experiment", args.name, "-o", str(out),
                   *(["--images", str(args.images)] if args.images is not None else []),
                   *(["--epochs", str(args.epochs)] if args.epochs is not None else []),
                   *(["--quick"] if args.quick else [])]
        return globals()[function](out, images=images, command=command, **extra)
    if args.images is not None:
        raise UsageError("--images is for the quantnets, bnn and cnn experiments, not gupta")
    fls = _fls(args.fl)
    for name, value, hi in (("--epochs", args.epochs, 500), ("--seeds", args.seeds, 20)):
        if value is not None and not 1 <= value <= hi:
            raise UsageError(f"{name} must be between 1 and {hi}, not {value}")
    if args.quick:
        fls, epochs, seeds = fls or [8, 12], args.epochs or 1, args.seeds or 1
    else:
        fls, epochs, seeds = fls or list(FLS), args.epochs or 30, args.seeds or 3
    command = ["experiment", "gupta", "-o", str(args.output),
               *(["--fl", args.fl] if args.fl else []),
               *(["--epochs", str(args.epochs)] if args.epochs else []),
               *(["--seeds", str(args.seeds)] if args.seeds else []),
               *(["--quick"] if args.quick else [])]
    return run_gupta(args.output, fls=fls, epochs=epochs, seeds=seeds, command=command)


def rounding_bias(r_bits, *, fraction=BIAS_FRACTION, count=100_000):
    """Round-up rate of ``count`` (or a few more) conversions of ``fraction`` eps on a 4 x 4
    array with ``r_bits`` random bits (:func:`lowbit.golden.gemm.gemm_golden`): the measured
    rate, the rate the quantized fraction predicts, the bias against the true fraction (in
    eps) and its standard error."""
    import numpy as np

    from ..golden.gemm import SystolicParams, gemm_golden

    p = SystolicParams(rows=4, cols=4, il_a=4, fl_a=16, il_b=2, fl_b=8, il_o=8, fl_o=8,
                       rounding="stochastic", r_bits=r_bits, lfsr_width=max(16, r_bits))
    d = p.mac.output_drop
    x = round(fraction * (1 << d))
    side = math.isqrt(count) + 1
    up, _ = gemm_golden(p, np.full((side, 1), x), np.ones((1, side), dtype=np.int64))
    rate = float(up.mean())
    rp = min(r_bits, d)
    frac = x / (1 << d)
    # r uniform on [0, 2^R'): up iff x + r 2^(d - R') >= 2^d
    need = -(-((1 << d) - x) // (1 << (d - rp)))
    predicted = ((1 << rp) - need) / (1 << rp)
    return {"r_bits": r_bits, "conversions": int(up.size), "fraction_eps": frac,
            "round_up_rate": rate, "predicted_rate": predicted, "bias_eps": rate - frac,
            "predicted_bias_eps": predicted - frac,
            "standard_error": math.sqrt(predicted * (1 - predicted) / up.size)}


def run_gupta(outdir, *, fls, epochs, seeds, command=None, stream=None):
    from ..golden.training import FLOAT, TrainConfig, load_digits_real, train
    from ..hw.build import atomic_dir, check_output_dir

    stream = stream or sys.stderr
    outdir = Path(outdir)
    check_output_dir(outdir)
    data = load_digits_real()
    cases = [(FLOAT, None)] + [(m, fl) for fl in fls for m in MODES]
    runs, t0 = [], time.perf_counter()
    for k, (mode, fl) in enumerate(cases, start=1):
        for s in range(1, seeds + 1):
            cfg = TrainConfig(mode=mode, fl=fl if fl is not None else 12, epochs=epochs,
                              seed=s)
            start = time.perf_counter()
            r = train(cfg, data)
            r["seconds"] = round(time.perf_counter() - start, 2)
            if mode == FLOAT:
                r["il"] = None
                r["config"]["fl"] = None
            runs.append(r)
            label = mode if fl is None else f"{mode} <{16 - fl},{fl}>"
            print(f"[{k}/{len(cases)} seed {s}] {label}: test error {r['test_error']:.4f} "
                  f"({r['seconds']:.1f} s)", file=stream, flush=True)
    bias = [rounding_bias(r) for r in BIAS_R]
    results = {"command": list(command or []), "epochs": epochs, "seeds": seeds,
               "fls": fls, "word_length": 16, "network": "64-64-10, ReLU, softmax",
               "data": "scikit-learn digits, 1400 train / 397 test",
               "seconds": round(time.perf_counter() - t0, 1), "cpu_count": os.cpu_count(),
               "runs": runs, "summary": _summary(runs, fls), "rounding_bias": bias}
    with atomic_dir(outdir) as tmp:
        _plot(results, tmp / "gupta.png")
        (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (tmp / "report.md").write_text(_report(results))
    print(f"wrote {outdir / 'results.json'}, {outdir / 'report.md'} and {outdir / 'gupta.png'}")
    return 0


def _summary(runs, fls):
    def mean(rs):
        return sum(r["test_error"] for r in rs) / len(rs)
    out = {"float32": mean([r for r in runs if r["config"]["mode"] == "float32"])}
    for mode in MODES:
        out[mode] = {str(fl): mean([r for r in runs if r["config"]["mode"] == mode
                                    and r["config"]["fl"] == fl]) for fl in fls}
        out[f"{mode}_logits_saturated_last_epoch"] = {
            str(fl): max(r["logits_saturated"][-1] for r in runs
                         if r["config"]["mode"] == mode and r["config"]["fl"] == fl)
            for fl in fls}
    return out


def _report(res):
    s = res["summary"]
    lines = ["# Gupta et al. 2015 on lowbit's arithmetic: 16-bit fixed-point training", "",
             f"Command: `lowbit {' '.join(res['command'])}`" if res["command"] else "", "",
             f"Network {res['network']}; {res['data']}; {res['epochs']} epochs, batch 20, "
             f"learning rate 2^-4, mean of {res['seeds']} seed(s). Every matrix product "
             f"(forward and backward) and every weight update in <IL, FL> with IL = 16 - FL, "
             f"computed by lowbit's golden GEMM (the systolic array's arithmetic) on an 8 x 8 "
             f"array's LFSR lanes. Test error (fraction of the 397 test images):", "",
             "| FL | IL | nearest | stochastic | float32 | logits saturated in the last "
             "epoch (nearest / stochastic, worst seed) |", "|---|---|---|---|---|---|"]
    for fl in res["fls"]:
        sat = [s[f"{m}_logits_saturated_last_epoch"][str(fl)] for m in MODES]
        lines.append(f"| {fl} | {16 - fl} | {s['nearest'][str(fl)]:.4f} | "
                     f"{s['stochastic'][str(fl)]:.4f} | {s['float32']:.4f} | "
                     f"{100 * sat[0]:.2f}% / {100 * sat[1]:.2f}% |")
    lines += ["", "![test error against FL](gupta.png)", "",
              "## Stochastic rounding's bias against R", "",
              f"{res['rounding_bias'][0]['conversions']} conversions of a value whose dropped "
              f"fraction is {BIAS_FRACTION} eps, on a 4 x 4 array (golden GEMM = RTL):", "",
              "| R | round-up rate | predicted (fraction quantized to R bits) | bias (eps) "
              "| standard error |", "|---|---|---|---|---|"]
    for b in res["rounding_bias"]:
        lines.append(f"| {b['r_bits']} | {b['round_up_rate']:.5f} | "
                     f"{b['predicted_rate']:.5f} | {b['bias_eps']:+.5f} | "
                     f"{b['standard_error']:.5f} |")
    return "\n".join(lines) + "\n"


def _plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = res["summary"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for mode, marker in (("nearest", "s"), ("stochastic", "o")):
        ax.plot(res["fls"], [100 * s[mode][str(f)] for f in res["fls"]], marker=marker,
                label=f"{mode} rounding")
    ax.axhline(100 * s["float32"], color="k", linestyle="--", label="float32")
    ax.set_xlabel("FL (word length 16, IL = 16 - FL)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"digits, 64-64-10, {res['epochs']} epochs, fixed-point training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


# ---------------------------------------------------------------- quantnets


def rtl_matmul(params, *, sim="verilator", seed=1, log=None):
    """A ``matmul(a, c, layer)`` for :meth:`lowbit.golden.quantnets.QuantNet.forward` that runs
    on the generated bit-serial engine: the rows of ``a`` in runs of ``max_m``, back to back
    in one simulation, the first loading the layer's weights ``c`` and the others keeping
    them (weight-resident); each run's product is checked against numpy's before it is used.
    Records each layer's runs, cycles and mismatches in ``matmul.stats``."""
    import numpy as np

    from ..golden.bitserial import MatmulRun, bitserial_runs
    from ..golden.job import chain
    from ..sim.runner import run_unit

    stats = []

    def matmul(a, c, layer, *, wa, wb):
        runs = [MatmulRun(a[m:m + params.max_m], c, wa, wb, False, True, m > 0)
                for m in range(0, len(a), params.max_m)]
        got, _, resp, _ = run_unit("bitserial", params, chain(bitserial_runs(params, runs)),
                                   sim=sim, seed=seed, idle=0.0, backpressure=0.0)
        if got is None:
            raise RuntimeError(f"layer {layer}: the engine's results came back lost "
                               f"({len(resp['out'])} tiles)")
        out = np.concatenate(got)
        want = a.astype(np.int64) @ c
        bad = int(np.count_nonzero(out != want))
        stats.append({"layer": layer, "runs": len(runs), "rows": int(len(a)),
                      "K": int(c.shape[0]), "N": int(c.shape[1]), "cycles": resp["cycles"],
                      "mismatches": bad})
        if log:
            log(f"layer {layer}: {len(runs)} run(s) of up to {params.max_m} rows (the first "
                f"loads the weights, the others keep them), {resp['cycles']} cycles, {bad} "
                f"mismatches")
        return out

    matmul.stats = stats
    return matmul


def run_quantnets(outdir, *, images=397, command=None, stream=None, nets=QUANTNETS):
    """Train each network of ``nets``, run ``images`` test images through the RTL, write
    ``outdir`` (``results.json``, ``report.md``); returns 0, or 1 when the RTL differed."""
    import dataclasses

    import numpy as np

    from ..golden.bitserial import BitSerialParams
    from ..golden.quantnets import QuantNetConfig, train_quantnet
    from ..golden.training import load_digits_real
    from ..hw.build import atomic_dir, check_output_dir

    stream = stream or sys.stderr
    outdir = Path(outdir)
    check_output_dir(outdir)
    data = load_digits_real()
    x_te, y_te = data[2][:images], data[3][:images]
    params = BitSerialParams(**QUANTNET_ENGINE)
    entries, t0, bad = [], time.perf_counter(), 0
    for name, over in nets:
        cfg = QuantNetConfig(**over)
        start = time.perf_counter()
        net, history = train_quantnet(cfg, data)
        train_s = time.perf_counter() - start
        xq = net.inputs(x_te)
        golden = net.forward(xq)
        mm = rtl_matmul(params, log=lambda t, n=name: print(f"{n}: {t}", file=stream,
                                                             flush=True))
        start = time.perf_counter()
        rtl = net.forward(xq, lambda a, c, layer, cfg=cfg, mm=mm: mm(
            a, c, layer, wa=cfg.a_bits, wb=cfg.weight_code_bits))
        sim_s = time.perf_counter() - start
        same = bool(np.array_equal(rtl, golden))
        bad += sum(s["mismatches"] for s in mm.stats) + (not same)
        acc = {"rtl": float((rtl.argmax(axis=1) == y_te).mean()),
               "golden_all_397": float((net.forward(net.inputs(data[2])).argmax(axis=1)
                                        == data[3]).mean())}
        entries.append({"name": name, "config": dataclasses.asdict(cfg), "images": images,
                        "accuracy": acc, "rtl_equals_golden": same, "layers": mm.stats,
                        "test_error_by_epoch": history, "train_seconds": round(train_s, 2),
                        "rtl_seconds": round(sim_s, 1),
                        "weight_codes": [sorted(np.unique(c).tolist()) for c in net.codes]})
        print(f"{name}: accuracy {100 * acc['rtl']:.1f}% on {images} test images through the "
              f"RTL (golden on all 397: {100 * acc['golden_all_397']:.1f}%), RTL "
              f"{'equals' if same else 'DIFFERS from'} golden", file=stream, flush=True)
    results = {"command": list(command or []), "engine": dataclasses.asdict(params),
               "images": images, "seconds": round(time.perf_counter() - t0, 1),
               "networks": entries}
    lines = ["# TWN and DoReFa networks on the bit-serial engine", "",
             f"Command: `lowbit {' '.join(results['command'])}`" if command else "", "",
             f"64-64-10 networks trained in numpy on the digits (1400 images), then the first "
             f"{images} of the 397 test images through the generated bit-serial engine "
             f"({params.dm} x {params.dk} x {params.dn}, simulated), every layer's weights "
             f"resident across its runs of {params.max_m} images.", "",
             "| network | weight codes | accuracy through the RTL | golden, all 397 | RTL = "
             "golden | RTL cycles (both layers) |", "|---|---|---|---|---|---|"]
    for e in entries:
        lines.append(f"| {e['name']} | {e['weight_codes'][0]} | {100 * e['accuracy']['rtl']:.1f}"
                     f"% | {100 * e['accuracy']['golden_all_397']:.1f}% | "
                     f"{'yes' if e['rtl_equals_golden'] else 'NO'} | "
                     f"{sum(s['cycles'] for s in e['layers'])} |")
    with atomic_dir(outdir) as tmp:
        (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (tmp / "report.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {outdir / 'results.json'} and {outdir / 'report.md'}")
    return 1 if bad else 0


def resident_products(transport, args):
    """A host script (:func:`lowbit.sim.host.run_host`): ``load_weights(B)``, then products
    ``A`` against it, each with its device time and the bytes the host sent."""
    import numpy as np

    from ..host import Device

    dev = Device(transport, args["unit_map"], timeout=0.05)
    dev.load_weights(np.array(args["B"]), wb=args["wb"])
    out = []
    for A in args["As"]:
        start, sent = transport.now(), transport.sent_bytes
        C = dev.matmul(np.array(A), wa=args["wa"])
        out.append({"C": C.tolist(), "seconds": transport.now() - start,
                    "host_bytes": transport.sent_bytes - sent})
    return out


def quantnet_through_link(transport, args):
    """A host script: a :class:`~lowbit.golden.quantnets.QuantNet` (``args["net"]``: its
    configuration, weight codes, scales and biases) on activation codes ``args["x"]``, every
    layer's product on the engine through the link with the layer's weights resident; returns
    the logits, and each layer's device time and bytes each way."""
    import numpy as np

    from ..golden.quantnets import QuantNet, QuantNetConfig
    from ..host import Device

    n = args["net"]
    cfg = QuantNetConfig(**n["cfg"])
    net = QuantNet(cfg, [np.array(c) for c in n["codes"]], n["scales"],
                   [np.array(b) for b in n["biases"]])
    dev = Device(transport, args["unit_map"], timeout=0.05)
    layers = []

    def matmul(a, c, layer):
        start, sent, got = transport.now(), transport.sent_bytes, transport.received_bytes
        dev.load_weights(c, wb=cfg.weight_code_bits)
        out = dev.matmul(a, wa=cfg.a_bits, a_signed=False)
        layers.append({"layer": layer, "seconds": transport.now() - start,
                       "host_bytes": transport.sent_bytes - sent,
                       "device_bytes": transport.received_bytes - got})
        return out

    logits = net.forward(np.array(args["x"]), matmul)
    return {"logits": logits.tolist(), "layers": layers}


def _quantnets_through_link(images, stream):
    """QUANTNETS' networks, trained, on ``images`` test images through the simulated link
    (the engine of QUANTNET_ENGINE with operands as planes): logits against golden, images a
    second, bytes each way and the engine's own time."""
    import dataclasses

    import numpy as np

    from ..golden.bitserial import BitSerialParams
    from ..golden.quantnets import QuantNetConfig, train_quantnet
    from ..golden.training import load_digits_real
    from ..hw.build import generated
    from ..hw.units import hosted
    from ..sim.host import run_host

    data = load_digits_real()
    params = BitSerialParams(**QUANTNET_ENGINE, operands="planes")
    unit, hp = hosted("bitserial", params)
    gen_dir, man = generated(unit, hp)
    rows = []
    for name, over in QUANTNETS:
        cfg = QuantNetConfig(**over)
        net, _ = train_quantnet(cfg, data)
        xq = net.inputs(data[2][:images])
        want = net.forward(xq)
        spec = {"cfg": dataclasses.asdict(cfg), "codes": [c.tolist() for c in net.codes],
                "scales": [float(s) for s in net.scales],
                "biases": [b.tolist() for b in net.biases]}
        got, resp = run_host(gen_dir, man, hp.link,
                             "lowbit.gen.experiment:quantnet_through_link",
                             {"unit_map": man["unit_map"], "net": spec, "x": xq.tolist()})
        if got is None:
            raise RuntimeError(f"the link run failed: {resp.get('error')}")
        same = bool(np.array_equal(np.array(got["logits"]), want))
        seconds = sum(lay["seconds"] for lay in got["layers"])
        engine = 0
        for c in net.codes:  # the driver's runs: max_m rows each
            for m0 in range(0, images, params.max_m):
                engine += params.cycles(min(params.max_m, images - m0), c.shape[0], c.shape[1],
                                        cfg.a_bits, cfg.weight_code_bits)
        host = sum(lay["host_bytes"] for lay in got["layers"])
        device = sum(lay["device_bytes"] for lay in got["layers"])
        line = hp.link.baud / 10
        row = {"name": name, "images": images, "rtl_equals_golden": same,
               "accuracy": float((np.argmax(got["logits"], axis=1) == data[3][:images]).mean()),
               "seconds": seconds, "images_per_second": images / seconds,
               "host_bytes": host, "device_bytes": device,
               "line_limit_images_per_second": line * images / max(host, device),
               "engine_seconds": engine / hp.link.clk_hz,
               "link_bound_factor": seconds / (engine / hp.link.clk_hz), "layers": got["layers"]}
        row["share_of_line_limit"] = row["images_per_second"] / row[
            "line_limit_images_per_second"]
        rows.append(row)
        print(f"{name}: {images} images through the link, RTL "
              f"{'equals' if same else 'DIFFERS from'} golden, {row['images_per_second']:.0f} "
              f"images/s ({host} bytes out, {device} back: the busier direction allows "
              f"{row['line_limit_images_per_second']:.0f}); engine alone "
              f"x{row['link_bound_factor']:.1f} faster", file=stream, flush=True)
    return {"engine": dataclasses.asdict(params), "networks": rows}


def _link_products(stream):
    """LINK_PRODUCTS through the simulated link on the iCEBreaker's engine, operands as words
    and as planes: every product checked against numpy; time per A-only product against the
    engine's own cycles."""
    import dataclasses

    import numpy as np

    from ..boards.sizes import board_params
    from ..golden.bitserial import value_range
    from ..hw.build import generated
    from ..hw.units import hosted
    from ..sim.host import run_host

    base = board_params("bitserial", "icebreaker")
    rng = np.random.default_rng(7)
    rows = []
    for operands in ("words", "planes"):
        params = dataclasses.replace(base, operands=operands)
        unit, hp = hosted("bitserial", params)
        gen_dir, man = generated(unit, hp)
        for wa, wb in LINK_PRODUCTS:
            (alo, ahi), (blo, bhi) = value_range(wa, True), value_range(wb, True)
            B = rng.integers(blo, bhi + 1, size=(params.max_k, params.max_n))
            As = [rng.integers(alo, ahi + 1, size=(params.max_m, params.max_k))
                  for _ in range(3)]
            got, resp = run_host(gen_dir, man, hp.link, "lowbit.gen.experiment:resident_products",
                                 {"unit_map": man["unit_map"], "B": B.tolist(), "wb": wb,
                                  "wa": wa, "As": [a.tolist() for a in As]})
            if got is None:
                raise RuntimeError(f"the link run failed: {resp.get('error')}")
            same = all(np.array_equal(np.array(g["C"]), a @ B) for g, a in zip(got, As))
            last = got[-1]  # A alone, the registers as they were
            engine = params.cycles(params.max_m, params.max_k, params.max_n, wa, wb)
            engine_s = engine / hp.link.clk_hz
            row = {"operands": operands, "wa": wa, "wb": wb,
                   "shape": [params.max_m, params.max_k, params.max_n],
                   "link_seconds": last["seconds"], "host_bytes": last["host_bytes"],
                   "engine_cycles": engine, "engine_seconds": engine_s,
                   "link_bound_factor": last["seconds"] / engine_s, "exact": same}
            rows.append(row)
            print(f"bitserial {operands}, {wa} x {wb} bits, A {params.max_m} x "
                  f"{params.max_k} against resident B: {1e6 * last['seconds']:.0f} us through "
                  f"the link ({last['host_bytes']} bytes), engine {1e6 * engine_s:.1f} us: "
                  f"link-bound x{row['link_bound_factor']:.1f}", file=stream, flush=True)
    return {"engine": dataclasses.asdict(base), "link": {"clk_hz": 12_000_000,
                                                         "baud": 3_000_000},
            "products": rows}


#: The digits CNN's dense layer on the bit-serial engine: A (images x 512) at 7 unsigned bits
#: against the resident weights B (512 x 10) at 8 signed bits, runs of 16 images.
CNN_ENGINE = dict(dm=2, dn=2, dk=64, max_wa=7, max_wb=8, max_m=16, max_k=512, max_n=10)


def frame_period(resp, values, frames):
    """The steady cycles between frames' last output values in a simulation's response
    (``values`` output values a frame; the first frame's fill left out): the longest gap
    after the first, or None with fewer than 3 frames."""
    lasts = [resp["out_cycles"][(f + 1) * values - 1] for f in range(frames)]
    diffs = sorted(set(b - a for a, b in zip(lasts[1:], lasts[2:])))
    return diffs[-1] if diffs else None


def conv2d_frame_cycles(params, frames=3, sim="verilator"):
    """A conv2d layer's cycles a frame, measured: ``frames`` random frames back to back
    through the generated Verilog, the input always valid and the output always ready."""
    import numpy as np

    from ..hw.units import get_unit
    from ..sim.runner import run_unit

    rng = np.random.default_rng(1)
    lo, hi = -(1 << (params.data_width - 1)), 1 << (params.data_width - 1)
    images = rng.integers(lo, hi, size=(frames, params.channels, params.height, params.width))
    wl, wh = -(1 << (params.weight_width - 1)), 1 << (params.weight_width - 1)
    filt = rng.integers(wl, wh, size=(params.filters, params.channels, 3, 3))
    job = get_unit("conv2d").job(params, images, filt)
    got, _, resp, _ = run_unit("conv2d", params, job, sim=sim, seed=1, idle=0.0,
                               backpressure=0.0)
    if got is None:
        raise RuntimeError(f"{params}: the layer's output came back wrong")
    ho, wo = params.output_shape
    return frame_period(resp, ho * wo * params.filters, frames)


def run_cnn(outdir, *, images=397, epochs=None, command=None, stream=None):
    """Train the digits CNN, run the test images through the RTL layer by layer (each layer's
    input the RTL's output of the one before); writes ``outdir``; returns 0, or 1 when a
    layer differed from golden."""
    import dataclasses

    import numpy as np
    from sklearn.datasets import load_digits

    from ..golden.bitserial import BitSerialParams
    from ..golden.bnn import N_TRAIN
    from ..golden.cnn import CNNConfig, train_cnn
    from ..golden.images import digits
    from ..hw.build import atomic_dir, check_output_dir
    from ..hw.units import get_unit
    from ..sim.runner import run_unit

    stream = stream or sys.stderr
    outdir = Path(outdir)
    check_output_dir(outdir)
    t0 = time.perf_counter()
    cfg = CNNConfig(**({"epochs": epochs} if epochs else {}))
    x, y = digits(), np.asarray(load_digits().target, dtype=np.int64)
    net, history = train_cnn(cfg, x, y, N_TRAIN)
    x_te, y_te = x[N_TRAIN:][:images], y[N_TRAIN:][:images]
    layers, acts, bad = [], x_te, 0
    for layer in range(2):
        want = net.conv(layer, acts)
        k = net.conv_weights[layer].shape[0]
        runs = {}
        for engine in ("winograd", "direct"):
            # Half the filters at once (two folds keep up with the input); all of an odd K.
            params = net.conv_params(layer, engine=engine, parallel=k // 2 if k % 2 == 0 else k)
            job = get_unit("conv2d").job(params, acts, net.conv_weights[layer],
                                         net.conv_biases[layer].tolist())
            start = time.perf_counter()
            got, _, resp, man = run_unit("conv2d", params, job, sim="verilator", seed=1,
                                         idle=0.0, backpressure=0.0)
            mism = int(np.count_nonzero(got != want)) if got is not None else int(want.size)
            bad += mism
            runs[engine] = {"params": dataclasses.asdict(params),
                            "mismatches": mism, "cycles": resp["cycles"],
                            "cycles_per_frame": (frame_period(resp, 64 * k, len(acts))
                                                 if got is not None else None),
                            "cycles_per_frame_model": man["widths"]["cycles_per_frame"],
                            "multipliers_a_cycle": params.multipliers,
                            "sim_seconds": round(time.perf_counter() - start, 1)}
            print(f"conv layer {layer} ({params.channels} -> {k} channels, {engine}): "
                  f"{len(acts)} images, {mism} mismatches, {runs[engine]['cycles_per_frame']} "
                  f"cycles a frame", file=stream, flush=True)
            if engine == "winograd":
                out = want if got is None else got
        layers.append({"layer": f"conv{layer}", "shift": net.shifts[layer],
                       "filters": k, "channels": int(net.conv_weights[layer].shape[1]),
                       "engines": runs})
        acts = out
    mm = rtl_matmul(BitSerialParams(**CNN_ENGINE),
             log=lambda t: print(f"dense: {t}", file=stream, flush=True))
    logits = net.dense(acts, lambda a, w: mm(a, w, 2, wa=cfg.a_bits - 1, wb=cfg.w_bits))
    bad += sum(s["mismatches"] for s in mm.stats)
    golden = net.forward(x_te)
    same = bool(np.array_equal(logits, golden))
    bad += not same
    dense_cycles = sum(s["cycles"] for s in mm.stats)
    layers.append({"layer": "dense", "engine": CNN_ENGINE, "mismatches":
                   sum(s["mismatches"] for s in mm.stats), "cycles": dense_cycles,
                   "cycles_per_image": dense_cycles / len(x_te), "runs": mm.stats})
    acc = {"rtl": float((logits.argmax(axis=1) == y_te).mean()),
           "golden_all_397": float((net.forward(x[N_TRAIN:]).argmax(axis=1)
                                    == y[N_TRAIN:]).mean()),
           "float_all_397": net.float_accuracy}
    conv_cycles = [lay["engines"]["winograd"]["cycles_per_frame"] for lay in layers[:2]]
    bound = max([c for c in conv_cycles if c] + [layers[2]["cycles_per_image"]])
    results = {"command": list(command or []), "config": dataclasses.asdict(cfg),
               "images": len(x_te), "accuracy": acc, "rtl_equals_golden": same,
               "layers": layers, "test_error_by_epoch": history,
               "pipeline_cycles_per_image": bound,
               "images_per_second_per_mhz": 1e6 / bound,
               "seconds": round(time.perf_counter() - t0, 1)}
    print(f"digits CNN: {len(x_te)} test images through the RTL, logits "
          f"{'equal' if same else 'DIFFER from'} golden, accuracy {100 * acc['rtl']:.1f}% "
          f"(golden on all 397: {100 * acc['golden_all_397']:.1f}%, float model "
          f"{100 * acc['float_all_397']:.1f}%)", file=stream, flush=True)
    k1, k2 = cfg.filters
    lines = ["# A digits CNN through the generated layers", "",
             f"Command: `lowbit {' '.join(results['command'])}`" if command else "", "",
             f"1 -> {k1} -> {k2} channels of 3x3 `same` convolutions on the 8x8 digits, "
             f"{cfg.w_bits}-bit weights, activations requantized to {cfg.a_bits} bits (a bias a "
             f"channel, ReLU), then a dense layer {64 * k2} -> 10 on the bit-serial engine "
             f"({CNN_ENGINE['dm']} x {CNN_ENGINE['dk']} x {CNN_ENGINE['dn']}); trained in numpy "
             f"({cfg.epochs} epochs on 1400 images), quantized after training. The first "
             f"{len(x_te)} of the 397 test images through the RTL (Verilator), each layer's "
             f"input the RTL's output of the layer before.", "",
             f"Accuracy through the RTL: **{100 * acc['rtl']:.1f}%**; golden model on all 397: "
             f"{100 * acc['golden_all_397']:.1f}%; float model: "
             f"{100 * acc['float_all_397']:.1f}%. Logits RTL = golden: "
             f"{'yes' if same else 'NO'}.", "",
             "| layer | engine | multipliers | mismatches | cycles a frame (measured) | "
             "model |", "|---|---|---|---|---|---|"]
    for lay in layers[:2]:
        for engine, r in lay["engines"].items():
            lines.append(f"| {lay['layer']} ({lay['channels']} -> {lay['filters']}) | "
                         f"{engine} | {r['multipliers_a_cycle']} | {r['mismatches']} | "
                         f"{r['cycles_per_frame']} | {r['cycles_per_frame_model']} |")
    lines += [f"| dense ({64 * k2} -> 10) | bit-serial | | {layers[2]['mismatches']} | "
              f"{layers[2]['cycles_per_image']:.0f} (an image, runs of "
              f"{CNN_ENGINE['max_m']}) | |", "",
              f"As a pipeline of the three on one chip, the slowest layer sets the rate: "
              f"{bound:.0f} cycles an image, {1e6 / bound:,.0f} images a second at 1 MHz "
              f"(multiply by a board's clock in MHz)."]
    with atomic_dir(outdir) as tmp:
        (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (tmp / "report.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {outdir / 'results.json'} and {outdir / 'report.md'}")
    return 1 if bad else 0


def run_bnn(outdir, *, images=397, command=None, stream=None):
    """The digits BNN on chip through the simulated link, and resident-weight products through
    it; writes ``outdir``; returns 0, or 1 when a result differed from golden."""
    import dataclasses

    import numpy as np

    from ..golden.bnn import bnn_float_forward, bnn_forward, load_digits_bits, trained_digits_bnn
    from ..golden.bnnchip import BNNChipParams, save_network
    from ..golden.unitmap import UnitMap
    from ..hw.build import atomic_dir, check_output_dir, generated
    from ..hw.units import hosted
    from ..sim.host import run_host

    stream = stream or sys.stderr
    outdir = Path(outdir)
    check_output_dir(outdir)
    t0 = time.perf_counter()
    bnn = trained_digits_bnn()
    data = load_digits_bits()
    x, y = data.x_test[:images], data.y_test[:images]
    params = BNNChipParams.from_bnn(bnn)
    unit, hp = hosted("bnn", params)
    gen_dir, man = generated(unit, hp)
    result, resp = run_host(gen_dir, man, hp.link, "lowbit.sim.host:call",
                            {"unit_map": man["unit_map"], "method": "classify",
                             "args": [x.tolist()]})
    if result is None:
        raise RuntimeError(f"the link run failed: {resp.get('error')}")
    got = np.array(result["result"])
    _, want = bnn_forward(bnn, x)
    _, float_classes, _ = bnn_float_forward(bnn, x)
    same = bool(np.array_equal(got, want))
    rate = images / result["seconds"]
    bytes_per_image = params.beats_per_image * UnitMap.from_dict(man["unit_map"]).in_bytes
    limit = hp.link.baud / 10 / bytes_per_image
    chip_rate = hp.link.clk_hz / params.cycles_per_image
    chip = {"params": {k: v for k, v in dataclasses.asdict(params).items() if k != "network"},
            "network_sizes": list(bnn.sizes), "images": images,
            "accuracy_rtl": float(np.mean(got == y)),
            "accuracy_float": float(np.mean(float_classes == y)),
            "rtl_equals_golden": same, "link_seconds": result["seconds"],
            "host_bytes": result["host_bytes"], "images_per_second": rate,
            "bytes_per_image": bytes_per_image, "line_limit_images_per_second": limit,
            "share_of_line_limit": rate / limit, "chip_cycles_per_image": params.cycles_per_image,
            "chip_images_per_second": chip_rate, "link_bound_factor": chip_rate / rate}
    print(f"digits BNN on chip: {images} images through the link, RTL "
          f"{'equals' if same else 'DIFFERS from'} golden, accuracy "
          f"{100 * chip['accuracy_rtl']:.1f}% (float model {100 * chip['accuracy_float']:.1f}%), "
          f"{rate:.0f} images/s = {100 * rate / limit:.1f}% of the line's {limit:.0f} "
          f"({bytes_per_image} bytes an image); the chip alone {chip_rate:.0f} images/s",
          file=stream, flush=True)
    products = _link_products(stream)
    qnets = _quantnets_through_link(images, stream)
    bad = (not same) + sum(not r["exact"] for r in products["products"]) + sum(
        not r["rtl_equals_golden"] for r in qnets["networks"])
    results = {"command": list(command or []), "link": dataclasses.asdict(hp.link),
               "bnn": chip, "resident_products": products, "quantnets": qnets,
               "seconds": round(time.perf_counter() - t0, 1)}
    lines = ["# Whole networks at the speed of the link", "",
             f"Command: `lowbit {' '.join(results['command'])}`" if command else "", "",
             f"The digits BNN ({'-'.join(map(str, bnn.sizes))}) generated into the on-chip "
             f"network behind the host link at {hp.link.baud:,} baud from "
             f"{hp.link.clk_hz / 1e6:g} MHz (simulated): {images} test images through "
             f"`Device.classify`.", "",
             "| RTL = golden | accuracy (RTL) | accuracy (float) | images/s | line limit | "
             "share | chip alone | link-bound |", "|---|---|---|---|---|---|---|---|",
             f"| {'yes' if same else 'NO'} | {100 * chip['accuracy_rtl']:.1f}% | "
             f"{100 * chip['accuracy_float']:.1f}% | {rate:,.0f} | {limit:,.0f} | "
             f"{100 * rate / limit:.1f}% | {chip_rate:,.0f} | x{chip_rate / rate:.1f} |", "",
             "Resident-weight products on the iCEBreaker's bit-serial engine "
             f"({products['engine']['dm']} x {products['engine']['dk']} x "
             f"{products['engine']['dn']}), A alone each time:", "",
             "| operands | wa x wb | M x K x N | through the link | host bytes | engine | "
             "link-bound |", "|---|---|---|---|---|---|---|"]
    for r in products["products"]:
        lines.append(f"| {r['operands']} | {r['wa']} x {r['wb']} | "
                     f"{' x '.join(map(str, r['shape']))} | {1e6 * r['link_seconds']:.0f} us | "
                     f"{r['host_bytes']} | {1e6 * r['engine_seconds']:.1f} us | "
                     f"x{r['link_bound_factor']:.1f} |")
    q = qnets["engine"]
    lines += ["", f"TWN and DoReFa networks (`lowbit experiment quantnets`' three) on {images} "
              f"test images through the link, the engine {q['dm']} x {q['dk']} x {q['dn']} "
              f"with operands as planes, each layer's weights loaded once and resident for "
              f"its runs of {q['max_m']} images:", "",
              "| network | RTL = golden | accuracy | images/s | bytes out / back | line "
              "allows | share | link-bound |", "|---|---|---|---|---|---|---|---|"]
    for r in qnets["networks"]:
        lines.append(f"| {r['name']} | {'yes' if r['rtl_equals_golden'] else 'NO'} | "
                     f"{100 * r['accuracy']:.1f}% | {r['images_per_second']:,.0f} | "
                     f"{r['host_bytes']:,} / {r['device_bytes']:,} | "
                     f"{r['line_limit_images_per_second']:,.0f} | "
                     f"{100 * r['share_of_line_limit']:.1f}% | x{r['link_bound_factor']:.1f} |")
    with atomic_dir(outdir) as tmp:
        (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (tmp / "report.md").write_text("\n".join(lines) + "\n")
        save_network(bnn, tmp / "digits-bnn.npz")
    print(f"wrote {outdir / 'results.json'}, {outdir / 'report.md'} and "
          f"{outdir / 'digits-bnn.npz'}")
    return 1 if bad else 0
