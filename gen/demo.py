"""``make demo`` / ``lowbit demo``: the main job on one board, with a summary at the end."""

import time
from pathlib import Path

import numpy as np

from ..golden import MACParams, mac_golden
from ..hw.build import generated, write_outputs
from ..hw.units import get_unit, hosted
from ..sim.host import run_host
from ..sim.mac import directed_vectors, random_vectors, small_increments
from ..sim.runner import run_job
from ..sim.score import score

__all__ = ["run_demo"]

DEMO_SEED = 2015  # Gupta et al.'s year; printed so a run can be repeated


def _step(title):
    print(f"\n== {title}", flush=True)
    return time.monotonic()


def run_demo(outdir, *, board="icebreaker", sim="verilator"):
    from ..boards import format_report, get_board, synth
    from ..boards.sizes import board_params

    outdir = Path(outdir)
    unit = get_unit("mac")
    params = board_params("mac", board)  # the board's MAC (lowbit.boards.sizes)
    summary = []

    t = _step(f"1. generate the MAC ({params.fmt_a} x {params.fmt_b} -> {params.fmt_o}, "
              f"{params.acc_width}-bit accumulator, pipeline {params.pipeline})")
    man = write_outputs(unit, params, outdir / "mac")
    print(f"   {outdir / 'mac' / man['verilog']}, latency {man['latency']} cycles")
    summary.append(("generate", f"{man['verilog']}, {len(man['ports'])} ports, "
                                f"latency {man['latency']}", time.monotonic() - t))

    t = _step(f"2. simulate the generated Verilog with {sim} against the golden model")
    gen_dir, man = generated("mac", params)
    vectors = directed_vectors(params)
    n_dir = len(vectors)
    vectors.extend(random_vectors(params, np.random.default_rng(DEMO_SEED), 10_000))
    job = vectors.job(params)
    got, _, resp = run_job(gen_dir, man, job, sim=sim, seed=DEMO_SEED)
    board_ = score(job, zip(*got) if got else [], vectors.golden(params), resp,
                   latency=man["latency"])
    print(f"   {len(vectors)} beats ({n_dir} directed, {len(vectors) - n_dir} random, seed "
          f"{DEMO_SEED}), {board_.total} results, {resp['cycles']} cycles with idle and "
          f"back-pressure")
    print("   " + board_.describe().replace("\n", "\n   "))
    summary.append(("simulate", f"{board_.total} results, {len(board_.mismatches)} mismatches",
                    time.monotonic() - t))

    t = _step("3. Gupta et al.'s effect on the RTL: 4000 increments of 0.30 eps, each product "
              "rounded to <4,8>")
    effect = {}
    for mode in ("nearest", "stochastic"):
        p = MACParams(il_a=2, fl_a=14, il_b=2, fl_b=14, il_o=4, fl_o=8, guard=12,
                      rounding=mode, round_products=True, r_bits=16, seed=0xBEEF)
        g_dir, g_man = generated("mac", p)
        hw, gold, exact = small_increments(g_dir, g_man, p, 4000, 512, 614, sim=sim)
        effect[mode] = hw
        print(f"   {mode:<10} RTL sum {hw:5d} eps (golden {gold:5d}); exact "
              f"{float(exact):.1f} eps")
    summary.append(("effect", f"nearest {effect['nearest']} eps, stochastic "
                              f"{effect['stochastic']} eps, exact {float(exact):.1f} eps",
                    time.monotonic() - t))

    t = _step("4. the MAC behind the host link, driven by lowbit.host.Device through the "
              "simulated UART pins")
    link = get_board(board).link_params()
    hunit, hparams = hosted("mac", params, link)
    h_dir, h_man = generated(hunit, hparams)
    rng = np.random.default_rng(DEMO_SEED)
    fa, fb = params.fmt_a, params.fmt_b
    a = rng.integers(fa.min_int // 4, fa.max_int // 4, size=(8, 16))
    b = rng.integers(fb.min_int // 4, fb.max_int // 4, size=(8, 16))
    got, resp = run_host(h_dir, h_man, link, "lowbit.sim.host:call",
                         {"unit_map": h_man["unit_map"], "method": "mac",
                          "kwargs": {"a": a.tolist(), "b": b.tolist()}}, sim=sim)
    first = np.tile([1] + [0] * 15, 8)
    last = np.tile([0] * 15 + [1], 8)
    want, _ = mac_golden(params, a.reshape(-1), b.reshape(-1), first, last)
    link_ok = got is not None and got["result"] == [int(v) for v in want]
    if got is None:
        print(f"   the host script failed: {resp.get('error')}")
    else:
        print(f"   8 dot products of 16 terms with dev.mac(a, b) at {link.baud} baud: "
              f"{'equal to' if link_ok else 'DIFFERENT from'} the golden model; "
              f"{got['host_bytes']} bytes sent, {got['seconds'] * 1e3:.2f} ms of device time")
    summary.append(("host link", f"8 dot products through the UART pins, "
                                 f"{'0' if link_ok else 'some'} mismatches",
                    time.monotonic() - t))

    t = _step(f"5. synthesize for {board}, behind the host link on the board's USB-serial port")
    report = synth("mac", params, board, outdir / f"mac-{board}", harness="link")
    print("   " + format_report(report).replace("\n", "\n   "))
    u = report["unit_resources"]
    fmax = report["fmax_mhz"]
    summary.append(("synthesize", f"{report['device']}: " + ", ".join(
        f"{k} {v}" for k, v in u.items()) + f"; Fmax {fmax:.1f} MHz", time.monotonic() - t))

    print("\n== summary")
    for step, what, secs in summary:
        print(f"   {step:<11} {what}  ({secs:.1f} s)")
    ok = board_.ok and effect["nearest"] == 0 and link_ok
    print("\n   RESULT:", "PASS" if ok else "FAIL", f"(outputs in {outdir}/)")
    return 0 if ok else 1
