"""``python -m platform.ablate NAME [--seeds N] [--preset smoke|paper] [--resume]
[--address ADDR] [--storage DIR] [--set key=value ...] [--latex]``

Runs a sweep's grid (a search's enqueued points, e.g. the paper's six
discriminator structures) crossed with N seeds, each configuration exactly once
per seed (``tune.grid_search``), on the same Ray machinery as platform.sweep;
then prints and writes the paper's table with ours beside it."""
import argparse
import sys

from distill.cli_errors import exit_on_config_error
from distill.errors import ConfigError
from platform.experiment_run import add_common_args, launch, prepare, push_experiment
from platform.ray_session import driver_environment
from search_spaces import load_sweep

PROG = "python -m platform.ablate"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description="Run an ablation study: a sweep's grid x seeds.")
    parser.add_argument("name", help="sweep name (see python -m platform.sweep --list)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default 3)")
    parser.add_argument("--latex", action="store_true", help="also write the table as LaTeX")
    add_common_args(parser)
    args = parser.parse_args(argv)
    driver_environment(args.address)   # before anything imports Ray
    with exit_on_config_error(PROG):
        if args.seeds < 1:
            raise ConfigError("--seeds", f"must be >= 1, got {args.seeds}")
        if load_sweep(args.name).table is None:
            raise ConfigError("sweep", f"{args.name} declares no table layout (table: {{rows, columns, baseline}})")
        spec, experiment_dir, meta = prepare(args, kind="ablation", seeds=list(range(args.seeds)))
        launch(args, spec, experiment_dir, meta)
        from platform.report import report_experiment

        text, written = report_experiment(experiment_dir, latex=args.latex)
        print()
        print(text)
        print()
        for path in written:
            print(f"wrote {path}")
        push_experiment(args, experiment_dir)
    sys.exit(0)


if __name__ == "__main__":
    from platform.command_exit import run_then_exit

    run_then_exit(main)
