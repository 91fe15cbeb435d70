"""``python -m platform.report EXPERIMENT [--latex] [--metric M]``: the report of
any experiment. An ablation (or a grid sweep with a table layout) gets the
paper's table with ours beside it (Markdown, CSV, optional LaTeX, a bar chart);
a search gets its best trials, parameter importances (Optuna's PED-ANOVA) and
plots; two objectives get the Pareto front. Files go to EXPERIMENT/report/."""
import argparse
import os
from typing import List, Optional

from distill.atomic_write import atomic_write
from distill.cli_errors import exit_on_config_error
from distill.errors import ConfigError
from platform.experiment_dir import OPTUNA_FILE, read_meta
from platform.metric_kinds import on_test_split
from platform.trial_records import TRIALS_FILE, read_rows

PROG = "python -m platform.report"
REPORT_DIR = "report"


def table_metrics(spec, meta: dict, metric: Optional[str] = None) -> List[str]:
    """What a paper table shows: the selection metric's kind on the test split (reported, never
    selected on: test accuracy, test mAP), one metric per network when the paper gives a number
    per network."""
    if metric is None:
        metric = on_test_split(spec.primary_metric)
    values = (spec.paper_for(meta["preset"]) or {}).get("values") or {}
    widest = max((len(v) for e in values.values() for v in (e.values() if isinstance(e, dict) else [e])
                  if isinstance(v, list)), default=1)
    if widest > 1:
        prefix = metric.rsplit(".", 1)[0]
        return [f"{prefix}.{n['name']}" for n in meta["base"]["networks"][:widest]]
    return [metric]


def write_text(path: str, text: str) -> str:
    atomic_write(path, lambda fh: fh.write(text))
    return path


def what_ran(rows) -> str:
    """The data sets and networks the finished trials trained, read off their records."""
    import json

    data, nets, teachers = [], [], []
    for row in rows:
        config = json.loads(row["config_json"]) if row.get("config_json") else {}
        name = row.get("data") or config.get("data", {}).get("name")
        data += [name] if name and name not in data else []
        for n in config.get("networks", []):
            nets += [n["arch"]] if n["arch"] not in nets else []
        teacher = (config.get("teacher") or {}).get("arch")
        teachers += [teacher] if teacher and teacher not in teachers else []
    text = f"{', '.join(data) or 'no data'}; {', '.join(nets)}"
    return text + (f"; teacher {', '.join(teachers)}" if teachers else "")


def comparable_with_paper(spec, meta) -> bool:
    """A paper number shares a cell with ours only when the run is the paper's setting: a preset
    that says so (``paper``, or ``comparable: true``) and no --set changing data or networks."""
    preset = spec.presets.get(meta["preset"])
    declared = preset.comparable if preset is not None and preset.comparable is not None else meta["preset"] == "paper"
    changed = any(str(o).split("=", 1)[0].split(".", 1)[0] in ("data", "networks", "teacher")
                  for o in meta.get("overrides") or [])
    return bool(declared) and not changed


