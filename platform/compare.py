"""``python -m platform.report --compare EXP_A EXP_B``: two experiments of one sweep side by
side. Per table cell (row, column, network) that both ran: each side's mean ± std over its
seeds, the difference A − B with Welch's 95% interval, and a mark where Welch's test, Holm-
corrected over all compared cells, gives p < 0.05 (cells below 3 seeds a side are not tested).
Cells that only one experiment ran are listed as such. Written as Markdown (printed, and
``EXP_A/report/compare-<B>.md``) and as a page beside it (``compare-<B>.html``)."""
import math
import os
from typing import Dict, List, Tuple

from distill.errors import ConfigError
from platform.ablation_table import MIN_SEEDS, SIGNIFICANCE, build_table
from platform.evidence_stats import difference_interval, holm


def _load(experiment_dir: str):
    from platform.experiment_dir import read_meta
    from platform.report import table_metrics
    from platform.trial_records import TRIALS_FILE, read_rows
    from search_spaces import load_sweep

    meta = read_meta(experiment_dir)
    rows = read_rows(os.path.join(experiment_dir, TRIALS_FILE))
    if not rows:
        raise ConfigError("EXPERIMENT", f"{experiment_dir} has no finished trials yet")
    spec = load_sweep(meta.get("sweep_file") or meta["sweep"])
    if spec.table is None:
        raise ConfigError("--compare", f"{experiment_dir}: sweep {spec.name} has no table layout to compare by")
    metrics = table_metrics(spec, meta)
    table = build_table(rows, spec.table, metrics[0], {}, metrics if len(metrics) > 1 else None)
    return meta, spec, table


def _cells(table) -> Dict[Tuple[str, str, str], object]:
    return {(r, c, table.network_labels[i]): s for (r, c), stats in table.cells.items()
            for i, s in enumerate(stats) if s.n}


def compare(dir_a: str, dir_b: str) -> Tuple[str, List[dict]]:
    meta_a, spec_a, table_a = _load(dir_a)
    meta_b, spec_b, table_b = _load(dir_b)
    if spec_a.name != spec_b.name:
        raise ConfigError("--compare", f"the experiments are of different sweeps ({spec_a.name}, {spec_b.name}); "
                                       "compare two experiments of one sweep")
    a, b = _cells(table_a), _cells(table_b)
    both = [k for k in a if k in b]
    diffs = {k: difference_interval(a[k].values, b[k].values) for k in both}
    tested = {k: d.p for k, d in diffs.items() if a[k].n >= MIN_SEEDS and b[k].n >= MIN_SEEDS}
    adjusted = holm(tested)
    name_a, name_b = (os.path.basename(os.path.normpath(d)) for d in (dir_a, dir_b))
    records, lines = [], [f"# {spec_a.name}: A = {name_a} ({meta_a['preset']}), B = {name_b} ({meta_b['preset']})",
                          "", f"| {table_a.row_key} | column | network | A | B | A − B [95% interval] | Holm p |",
                          "|---|---|---|---|---|---|---|"]
    for key in both:
        d, p = diffs[key], adjusted.get(key, math.nan)
        mark = "*" if not math.isnan(p) and p < SIGNIFICANCE else ""
        side = lambda s: f"{s.mean:.2f} ± {s.std:.2f} (n={s.n})" if s.n > 1 else f"{s.mean:.2f} (n=1)"  # noqa: E731
        interval = "" if math.isnan(d.low) else f" [{d.low:+.2f}, {d.high:+.2f}]"
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {side(a[key])} | {side(b[key])} | "
                     f"{d.value:+.2f}{interval}{mark} | {'' if math.isnan(p) else f'{p:.3f}'} |")
        records.append({"row": key[0], "column": key[1], "network": key[2], "difference": d.value, "low": d.low,
                        "high": d.high, "p_holm": p, "significant": bool(mark)})
    only = [(k, "A") for k in a if k not in b] + [(k, "B") for k in b if k not in a]
    lines += ["", f"Welch's test per cell, Holm-corrected over the {len(tested)} cells with {MIN_SEEDS} or more "
                  f"seeds on both sides; * p < {SIGNIFICANCE}." + (f" {len(both) - len(tested)} cell(s) below "
                                                                   f"{MIN_SEEDS} seeds not tested." if len(both) > len(tested) else "")]
    if only:
        lines += ["", "Ran in one experiment only: " + "; ".join(f"{k[0]} / {k[1]} ({side})" for k, side in only) + "."]
    return "\n".join(lines) + "\n", records


def write_compare(dir_a: str, dir_b: str) -> Tuple[str, List[str]]:
    from platform.report import REPORT_DIR, write_text
    from platform.report_page import markdown_blocks

    text, _ = compare(dir_a, dir_b)
    out = os.path.join(dir_a, REPORT_DIR)
    os.makedirs(out, exist_ok=True)
    stem = f"compare-{os.path.basename(os.path.normpath(dir_b))}"
    md = write_text(os.path.join(out, f"{stem}.md"), text)
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")),
                      autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("compare.html.j2").render(title=text.splitlines()[0].lstrip("# "),
                                                      blocks=markdown_blocks(text, out, set())[1:])
    page = write_text(os.path.join(out, f"{stem}.html"), html)
    return text, [md, page]
