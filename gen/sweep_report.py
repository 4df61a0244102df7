"""``lowbit sweep``'s report: the Markdown table (:func:`report_md`) and the Pareto plots
(:func:`draw_pareto`), drawn from the sweep's results (:mod:`lowbit.gen.sweep`)."""

__all__ = ["report_md", "draw_pareto"]

_COST_NAMES = {"lut": "LUT", "dsp": "DSP", "bram": "BRAM"}


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)


def report_md(res):
    """The sweep's report as Markdown: what ran, a row a point (its values, status,
    resources, Fmax, performance, whether it is on the Pareto front), failures' messages."""
    pts, front = res["points"], res["front"]
    lines = [f"# lowbit sweep: {res['unit']}", "",
             (f"Command: `lowbit {' '.join(res['command'])}`" if res["command"]
              else "Run from Python (lowbit.gen.sweep.run_sweep)"), "",
             f"{len(pts)} points on {res['where']}, {res['seconds']:.0f} s for this run "
             f"({res['finished']}); " + ("placed and routed behind the scan harness."
                                          if res["pnr"] else "Yosys counts only (--no-pnr)."),
             "",
             f"Pareto front: among a board's points, a point is on it (**yes**) unless another "
             f"is at least as good in LUT, DSP, BRAM and {res['perf_label']}, and better in "
             f"one; dominated points say *no*; points without the figure, `-`."
             + (f" **No front here**: {res['front_note']}." if res.get("front_note") else ""),
             ""]
    varied = res["varied"]
    perf_col = res["metric"] != "fmax"  # else the performance is the Fmax column
    head = ["board", *varied, "status", "LUT", "FF", "DSP", "BRAM", "Fmax (MHz)",
            *([res["perf_label"]] if perf_col else []), "front", "s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r, on in zip(pts, front, strict=True):
        u = r.get("unit_resources") or {}
        mark = "**yes**" if on else ("*no*" if r.get("perf") is not None else "-")
        cells = [r["board"], *[r.get("point", {}).get(k, "") for k in varied], r["status"],
                 *(_fmt(u.get(k)) for k in ("lut", "ff", "dsp", "bram")),
                 _fmt(r.get("fmax_mhz")), *([_fmt(r.get("perf"))] if perf_col else []), mark,
                 _fmt(r.get("seconds"))]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    bad = [r for r in pts if r["status"] in ("error", "does not fit")]
    if bad:
        lines += ["", "## Points that failed or did not fit", ""]
        for r in bad:
            where = " ".join(f"{k}={v}" for k, v in r.get("point", {}).items())
            lines.append(f"- {where or 'board size'} on {r['board']}: {r['status']}: "
                         f"{r.get('message', '')}")
    if res.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in res["plots"]]
    return "\n".join(lines) + "\n"


def draw_pareto(res, outdir):
    """One PNG a cost that any point uses (``pareto-lut.png`` ...): performance against the
    cost, a colour a board, the front's points filled and joined, dominated ones hollow.
    Returns the file names (none when no point has the performance figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(r, on) for r, on in zip(res["points"], res["front"], strict=True)
           if r.get("perf") is not None and r.get("unit_resources")]
    if not pts:
        return []
    outdir.mkdir(parents=True, exist_ok=True)
    names = []
    boards = list(dict.fromkeys(r["board"] for r, _ in pts))
    for cost in res["costs"]:
        if not any((r["unit_resources"].get(cost) or 0) for r, _ in pts):
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for i, board in enumerate(boards):
            colour = f"C{i}"
            mine = [(r["unit_resources"].get(cost) or 0, r["perf"], on)
                    for r, on in pts if r["board"] == board]
            xs = [x for x, _, on in mine if on]
            ys = [y for _, y, on in mine if on]
            ax.scatter(xs, ys, color=colour, label=f"{board}: on the front", zorder=3)
            ax.scatter([x for x, _, on in mine if not on], [y for _, y, on in mine if not on],
                       facecolors="none", edgecolors=colour, label=f"{board}: dominated")
            line = sorted(zip(xs, ys))
            if len(line) > 1:
                ax.step([x for x, _ in line], [y for _, y in line], where="post",
                        color=colour, alpha=0.5)
        ax.set_xlabel(f"{_COST_NAMES[cost]} (unit, after Yosys)")
        ax.set_ylabel(res["perf_label"])
        ax.set_title(f"{res['unit']}: {res['perf_label']} against {_COST_NAMES[cost]}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        name = f"pareto-{cost}.png"
        fig.savefig(outdir / name, dpi=110, metadata={"Software": None})
        plt.close(fig)
        names.append(name)
    return names