def table_report(spec, meta, rows, out_dir: str, latex: bool, metric: Optional[str]):
    from platform.ablation_plot import plot_table_files
    from platform.ablation_table import build_table
    from platform.head_table import head_markdown
    from platform.metric_kinds import kind_tables
    from platform.selection_note import selection_note
    from platform.table_render import to_csv, to_latex, to_markdown

    metrics = table_metrics(spec, meta, metric)
    comparable = comparable_with_paper(spec, meta)
    ran = what_ran([r for r in rows if r.get("status") == "ok"] or rows)
    paper = spec.paper_for(meta["preset"])
    source = (paper or {}).get("source")
    title = f"{spec.name} ({meta['preset']} preset) on {ran}" + (f"; paper: {source}" if source else "")
    note = selection_note(rows, spec.primary_metric)
    texts, written = [], []
    # the main table, then a sweep's further tables (DAFL's loss ablation beside its baselines)
    for suffix, layout in [("", spec.table)] + [(f"_{name}", t) for name, t in spec.tables.items()]:
        heading = title if not suffix else f"{spec.name} ({meta['preset']} preset) on {ran}: {layout.title or suffix[1:]}"
        table = build_table(rows, layout, metrics[0], paper, metrics if len(metrics) > 1 else None,
                            title=heading, comparable=comparable)
        markdown = to_markdown(table)
        if not suffix:   # the main table's further metric kinds (rank-1 under Table 6's mAP)
            kinds, files = kind_tables(rows, spec, metrics, heading, out_dir, latex)
            markdown, written = markdown + kinds, written + files
        written += [write_text(os.path.join(out_dir, f"table{suffix}.md"), f"# {heading}\n\n{note}\n\n{markdown}\n"),
                    write_text(os.path.join(out_dir, f"table{suffix}.csv"), to_csv(table))]
        if latex:
            written.append(write_text(os.path.join(out_dir, f"table{suffix}.tex"), to_latex(table)))
        written += plot_table_files(table, os.path.join(out_dir, f"table{suffix}.png"))
        texts.append(markdown if not suffix else f"## {heading}\n\n{markdown}")
    markdown = "\n\n".join(texts) + f"\n\n{note}\n"
    heads = head_markdown(rows, spec.table, metrics[0].rsplit(".", 1)[-1])
    if heads:   # exits and branches of self-distillation rows
        written.append(write_text(os.path.join(out_dir, "heads.md"), f"# {title}\n\n{heads}"))
        markdown = f"{markdown}\n{heads}"
    return markdown, written


def load_study(experiment_dir: str, study_name: str, storage_url: Optional[str] = None):
    import optuna

    from platform.tuner_factory import optuna_storage

    if not storage_url and not os.path.exists(os.path.join(experiment_dir, OPTUNA_FILE)):
        return None
    return optuna.load_study(study_name=study_name, storage=optuna_storage(experiment_dir, storage_url))


def importances(study, objective_index: int = 0) -> dict:
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return {}
    target = (lambda t: t.values[objective_index]) if len(study.directions) > 1 else None
    try:
        return optuna.importance.get_param_importances(study, target=target)
    except (RuntimeError, ValueError) as err:   # e.g. a single distinct value per parameter
        print(f"no parameter importance: {err}")
        return {}


def search_report(spec, meta, rows, experiment_dir: str, out_dir: str):
    from platform.point_coverage import unrun_lines
    from platform.search_plots import pareto_front, plot_pareto, plot_search
    from platform.sweep_summary import format_table, ranked

    metric, mode = spec.primary_metric, spec.primary_mode
    lines = [format_table(ranked(rows, metric, mode)[:10], metric, mode)]
    lines += unrun_lines(spec.points_for(meta["preset"], meta.get("fixed") or []), rows)
    from platform.selection_note import selection_note

    lines.append("\n" + selection_note(rows, metric))
    study = load_study(experiment_dir, spec.name, meta.get("optuna_storage"))
    scores = importances(study) if study is not None else {}
    from platform.search_plots import importance_caution, tune_curves

    finished = len([r for r in rows if r.get("status") != "failed" and r.get(metric) is not None])
    if scores:
        lines.append(f"\nparameter importance (PED-ANOVA) for {metric}, {importance_caution(finished)}")
        lines += [f"  {name:<32} {value:.3f}" for name, value in scores.items()]
    params = sorted({k[len("param."):] for r in rows for k in r if k.startswith("param.")
                     and len({str(x.get(k)) for x in rows}) > 1})
    from platform.experiment_dir import TUNE_NAME

    curves = tune_curves(os.path.join(experiment_dir, TUNE_NAME), metric)
    written = plot_search(rows, metric, mode, {k.replace("search.", ""): v for k, v in scores.items()}, params,
                          out_dir, curves, finished)
    if spec.multi_objective:
        front = pareto_front(rows, spec.metrics[:2], spec.modes[:2])
        written.append(plot_pareto(rows, spec.metrics[:2], spec.modes[:2], os.path.join(out_dir, "pareto_front.png")))
        lines.append(f"\nPareto front ({spec.metrics[0]} {spec.modes[0]}, {spec.metrics[1]} {spec.modes[1]}):")
        lines += [f"  {r['trial_id']}  " + "  ".join(f"{m}={r[m]:.4g}" for m in spec.metrics) for r in front]
    text = "\n".join(lines)
    written.insert(0, write_text(os.path.join(out_dir, "summary.txt"), text + "\n"))
    return text, written


