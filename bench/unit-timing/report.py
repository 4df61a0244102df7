"""Render results.json (made by run.py) as report.md: per unit, board and parameters, the
before and after runs side by side, with the critical path of each."""

import json
from pathlib import Path

HERE = Path(__file__).parent


def main():
    results = json.loads((HERE / "results.json").read_text())
    runs = results["runs"]
    lines = ["# Unit timing on the boards, before and after (issue 13)", "",
             "Made by `python bench/unit-timing/run.py LABEL=CHECKOUT ... SPEC ...` "
             "(commands below) and `python bench/unit-timing/report.py`. Each row is one "
             "`lowbit synth UNIT --board BOARD --harness scan` run: the unit's own resources "
             "after Yosys (flip-flops moved into block RAM and multiplier registers counted as "
             "the RAM's and DSP's), the post-route Fmax of the whole design and its critical "
             "path. `before` is the checkout before this work; `after` the commit named. The "
             "latency (the unit's, from its manifest) is recorded for runs from commit "
             "b21baa2 on; '-' where a run predates it. On the Tang Nano 9K (Gowin), "
             "nextpnr-himbaechel does not time paths through DSP or block RAM cells (nextpnr "
             "PR #1345; each report says so): its Fmax leaves them out and is optimistic for "
             "the units that have them (mac, winograd1d/2d, conv2d, bitserial, link).", "",
             "| unit | board | params | variant | commit | LUT | FF | DSP | BRAM | moved into "
             "DSPs | latency (cycles) | Fmax (MHz) | critical path (ns: total / logic) | "
             "from -> to |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = {"before": 0, "mult-registers-only": 1, "after": 2, "dot-register-reverted": 3}
    keyed = sorted(runs, key=lambda r: (r["unit"], r.get("board", "ulx3s-85f"),
                                        r["params"], order.get(r["variant"], 9)))
    for r in keyed:
        if "error" in r:
            lines.append(f"| {r['unit']} | {r.get('board', 'ulx3s-85f')} | "
                         f"{' '.join(r['params']) or '-'} | {r['variant']} | {r['git']} | "
                         f"failed: {r['error'][-80:]!r} |")
            continue
        res, cp = r["unit_resources"], r["critical_path"]
        moved = (r.get("dsp_registers") or {}).get("ffs", "-")
        ends = (f"`{cp['start'].removeprefix('harness.')}` -> "
                f"`{cp['end'].removeprefix('harness.')}`")
        lines.append(
            f"| {r['unit']} | {r.get('board', 'ulx3s-85f')} | {' '.join(r['params']) or '-'} | "
            f"{r['variant']} | {r['git']} | {res['lut']} | {res['ff']} | {res['dsp']} | "
            f"{res['bram']} | {moved} | {r.get('latency') or '-'} | {r['fmax_mhz']:.2f} | "
            f"{cp['delay_ns']:.2f} / {cp['logic_ns']:.2f} | {ends} |")
    lines += ["", "Commands:", ""] + [f"- `{c}`" for c in results.get("commands", [])]
    lines += ["", "Each run's full report (utilization, timing, run times) is in `reports/`."]
    (HERE / "report.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
