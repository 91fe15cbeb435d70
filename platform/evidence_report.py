"""What the evidence command writes: per family, a table of the method rows on the test
split with intervals over seeds, the difference from the baseline row with Welch's interval,
marks that survive Holm's correction over the table's rows, and the papers' claims with the
verdicts the numbers give (``platform/evidence_stats.py``); then one page for all families.

Everything a reader needs to judge a number is printed beside it: the data set, the training
subset and its seed, the networks, the seeds, the tuning budget and what it selected on."""
import json
import math
import os
import platform as host
import subprocess
from collections import defaultdict
from typing import Dict, List, Optional

from distill.atomic_write import atomic_write
from platform.evidence_stats import (HOLDS, LEVEL, NOT_SHOWN, difference_interval, holm, mean_interval,
                                     verdict)

ALPHA = 0.05
MIN_SEEDS = 3
REPORT_FILE = "evidence.md"
PLOT_FILE = "differences.png"


def _fmt(value: float, digits: int = 2) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _interval(low: float, high: float) -> str:
    return "–" if math.isnan(low) else f"[{low:.2f}, {high:.2f}]"


def _signed_interval(diff) -> str:
    if math.isnan(diff.value):
        return "–"
    text = f"{diff.value:+.2f}"
    return text + ("" if math.isnan(diff.low) else f" [{diff.low:+.2f}, {diff.high:+.2f}]")


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=os.path.dirname(os.path.abspath(__file__)))
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> str:
    return f"{os.cpu_count()} CPU cores, {host.machine()}, no GPU" if not _has_gpu() else \
        f"{os.cpu_count()} CPU cores, {host.machine()}, GPU"


def _has_gpu() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def method_values(rows: List[dict], axis: str, metric: str, reference_rows=None) -> Dict[str, Dict[int, float]]:
    """Row label -> {seed: value} over the finished trials; ``reference_rows`` (label -> spec with
    ``row`` and ``metric``) are read off another row's trials (DAFL's frozen teacher)."""
    from platform.ablation_table import axis_value

    values: Dict[str, Dict[int, float]] = defaultdict(dict)
    for record in rows:
        label = axis_value(record, axis)
        if record.get("status") != "ok" or label is None:
            continue
        value = record.get(metric)
        if value is not None and not math.isnan(float(value)):
            values[str(label)][int(record.get("seed") or 0)] = float(value)
        for ref_label, ref in (reference_rows or {}).items():
            extra = record.get(ref.metric)
            if str(label) == str(ref.row) and extra is not None and not math.isnan(float(extra)):
                values[str(ref_label)][int(record.get("seed") or 0)] = float(extra)
    return values


def tuned_text(pick: dict, recipe: dict) -> str:
    if "inherits" in pick:
        return f"{pick['inherits']}'s, its own terms off"
    values = {**recipe, **(pick.get("values") or {})}
    return ", ".join(f"{k.split('.', 1)[-1]} {_short(v)}" for k, v in values.items())


def compare_rows(values: Dict[str, Dict[int, float]], order: List[str], baseline: str, references=()):
    """Each row against the baseline: (row -> Welch difference, row -> Holm-adjusted p)."""
    base = list(values.get(baseline, {}).values())
    diffs = {row: difference_interval(list(values[row].values()), base) for row in order
             if row != baseline and row in values and row not in references}
    return diffs, holm({row: d.p for row, d in diffs.items()})


