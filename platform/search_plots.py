"""PNG plots of a search (TPE/random/NSGA-II sweep), drawn from trials.parquet:
optimization history, parameter importance, the metric against each searched
parameter, and for two objectives the Pareto front."""
import math
import os
from typing import Dict, List, Sequence

import matplotlib

matplotlib.use("Agg")   # headless: reports run on cluster heads and in CI
import matplotlib.pyplot as plt  # noqa: E402


def _usable(rows, metric):
    out = []
    for r in rows:
        value = r.get(metric)
        if r.get("status") != "failed" and isinstance(value, (int, float)) and not math.isnan(value):
            out.append(r)
    return out


def _save(fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_history(rows, metric: str, mode: str, path: str) -> str:
    """Each finished trial's value in the order the trials were started, and the best so far."""
    usable = _usable(rows, metric)
    values = [r[metric] for r in usable]
    best, running = [], None
    for v in values:
        running = v if running is None else (max(running, v) if mode == "max" else min(running, v))
        best.append(running)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(values) + 1), values, "o", label="trial")
    ax.plot(range(1, len(values) + 1), best, "-", label=f"best so far ({mode})")
    ax.set_xlabel("trial (start order)")
    ax.set_ylabel(metric)
    ax.set_title("Optimization history")
    ax.legend()
    return _save(fig, path)


FEW_TRIALS = 20   # below this, importances mostly rank noise


def importance_caution(trials: int) -> str:
    return (f"from {trials} trials: too few to read; the ranking may be noise" if trials < FEW_TRIALS
            else f"from {trials} trials")


def plot_importance(importances: Dict[str, float], path: str, metric: str, trials: int = 0) -> str:
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.5 * len(names) + 1.8))
    ax.barh(names, [importances[n] for n in names])
    ax.set_xlabel(f"importance for {metric} (PED-ANOVA)")
    ax.set_title(f"Parameter importance, {importance_caution(trials)}", fontsize=9,
                 color="darkred" if trials < FEW_TRIALS else "black")
    return _save(fig, path)


def plot_metric_vs_params(rows, metric: str, params: Sequence[str], path: str) -> str:
    usable = _usable(rows, metric)
    cols = min(3, max(1, len(params)))
    nrows = math.ceil(len(params) / cols) or 1
    fig, axes = plt.subplots(nrows, cols, figsize=(4.5 * cols, 3.6 * nrows), squeeze=False)
    for ax, param in zip(axes.flat, params):
        points = [(r.get(f"param.{param}"), r[metric]) for r in usable if r.get(f"param.{param}") is not None]
        xs = [p[0] for p in points]
        numeric = all(isinstance(x, (int, float)) for x in xs)
        if numeric:
            ax.scatter(xs, [p[1] for p in points])
        else:   # categorical: one column of points per value
            labels = sorted({str(x) for x in xs})
            ax.scatter([labels.index(str(x)) for x in xs], [p[1] for p in points])
            short = [label if len(label) <= 16 else label[:15] + "…" for label in labels]
            ax.set_xticks(range(len(labels)), short, rotation=30, ha="right", fontsize=7)
        ax.set_xlabel(param)
        ax.set_ylabel(metric)
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    fig.suptitle(f"{metric} against each searched parameter")
    return _save(fig, path)


def plot_learning_curves(curves: Dict[str, Dict[int, float]], metric: str, path: str) -> str:
    """Each trial's per-epoch value, labelled by its trial id: where early stopping would cut."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, curve in curves.items():
        steps = sorted(curve)
        ax.plot(steps, [curve[s] for s in steps], "-o", markersize=3, alpha=0.7, label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"Learning curves ({len(curves)} trials)" + ("" if len(curves) <= 12 else "; too many to label"))
    if len(curves) <= 12:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def tune_curves(tune_dir: str, metric: str) -> Dict[str, Dict[int, float]]:
    """trial id -> {epoch: value} from each trial's result.json in the Tune experiment folder."""
    import glob
    import json

    curves: Dict[str, Dict[int, float]] = {}
    for path in sorted(glob.glob(os.path.join(glob.escape(tune_dir), "trial_*", "result.json"))):
        trial_id = os.path.basename(os.path.dirname(path))[len("trial_"):]
        with open(path) as fh:
            for line in fh:
                try:
                    result = json.loads(line)
                except ValueError:
                    continue
                value, epoch = result.get(metric), result.get("epoch")
                if isinstance(value, (int, float)) and isinstance(epoch, int):
                    curves.setdefault(trial_id, {})[epoch] = float(value)
    return curves


def pareto_front(rows, metrics: List[str], modes: List[str]) -> List[dict]:
    """Rows no other row beats on every objective (and strictly on one)."""
    usable = [r for r in _usable(rows, metrics[0]) if all(isinstance(r.get(m), (int, float)) for m in metrics)]

    def better_or_equal(a, b):
        return all((a[m] >= b[m]) if d == "max" else (a[m] <= b[m]) for m, d in zip(metrics, modes))

    front = []
    for r in usable:
        dominated = any(better_or_equal(o, r) and any(o[m] != r[m] for m in metrics) for o in usable if o is not r)
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: r[metrics[0]])


def plot_pareto(rows, metrics: List[str], modes: List[str], path: str) -> str:
    usable = [r for r in _usable(rows, metrics[0]) if isinstance(r.get(metrics[1]), (int, float))]
    front = pareto_front(rows, metrics, modes)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([r[metrics[1]] for r in usable], [r[metrics[0]] for r in usable], label="trial", alpha=0.6)
    ordered = sorted(front, key=lambda r: r[metrics[1]])
    ax.plot([r[metrics[1]] for r in ordered], [r[metrics[0]] for r in ordered], "r-o", label="Pareto front")
    ax.set_xlabel(f"{metrics[1]} ({modes[1]})")
    ax.set_ylabel(f"{metrics[0]} ({modes[0]})")
    ax.set_title("Pareto front")
    ax.legend()
    return _save(fig, path)


def plot_search(rows, metric: str, mode: str, importances: Dict[str, float], params: Sequence[str],
                out_dir: str, curves: Dict[str, Dict[int, float]] = None, trials: int = 0) -> List[str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = [plot_history(rows, metric, mode, os.path.join(out_dir, "optimization_history.png"))]
    if curves:
        paths.append(plot_learning_curves(curves, metric, os.path.join(out_dir, "learning_curves.png")))
    if importances:
        paths.append(plot_importance(importances, os.path.join(out_dir, "param_importance.png"), metric, trials))
    if params:
        paths.append(plot_metric_vs_params(rows, metric, params, os.path.join(out_dir, "metric_vs_params.png")))
    return paths
