"""An ``AblationTable`` as a grouped bar chart: one group per row, one bar per
(column, network) with a result, std as error bars, ``*`` above bars that differ
significantly from the baseline (Holm-corrected). Bars start at 0, so a small
difference looks small. The paper's numbers are drawn, as diamonds in their
series' colour, only when the run is comparable with the paper (same data set and
networks); the legend lists only what is drawn. A figure's width follows its rows
up to ``MAX_WIDTH`` inches; a table with more rows is split over several files."""
import math
import os
import textwrap
from typing import List

from platform.ablation_table import AblationTable

INCHES_PER_BAR = 0.35
MIN_WIDTH, MAX_WIDTH, HEIGHT = 6.0, 14.0, 4.8
TITLE_CHARS_PER_INCH = 11


def _series(table: AblationTable):
    """(column, network) pairs with at least one result (or, when comparable, a paper number)."""
    out = []
    for c in table.column_labels:
        for i in range(len(table.metrics)):
            cells = [table.cells[(r, c)][i] for r in table.row_labels]
            if any(x.n for x in cells) or (table.comparable and any(x.paper is not None for x in cells)):
                out.append((c, i))
    return out


def _row_chunks(rows: List[str], bars_per_row: int) -> List[List[str]]:
    per_figure = max(1, int((MAX_WIDTH - 2.0) / (INCHES_PER_BAR * max(bars_per_row, 1) + 0.2)))
    return [rows[k:k + per_figure] for k in range(0, len(rows), per_figure)] or [[]]


def chunk_paths(path: str, count: int) -> List[str]:
    root, ext = os.path.splitext(path)
    return [path] + [f"{root}-{k}{ext}" for k in range(2, count + 1)]


def plot_table(table: AblationTable, path: str) -> str:
    """Write the chart as PNG(s): ``path``, and ``path-2.png``... when the rows do not fit one
    readable figure. Returns ``path``. A bare ``Figure`` on the Agg canvas, so it runs headless
    and leaves the caller's matplotlib state alone."""
    return plot_table_files(table, path)[0]


def plot_table_files(table: AblationTable, path: str) -> List[str]:
    series = _series(table)
    chunks = _row_chunks(table.row_labels, len(series))
    paths = chunk_paths(path, len(chunks))
    for k, (rows, out) in enumerate(zip(chunks, paths)):
        suffix = f" (rows {k + 1} of {len(chunks)})" if len(chunks) > 1 else ""
        draw(table, rows, series, out, suffix)
    return paths


def draw(table: AblationTable, rows: List[str], series, path: str, suffix: str = ""):
    """Draw one figure of ``rows`` and save it at ``path``; returns the Figure (tests read its layout)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    multi = len(table.metrics) > 1
    width = 0.8 / max(len(series), 1)
    fig_width = min(MAX_WIDTH, max(MIN_WIDTH, 2.0 + len(rows) * (INCHES_PER_BAR * max(len(series), 1) + 0.2)))
    fig = Figure(figsize=(fig_width, HEIGHT), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    top = 0.0
    for k, (column, net) in enumerate(series):
        color = f"C{k % 10}"
        cells = [table.cells[(row, column)][net] for row in rows]
        xs = [r - 0.4 + width * (k + 0.5) for r in range(len(rows))]
        means = [c.mean if c.n else math.nan for c in cells]
        errs = [c.std if c.n > 1 else 0.0 for c in cells]
        name = f"{column} {table.network_labels[net]}" if multi else column
        if any(c.n for c in cells):
            ax.bar(xs, [0.0 if math.isnan(m) else m for m in means], width * 0.9,
                   yerr=[e if not math.isnan(m) else 0.0 for m, e in zip(means, errs)], capsize=3, color=color,
                   label=name)
        top = max([top] + [m + e for m, e in zip(means, errs) if not math.isnan(m)])
        for x, c, m, e in zip(xs, cells, means, errs):
            if c.significant:
                ax.text(x, m + e, "*", ha="center", va="bottom")
        papers = [(x, c.paper) for x, c in zip(xs, cells) if c.paper is not None] if table.comparable else []
        if papers:
            ax.scatter([x for x, _ in papers], [p for _, p in papers], marker="D", color=color, edgecolors="black",
                       s=28, zorder=3, label=f"paper: {name}")
            top = max([top] + [p for _, p in papers])
    ax.set_ylim(0.0, top * 1.12 if top > 0 else 1.0)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(rows, rotation=35, ha="right")
    ax.set_xlabel(table.row_key)
    ax.set_ylabel(", ".join(table.metrics) if multi else table.metrics[0])
    title = table.title + suffix
    ax.set_title("\n".join(textwrap.wrap(title, max(30, int(fig_width * TITLE_CHARS_PER_INCH)))), fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: never hides a bar
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, format="png")
    return fig
