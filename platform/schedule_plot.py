"""``schedules.png``: what a population-based sweep did to each hyperparameter, one panel per
perturbed key, the value by epoch of every trial, coloured by the trial's final value of the
sweep's metric, a marker where a trial continued another trial's checkpoint. Drawn on a bare
``Figure`` with the Agg canvas, as the other report figures."""
import math
import os
from typing import Any, Dict, List

from platform.schedule_records import HP_PREFIX

FILE = "schedules.png"


def plot_schedules(schedule_rows: List[Dict[str, Any]], trials: List[Dict[str, Any]], metric: str,
                   out_dir: str) -> str:
    from matplotlib import cm, colors
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = sorted({k for r in schedule_rows for k in r if k.startswith(HP_PREFIX)})
    final = {t["trial_id"]: t.get(metric) for t in trials}
    scores = [v for v in final.values() if v is not None and not math.isnan(v)]
    norm = colors.Normalize(min(scores, default=0.0), max(scores, default=1.0))
    by_trial: Dict[str, List[Dict[str, Any]]] = {}
    for row in sorted(schedule_rows, key=lambda r: (r["trial_id"], r["epoch"])):
        by_trial.setdefault(row["trial_id"], []).append(row)
    fig = Figure(figsize=(6.5, 1.0 + 2.4 * len(keys)), dpi=120)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(len(keys), 1, i + 1) for i in range(len(keys))]
    for ax, key in zip(axes, keys):
        for trial, rows in by_trial.items():
            score = final.get(trial)
            colour = cm.viridis(norm(score)) if score is not None and not math.isnan(score) else "grey"
            epochs, values = [r["epoch"] for r in rows], [r[key] for r in rows]
            ax.step(epochs, values, where="post", color=colour, linewidth=1.2, label=trial)
            clones = [(r["epoch"], r[key]) for r in rows if r.get("cloned_from")]
            if clones:
                ax.plot(*zip(*clones), "o", color=colour, markersize=5)
        ax.set_ylabel(key[len(HP_PREFIX):], fontsize=8)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    mappable = cm.ScalarMappable(norm=norm, cmap="viridis")
    fig.colorbar(mappable, ax=axes, label=f"final {metric}")
    axes[0].set_title(f"{len(by_trial)} trials' values by epoch (o: continued another trial's checkpoint)",
                      fontsize=9)
    path = os.path.join(out_dir, FILE)
    fig.savefig(path, format="png")
    return path