def report_experiment(experiment_dir: str, latex: bool = False, metric: Optional[str] = None):
    from platform.generated_report import generated_report, uses_dafl
    from platform.schedule_records import SCHEDULES_FILE, read_schedule_rows
    from search_spaces import load_sweep

    meta = read_meta(experiment_dir)
    rows = read_rows(os.path.join(experiment_dir, TRIALS_FILE))
    if not rows:
        raise ConfigError("EXPERIMENT", f"{experiment_dir} has no finished trials yet ({TRIALS_FILE} missing or empty)")
    spec = load_sweep(meta.get("sweep_file") or meta["sweep"])
    out_dir = os.path.join(experiment_dir, REPORT_DIR)
    os.makedirs(out_dir, exist_ok=True)
    is_table = spec.table is not None and (meta.get("kind") == "ablation" or spec.sampler == "grid")
    if is_table:
        text, written = table_report(spec, meta, rows, out_dir, latex, metric)
    else:
        text, written = search_report(spec, meta, rows, experiment_dir, out_dir)
    if uses_dafl(rows):   # a data-free method's user wants to see what its generator makes
        table = spec.table if is_table else None
        # under a table, in table.md itself: the images belong beside the numbers they explain
        generated, files = generated_report(experiment_dir, rows, out_dir, table and table.rows,
                                            table and table.columns, spec.primary_metric, spec.primary_mode,
                                            report_file=None if is_table else "generated.md")
        if is_table:
            main_table = os.path.join(out_dir, "table.md")
            with open(main_table) as fh:
                body = fh.read()
            write_text(main_table, f"{body}\n{generated.replace('# What', '## What', 1)}")
        text, written = f"{text}\n\n{generated}", written + files
    schedules = read_schedule_rows(os.path.join(experiment_dir, SCHEDULES_FILE))
    if schedules:   # values that changed during the runs (population-based training)
        from platform.schedule_plot import plot_schedules

        written.append(plot_schedules(schedules, rows, spec.primary_metric, out_dir))
    from platform.report_page import write_page

    written.append(write_page(experiment_dir, out_dir, meta, rows))
    return text, written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("experiment", nargs="?", help="an experiment folder written by platform.sweep or platform.ablate "
                                                      "(or its s3:// URI)")
    parser.add_argument("--compare", nargs=2, metavar=("EXP_A", "EXP_B"),
                        help="two experiments of one sweep side by side: per table cell A - B with its interval")
    parser.add_argument("--latex", action="store_true", help="also write the table as LaTeX")
    parser.add_argument("--metric", help="table metric (default: the sweep's metric on the test split)")
    args = parser.parse_args(argv)
    with exit_on_config_error(PROG):
        if args.compare:
            from platform.compare import write_compare

            text, written = write_compare(*args.compare)
            print(text)
            for path in written:
                print(f"wrote {path}")
            return
        if not args.experiment:
            raise ConfigError("EXPERIMENT", "give an experiment folder (or --compare EXP_A EXP_B)")
        from platform.storage_mirror import local_experiment

        folder, push = local_experiment(args.experiment)   # an s3:// experiment: read and written back
        text, written = report_experiment(folder, args.latex, args.metric)
        push()
        print(text)
        print()
        for path in written:
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
