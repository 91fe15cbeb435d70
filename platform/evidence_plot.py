"""An evidence table as a forest plot: each row's difference from the baseline with its 95%
Welch interval, a line at zero, rows marked when the difference survives Holm's correction.
A difference whose interval crosses zero is visibly not shown."""
import math
import os
import textwrap
from typing import Dict, List


def plot_differences(diffs: Dict[str, object], marked: List[str], baseline: str, metric: str, title: str,
                     path: str):
    """``diffs``: row -> ``evidence_stats.Difference``. Writes a PNG at ``path``; returns the Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r, d in diffs.items() if not math.isnan(d.value)]
    fig = Figure(figsize=(7.5, 1.2 + 0.42 * max(len(rows), 1)), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for y, row in enumerate(reversed(rows)):
        d = diffs[row]
        color = "C2" if row in marked else "C0"
        if not math.isnan(d.low):
            ax.plot([d.low, d.high], [y, y], color=color, linewidth=2)
        ax.plot([d.value], [y], marker="o", color=color)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(list(reversed(rows)), fontsize=8)
    ax.set_xlabel(f"{metric}: row minus {baseline} (points), 95% Welch interval")
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, format="png")
    return fig
