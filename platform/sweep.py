"""``python -m platform.sweep NAME [--preset smoke|paper] [--trials N] [--resume]
[--address ADDR] [--storage DIR] [--set key=value ...]``

Runs a named sweep from ``search_spaces/`` on Ray Tune (a local Ray unless
--address or RAY_ADDRESS names a cluster), Optuna searching, and writes one
experiment folder (see platform/experiment_dir.py). ``--list`` lists sweeps."""
import argparse
import os
import sys

from distill.cli_errors import exit_on_config_error
from platform.experiment_run import add_common_args, launch, prepare, push_experiment
from platform.ray_session import driver_environment

PROG = "python -m platform.sweep"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description="Run a named distillation sweep on Ray Tune + Optuna.")
    parser.add_argument("name", nargs="?", help="sweep name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the sweeps, one line each")
    parser.add_argument("--trials", type=int, help="number of trials for a search (default: the preset's)")
    add_common_args(parser)
    return parser, parser.parse_args(argv)


def list_command() -> None:
    from search_spaces import list_sweeps

    sweeps = list_sweeps()
    width = max(map(len, sweeps), default=0)
    for name, description in sweeps.items():
        print(f"{name.ljust(width)}  {description}")


def run(args) -> int:
    from platform.point_coverage import unrun_lines
    from platform.sweep_summary import format_table, write_best_config

    spec, experiment_dir, meta = prepare(args)
    rows = launch(args, spec, experiment_dir, meta)
    print()
    metric, mode = spec.primary_metric, spec.primary_mode
    print(format_table(rows, metric, mode))
    for line in unrun_lines(spec.points_for(meta["preset"], meta["fixed"]), rows):
        print(line)
    best = write_best_config(rows, metric, mode, experiment_dir)
    push_experiment(args, experiment_dir)
    if best is None:
        print("no trial finished with a value for", metric)
        return 1
    params = {k[len("param."):]: v for k, v in best.items() if k.startswith("param.")}
    print(f"\nbest trial {best['trial_id']}: {metric} = {best[metric]:.4g}  {params}")
    print(f"best config: {os.path.join(experiment_dir, 'best_config.yaml')}")
    print(f"trials: {os.path.join(experiment_dir, 'trials.parquet')}")
    return 0


def main(argv=None) -> None:
    parser, args = parse_args(argv)
    if args.list:
        with exit_on_config_error(PROG):
            list_command()
        return
    if not args.name:
        parser.error("a sweep NAME is required (see --list)")
    driver_environment(args.address)   # before anything imports Ray
    with exit_on_config_error(PROG):
        sys.exit(run(args))


if __name__ == "__main__":
    from platform.command_exit import run_then_exit

    run_then_exit(main)