def stats_table(values: Dict[str, Dict[int, float]], order: List[str], baseline: str, metric: str,
                selected: dict, extra: Optional[Dict[str, Dict[str, Dict[int, float]]]] = None,
                references=()) -> List[str]:
    """The Markdown lines of one evidence table; ``references`` (the frozen teacher) are shown, not tested."""
    extra = extra or {}
    recipe_row, recipe = selected.get("recipe", {}).get("row"), selected.get("recipe", {}).get("values", {})
    selected = selected["rows"]
    diffs, adjusted = compare_rows(values, order, baseline, references)
    header = ["row", "tuned values", "n", f"{metric} mean ± std", f"{int(LEVEL * 100)}% interval",
              f"Δ vs {baseline} [{int(LEVEL * 100)}% interval]", "Holm p"] + [f"{k} mean ± std" for k in extra]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in order:
        seeds = values.get(row, {})
        s = mean_interval(list(seeds.values()))
        diff = diffs.get(row)
        p = adjusted.get(row, math.nan)
        mark = "*" if not math.isnan(p) and p < ALPHA else ""
        tuned = tuned_text(selected.get(row, {}), recipe if row == recipe_row else {})
        versus = "baseline" if row == baseline else "reference" if row in references else \
            (_signed_interval(diff) + mark if diff else "–")
        cells = [row, tuned or ("–" if row in references else "the recipe"), str(s.n),
                 f"{_fmt(s.mean)} ± {_fmt(s.std)}" if s.n > 1 else _fmt(s.mean),
                 _interval(s.low, s.high), versus, _fmt(p, 3) if row in diffs else ""]
        for kind in extra.values():
            e = mean_interval(list(kind.get(row, {}).values()))
            cells.append(f"{_fmt(e.mean)} ± {_fmt(e.std)}" if e.n > 1 else _fmt(e.mean))
        lines.append("| " + " | ".join(cells) + " |")
    counts = sorted({len(v) for v in values.values()})
    lines += ["", f"n: seeds per row. Interval: two-sided {int(LEVEL * 100)}% t interval over seeds. Δ: the row's mean "
                  f"minus {baseline}'s with Welch's interval; * where Welch's test against {baseline} gives a "
                  f"Holm-adjusted p < {ALPHA} over the table's {len(diffs)} rows."]
    if counts and counts[0] < MIN_SEEDS:
        lines.append(f"\n**Warning: fewer than {MIN_SEEDS} seeds in some rows (n = {', '.join(map(str, counts))}): "
                     "the intervals are wide or missing, and no claim can be shown.**")
    return lines


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def claims_lines(claims, values: Dict[str, Dict[int, float]]) -> List[str]:
    lines = ["| claim | the paper | measured Δ [95% interval] | verdict |", "|---|---|---|---|"]
    for claim in claims:
        if claim.row not in values or claim.than not in values:
            lines.append(f"| {claim.text} | {claim.paper} | rows not run | {NOT_SHOWN} |")
            continue
        diff = difference_interval(list(values[claim.row].values()), list(values[claim.than].values()))
        said = verdict(diff, claim.kind, by=claim.by, margin=claim.margin)
        what = f"{claim.row} − {claim.than}: {_signed_interval(diff)}"
        lines.append(f"| {claim.text} | {claim.paper} | {what} | **{said}** |")
    lines += ["", f"Verdicts from the numbers: {HOLDS} when the interval of the difference lies on the claimed side "
                  "(above the claimed size, or within the claimed margin), contradicted when it lies on the other side, "
                  f"{NOT_SHOWN} otherwise."]
    return lines


def setup_lines(meta: dict, tune_meta: dict, selected: dict, timing: Dict[str, float], size: str) -> List[str]:
    """What ran: data, subset, networks, schedule, seeds, the tuning budget, wall time, machine, commit."""
    base = meta["base"]
    data = base["data"]
    subset = data.get("train_subset")
    from distill.data import DATA_INFO

    info = DATA_INFO.get(data["name"])
    where = (f"a fixed class-stratified subset of {subset} training images ({subset // info.num_classes} a class, "
             f"subset seed {data.get('subset_seed', 0)})" if subset else "the whole training split")
    nets = ", ".join(f"{n['name']} {n['arch']}" for n in base["networks"])
    classes = f"classes: {', '.join(info.class_names)}" if info.class_names else ""
    if info.test_class_names:
        classes = f"trained on the classes {', '.join(info.class_names)}; tested on the unseen classes " \
                  f"{', '.join(info.test_class_names)}"
    teacher = base.get("teacher")
    budget = selected["budget"]
    own = "; ".join(f"{row}: {', '.join(k.split('.', 1)[-1] for k in keys)}" for row, keys in budget["rows"].items())
    recipe = selected["recipe"]["row"]
    by_source: Dict[str, List[str]] = defaultdict(list)
    for row, source in budget.get("inherit", {}).items():
        by_source[source].append(row)
    # a row may search a recipe key itself (the offline family's learning rate: LeNet without
    # BatchNorm diverges under some methods at the recipe's rate)
    redrawn = sorted({k.split('.', 1)[-1] for keys in budget["rows"].values() for k in keys if k in budget["common"]})
    recipe_use = ("the recipe every row then uses" if not redrawn else
                  f"the recipe every row starts from; each row below draws its own {', '.join(redrawn)} with its values")
    inherit = "; ".join(f"{', '.join(rows)} take {source}'s values, each with its own terms off"
                        for source, rows in by_source.items())
    lines = [
        f"- Data: `{data['name']}` (real Fashion-MNIST files), trained on {where} after holding out "
        f"{data.get('val_fraction', 0.1):.0%} of the training split for validation; the table is the test split "
        "(never selected on)" + (f"; {classes}" if classes else "") + ".",
        f"- Networks (base config; rows may change them): {nets}" + (f"; teacher {teacher['arch']} from the teacher "
                                                                    f"store ({teacher.get('epochs')} epochs)"
                                                                    if teacher else "") + ".",
        f"- Schedule: {base['train']['epochs']} epochs, batch {data['batch_size']}, {base['optim'].get('name', 'sgd')} "
        f"lr (tuned) with a {base['optim'].get('schedule')} schedule; seeds {', '.join(map(str, meta['seeds']))}; "
        f"size `{size}`.",
        f"- Tuning, {budget['draws']} random draws a row, at {tune_meta['base']['train']['epochs']} epochs, each "
        f"selected on `{tune_meta['metric']}` (validation split): first {recipe} over "
        f"{', '.join(k.split('.', 1)[-1] for k in budget['common'])} ({recipe_use}), then every "
        f"other row over its own values ({own or 'none'}); rows with nothing of their own run the recipe"
        + (f"; {inherit}" if inherit else "") + ".",
        f"- Wall time on {machine()}: tuning {timing.get('tune_seconds', 0) / 60:.1f} min, table "
        f"{timing.get('table_seconds', 0) / 60:.1f} min; commit {commit()}.",
    ]
    return lines


