"""``python -m platform.export EXPERIMENT [--top K] [--out DIR]``: write the
top-K trials' fully resolved configs as YAML files that
``python -m distill.train --config FILE`` runs unchanged."""
import argparse
import json
import os

from distill.atomic_write import write_yaml
from distill.cli_errors import exit_on_config_error
from distill.errors import ConfigError
from platform.experiment_dir import read_meta
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
    for rank, row in enumerate(best, start=1):
        config = json.loads(row["config_json"])
        config["output_dir"] = os.path.join("runs", os.path.basename(os.path.normpath(experiment_dir)), f"rank{rank}")
        path = os.path.join(out_dir, f"rank{rank}_{row['trial_id']}.yaml")
        write_yaml(path, config)
        written.append((path, row))
    return written, meta


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("experiment", help="an experiment folder written by platform.sweep")
    parser.add_argument("--top", type=int, default=1, help="how many of the best trials to export (default 1)")
    parser.add_argument("--out", help="output folder (default: EXPERIMENT/exported)")
    args = parser.parse_args(argv)
    with exit_on_config_error(PROG):
        if args.top < 1:
            raise ConfigError("--top", f"must be >= 1, got {args.top}")
        written, meta = export_top(args.experiment, args.top, args.out)
        for path, row in written:
            print(f"{path}  ({meta['metric']} = {row[meta['metric']]:.4g}, trial {row['trial_id']})")


if __name__ == "__main__":
    main()
