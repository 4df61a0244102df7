"""``lowbit bench``'s plots: one matplotlib figure a section, drawn from the results, saved as
PNG (:func:`draw_plots`)."""

__all__ = ["draw_plots"]


def draw_plots(results, outdir):
    """Draw one PNG a section into ``outdir``; returns ``{section: file name}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    boards = results["boards"]
    out = {}
    for name, sec in results["sections"].items():
        fig = _PLOTS[name](plt, sec, boards)
        if fig is None:
            continue
        fig.tight_layout()
        fig.savefig(outdir / f"{name}.png", dpi=110, metadata={"Software": None})
        plt.close(fig)
        out[name] = f"{name}.png"
    return out


def _plot_matrix(plt, sec, boards):
    entries = sec["entries"]
    if not entries:
        return None
    names = list(dict.fromkeys(e["unit"] for e in entries))
    board_names = list(dict.fromkeys(e["board"] for e in entries))
    ncols = 2 if sec["pnr"] else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 0.45 * len(names) + 1.8),
                             squeeze=False)
    height = 0.8 / len(board_names)
    for i, board in enumerate(board_names):
        by = {e["unit"]: e for e in entries if e["board"] == board}
        ys = [k + i * height for k in range(len(names))]
        cap = boards[board]["capacity"]["lut"]
        util = [100 * by[u]["unit_resources"]["lut"] / cap if u in by
                and by[u].get("unit_resources") else 0 for u in names]
        axes[0][0].barh(ys, util, height, label=boards[board]["label"])
        if sec["pnr"]:
            fmax = [by[u].get("fmax_mhz") or 0 if u in by else 0 for u in names]
            axes[0][1].barh(ys, fmax, height, label=boards[board]["label"])
            for y, u in zip(ys, names, strict=True):
                if u in by and by[u]["status"] in ("does not fit", "error"):
                    axes[0][1].text(1, y, by[u]["status"], va="center", fontsize=7)
            axes[0][1].axvline(boards[board]["clock_mhz"], linestyle=":", color=f"C{i}")
    for ax in axes[0]:
        ax.set_yticks([k + 0.4 - height / 2 for k in range(len(names))], names)
        ax.invert_yaxis()
        ax.legend(fontsize=8)
    axes[0][0].set_xlabel("unit LUT4, % of the device's LUTs (Yosys)")
    if sec["pnr"]:
        axes[0][1].set_xlabel("Fmax (MHz), dotted: board clock")
    return fig


def _plot_precision(plt, sec, boards):
    if not sec["boards"]:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, (name, p) in enumerate(sec["boards"].items()):
        ws = [r["wa"] for r in p["rows"]]
        ax.plot(ws, [r["ops_per_s"] for r in p["rows"]], "o-", color=f"C{i}",
                label=f"{boards[name]['label']}, ops/s at {p['clock_mhz']:.0f} MHz")
        ax.plot(ws, [r["binary_ops_per_s"] for r in p["rows"]], "s:", color=f"C{i}",
                label=f"{boards[name]['label']}, binary ops/s")
    b = sec["bismo"]
    peak = 2 * b["dm"] * b["dk"] * b["dn"] * b["mhz"] * 1e6
    ws = list(sec["precisions"])
    ax.plot(ws, [peak / (w * w) for w in ws], "k--", linewidth=1,
            label=f"BISMO {b['dm']}x{b['dk']}x{b['dn']} @ {b['mhz']:g} MHz, ops/s (peak)")
    ax.set_yscale("log")
    ax.set_xlabel("precision wa = wb (bits)")
    ax.set_ylabel("operations per second")
    ax.set_xticks(ws)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def _plot_winograd(plt, sec, boards):
    entries = sec["entries"]
    if not entries:
        return None
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(entries) + 1.5), 4.2))
    labels, luts = [], []
    for e in entries:
        labels.append(f"{e['engine']}\n{boards[e['board']]['label']}\n"
                      + ("DSP" if e["dsp"] else "no DSP"))
        luts.append(e["unit_resources"]["lut"] if e.get("unit_resources") else 0)
    colors = ["C0" if e["engine"] == "winograd2d" else "C1" for e in entries]
    bars = ax.bar(range(len(entries)), luts, color=colors)
    for bar, e in zip(bars, entries, strict=True):
        text = e["status"] if e["status"] in ("does not fit", "error") else ""
        if e.get("unit_resources"):
            text = f"{e['unit_resources']['lut']}\n" + (
                f"{e['fmax_mhz']:.0f} MHz" if e.get("fmax_mhz") else text)
        if text:
            ax.annotate(text.strip(), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(entries)), labels, fontsize=7)
    ax.margins(y=0.15)
    ax.set_ylabel("unit LUT4 (Yosys)")
    ax.set_title("Winograd F(2x2,3x3) (blue), direct 3x3 (orange):\nLUT4 and Fmax", fontsize=9)
    return fig


def _plot_popcount(plt, sec, boards):
    entries = sec["entries"]
    if not entries:
        return None
    with_fmax = any(e.get("fmax_mhz") for e in entries)
    fig, axes = plt.subplots(1, 2 if with_fmax else 1, figsize=(11 if with_fmax else 6, 4.2),
                             squeeze=False)
    for i, board in enumerate(dict.fromkeys(e["board"] for e in entries)):
        for style, mark in (("tree", "o-"), ("plain", "s--")):
            pts = sorted((e["n"], e) for e in entries if e["board"] == board
                         and e["style"] == style and e.get("unit_resources"))
            label = f"{boards[board]['label']}, {style}"
            axes[0][0].plot([n for n, _ in pts], [e["unit_resources"]["lut"] for _, e in pts],
                            mark, color=f"C{i}", label=label)
            if with_fmax:
                fp = [(n, e["fmax_mhz"]) for n, e in pts if e.get("fmax_mhz")]
                axes[0][1].plot([n for n, _ in fp], [f for _, f in fp], mark, color=f"C{i}",
                                label=label)
    axes[0][0].set_xscale("log", base=2)
    axes[0][0].set_yscale("log")
    axes[0][0].set_xlabel("N (input bits)")
    axes[0][0].set_ylabel("LUT4 (Yosys)")
    if with_fmax:
        axes[0][1].set_xscale("log", base=2)
        axes[0][1].set_xlabel("N (input bits)")
        axes[0][1].set_ylabel("Fmax (MHz), post-route")
    for ax in axes[0]:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def _plot_costmodel(plt, sec, boards):
    entries = [e for e in sec["entries"] if e.get("measured")]
    if not entries:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, kind in zip(axes, ("lut", "ff"), strict=True):
        values = []
        for i, family in enumerate(dict.fromkeys(e["family"] for e in entries)):
            pts = [(e["measured"][kind], e["predicted"][kind]) for e in entries
                   if e["family"] == family]
            ax.scatter([m for m, _ in pts], [p for _, p in pts], color=f"C{i}", label=family)
            values += [v for pt in pts for v in pt]
        lo, hi = min(values) * 0.8, max(values) * 1.25
        ax.plot([lo, hi], [lo, hi], "k-", linewidth=1, label="exact")
        for f in (0.85, 1.15):
            ax.plot([lo, hi], [lo * f, hi * f], "k:", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"{kind.upper()} measured (Yosys)")
        ax.set_ylabel(f"{kind.upper()} predicted (cost model)")
        ax.set_title(f"{kind.upper()}: dotted lines \u00b115%", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


_PLOTS = {"matrix": _plot_matrix, "precision": _plot_precision, "winograd": _plot_winograd,
          "popcount": _plot_popcount, "costmodel": _plot_costmodel}