def family_report(family, family_dir: str, tune_dirs: List[str], table_dir: str, selected: dict,
                  timing: Dict[str, float], size: str) -> str:
    from platform.experiment_dir import read_meta
    from platform.head_table import head_markdown
    from platform.metric_kinds import on_test_split, with_kind
    from platform.trial_records import TRIALS_FILE, read_rows
    from search_spaces import load_sweep

    meta, tune_meta = read_meta(table_dir), read_meta(tune_dirs[0])
    spec = load_sweep(meta["sweep_file"])
    rows = read_rows(os.path.join(table_dir, TRIALS_FILE))
    axis = selected["axis"]
    metric = on_test_split(spec.primary_metric)
    table = spec.table
    values = method_values(rows, axis, metric, table.reference_rows if table else None)
    order = [str(r) for r in (table.reference_rows if table else {})] + \
        [str(r) for r in spec.variants_for(meta["preset"])[axis]]
    order = [r for r in order if r in values or r in selected["rows"]]
    extra = {with_kind(metric, kind): method_values(rows, axis, with_kind(metric, kind))
             for kind in (table.also_kinds if table else [])}
    lines = [f"## {family.title} (`{family.name}`: sweep `{family.sweep}`)", ""]
    lines += setup_lines(meta, tune_meta, selected, timing, size) + [""]
    baseline = spec.preset(meta["preset"]).baseline or table.baseline
    references = [str(r) for r in (table.reference_rows if table else {})]
    lines += stats_table(values, order, str(baseline), metric, selected, extra, references)
    from platform.evidence_plot import plot_differences

    diffs, adjusted = compare_rows(values, order, str(baseline), references)
    marked = [r for r, p in adjusted.items() if not math.isnan(p) and p < ALPHA]
    plot_differences(diffs, marked, str(baseline), metric, f"{family.title}: difference from {baseline} on the test "
                     f"split, seeds {', '.join(map(str, meta['seeds']))}", os.path.join(family_dir, PLOT_FILE))
    lines += ["", f"![Differences from {baseline} with 95% intervals]({PLOT_FILE})"]
    heads = head_markdown(rows, _AxisTable(axis), metric.split(".")[1]) if table else ""
    if heads:
        lines += ["", heads.rstrip()]
    claims = spec.preset(meta["preset"]).claims
    claims = spec.claims if claims is None else claims
    if claims:
        lines += ["", "**What the papers claim, and what these numbers say**", ""] + claims_lines(claims, values)
    text = "\n".join(lines) + "\n"
    path = os.path.join(family_dir, REPORT_FILE)
    atomic_write(path, lambda fh: fh.write(text))
    return path


class _AxisTable:
    """A table layout of the method axis alone (the per-head table of the evidence rows)."""

    def __init__(self, axis: str):
        self.rows, self.columns = axis, None


def index_report(storage: str, size: str) -> str:
    """``STORAGE/evidence.md``: every family's page that exists, in the families' order."""
    from platform.evidence_families import FAMILIES

    parts = [f"# Evidence on real data (size `{size}`)", ""]
    for name in FAMILIES:
        path = os.path.join(storage, name, REPORT_FILE)
        if os.path.isfile(path):
            with open(path) as fh:
                parts.append(fh.read())
    path = os.path.join(storage, REPORT_FILE)
    atomic_write(path, lambda fh: fh.write("\n".join(parts)))
    return path


def timing_of(family_dir: str) -> Dict[str, float]:
    path = os.path.join(family_dir, "timing.json")
    return json.load(open(path)) if os.path.isfile(path) else {}
