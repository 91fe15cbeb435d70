"""``python -m platform.export EXPERIMENT [--top K] [--out DIR] [--from-ablation]``:
write the top-K trials' fully resolved configs (or, for an ablation, the best
configuration of each table row) as YAML files that
``python -m distill.train --config FILE`` runs unchanged. Selection uses the
sweep's validation metric, never the test split."""
import argparse
import json
import math
import os
import re
from collections import defaultdict

from distill.atomic_write import write_yaml
from distill.cli_errors import exit_on_config_error
from distill.errors import ConfigError
from platform.experiment_dir import read_meta
from platform.schedule_records import SCHEDULES_FILE, as_schedule, lineage, read_schedule_rows
from platform.sweep_summary import ranked
from platform.trial_records import TRIALS_FILE, read_rows

PROG = "python -m platform.export"


def export_top(experiment_dir: str, top: int, out_dir: str = None):
    meta = read_meta(experiment_dir)
    rows = read_rows(os.path.join(experiment_dir, TRIALS_FILE))
    if not rows:
        raise ConfigError("EXPERIMENT", f"{experiment_dir} has no finished trials yet ({TRIALS_FILE} missing or empty)")
    best = ranked(rows, meta["metric"], meta["mode"])[:top]
    if not best:
        raise ConfigError("EXPERIMENT", f"no trial of {experiment_dir} has a value for {meta['metric']}")
    out_dir = out_dir or os.path.join(experiment_dir, "exported")
    written = []
    schedules = read_schedule_rows(os.path.join(experiment_dir, SCHEDULES_FILE))
    for rank, row in enumerate(best, start=1):
        config = with_schedule(json.loads(row["config_json"]), schedules, row["trial_id"])
        config["output_dir"] = os.path.join("runs", os.path.basename(os.path.normpath(experiment_dir)), f"rank{rank}")
        path = os.path.join(out_dir, f"rank{rank}_{row['trial_id']}.yaml")
        write_yaml(path, config)
        written.append((path, row))
    return written, meta


def with_schedule(config: dict, schedules, trial_id: str) -> dict:
    """A trial whose hyperparameters changed during its run (population-based training) is
    exported with them by epoch: its first epoch's values in the config, the changes in
    ``schedule:``, so ``distill.train`` trains the same run from scratch."""
    from distill.config import set_dotted

    path = lineage(schedules, trial_id)
    if not path:
        return config
    start, schedule = as_schedule(path)
    for key, value in start.items():
        set_dotted(config, key, value)
    changes = {key: steps for key, steps in schedule.items() if len(steps) > 1}
    if changes:
        config["schedule"] = changes
    return config


def _row_label(row, key):
    for column in (f"param.search.{key}", f"param.{key}"):
        if row.get(column) is not None:
            return str(row[column])
    return None


def export_ablation_rows(experiment_dir: str, out_dir: str = None):
    """Per table row, the configuration (column) with the best mean validation metric
    over seeds; its lowest seed's resolved config is written."""
    from search_spaces import load_sweep

    meta = read_meta(experiment_dir)
    if meta.get("kind") != "ablation":
        raise ConfigError("--from-ablation", f"{experiment_dir} is a {meta.get('kind', 'sweep')}, not an ablation")
    spec = load_sweep(meta.get("sweep_file") or meta["sweep"])
    metric, sign = meta["metric"], (1.0 if meta["mode"] == "max" else -1.0)
    cells = defaultdict(list)
    for row in read_rows(os.path.join(experiment_dir, TRIALS_FILE)):
        value = row.get(metric)
        if row["status"] != "ok" or value is None or math.isnan(value):
            continue
        key = (_row_label(row, spec.table.rows), _row_label(row, spec.table.columns) if spec.table.columns else "")
        cells[key].append(row)
    best = {}
    for (row_label, column), rows in cells.items():
        score = sign * sum(r[metric] for r in rows) / len(rows)
        if row_label not in best or score > best[row_label][0]:
            best[row_label] = (score, column, min(rows, key=lambda r: r["seed"]))
    out_dir = out_dir or os.path.join(experiment_dir, "exported")
    written = []
    for row_label, (score, column, row) in best.items():
        config = json.loads(row["config_json"])
        safe = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", row_label)
        config["output_dir"] = os.path.join("runs", os.path.basename(os.path.normpath(experiment_dir)), safe)
        path = os.path.join(out_dir, f"row_{safe}.yaml")
        write_yaml(path, config)
        written.append((path, row_label, column, sign * score))
    return written, metric


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("experiment", help="an experiment folder written by platform.sweep (or its s3:// URI)")
    parser.add_argument("--top", type=int, default=1, help="how many of the best trials to export (default 1)")
    parser.add_argument("--out", help="output folder or s3:// URI (default: EXPERIMENT/exported)")
    parser.add_argument("--from-ablation", action="store_true", help="the best configuration of each table row")
    args = parser.parse_args(argv)
    with exit_on_config_error(PROG):
        from platform.storage_mirror import local_experiment, local_output

        if args.top < 1:
            raise ConfigError("--top", f"must be >= 1, got {args.top}")
        # s3:// experiments and outputs: read from and written back to their local copies
        experiment, push_experiment = local_experiment(args.experiment)
        out, push_out = local_output(args.out)
        if args.from_ablation:
            written, metric = export_ablation_rows(experiment, out)
            lines = [f"{path}  (row {row_label}{', column ' + str(column) if column else ''}: mean {metric} = "
                     f"{value:.4g})" for path, row_label, column, value in written]
        else:
            written, meta = export_top(experiment, args.top, out)
            lines = [f"{path}  ({meta['metric']} = {row[meta['metric']]:.4g}, trial {row['trial_id']})"
                     for path, row in written]
        push_experiment()
        push_out()
        for line in lines:
            print(line)
        if args.out and out != args.out:
            print(f"uploaded to {args.out}")


if __name__ == "__main__":
    main()
