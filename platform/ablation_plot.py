"""An ``AblationTable`` as a grouped bar chart: one group per row, one bar per
(column, network), std as error bars, the paper's numbers as black diamonds and
``*`` above bars that differ significantly from the baseline."""
import math
import os

from platform.ablation_table import AblationTable


def plot_table(table: AblationTable, path: str) -> str:
    """Write the chart as a PNG at ``path`` and return ``path``.

    Uses a bare ``Figure`` on the Agg canvas rather than pyplot, so it runs
    headless and leaves the caller's matplotlib backend and global state alone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = [(c, i) for c in table.column_labels for i in range(len(table.metrics))]
    multi = len(table.metrics) > 1
    rows = table.row_labels
    width = 0.8 / max(len(series), 1)
    fig = Figure(figsize=(max(6.0, 0.9 * len(rows) * max(1, len(series) / 2) + 2), 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colors = [f"C{k % 10}" for k in range(len(series))]
    shown = []   # every plotted y, to zoom in on the range where ablations differ
    paper_labelled = False
    for k, (column, net) in enumerate(series):
        cells = [table.cells[(row, column)][net] for row in rows]
        xs = [r - 0.4 + width * (k + 0.5) for r in range(len(rows))]
        means = [c.mean if c.n else math.nan for c in cells]
        errs = [c.std if c.n > 1 else 0.0 for c in cells]
        name = f"{column} {table.network_labels[net]}" if multi else column
        ax.bar(xs, means, width * 0.9, yerr=errs, capsize=3, color=colors[k], label=name)
        shown += [m + s for m, s in zip(means, errs) if not math.isnan(m)]
        shown += [m - s for m, s in zip(means, errs) if not math.isnan(m)]
        for x, c, m, e in zip(xs, cells, means, errs):
            if c.significant:
                ax.text(x, m + e, "*", ha="center", va="bottom")
        papers = [(x, c.paper) for x, c in zip(xs, cells) if c.paper is not None]
        if papers:
            ax.scatter([x for x, _ in papers], [p for _, p in papers], marker="D", color="black", s=18,
                       zorder=3, label=None if paper_labelled else "paper")
            paper_labelled = True
            shown += [p for _, p in papers]
    if shown:
        low, high = min(shown), max(shown)
        pad = max(0.5, 0.1 * (high - low))
        ax.set_ylim(max(0.0, low - pad) if low >= 0 else low - pad, high + pad)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(rows, rotation=35, ha="right")
    ax.set_xlabel(table.row_key)
    ax.set_ylabel(", ".join(table.metrics) if multi else table.metrics[0])
    ax.set_title(table.title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: never hides a bar
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, format="png")
    return path
