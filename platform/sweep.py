"""``python -m platform.sweep NAME [--preset smoke|paper] [--trials N] [--resume]
[--address ADDR] [--storage DIR] [--set key=value ...]``

Runs a named sweep from ``search_spaces/`` on Ray Tune (a local Ray unless
--address or RAY_ADDRESS names a cluster), Optuna searching, and writes one
experiment folder (see platform/experiment_dir.py). ``--list`` lists sweeps."""
import argparse
import copy
import os
import sys
import time

from distill.cli_errors import exit_on_config_error
from distill.config import apply_overrides, config_from_dict, parse_override
from distill.data import check_data
from distill.errors import ConfigError

PROG = "python -m platform.sweep"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description="Run a named distillation sweep on Ray Tune + Optuna.")
    parser.add_argument("name", nargs="?", help="sweep name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the sweeps, one line each")
    parser.add_argument("--preset", default="smoke", help="preset of the sweep (smoke, paper, ...); default smoke")
    parser.add_argument("--trials", type=int, help="number of trials for a search (default: the preset's)")
    parser.add_argument("--resume", action="store_true", help="continue the newest (or --name) experiment of this sweep")
    parser.add_argument("--name", dest="experiment_name", help="experiment folder name (default: SWEEP-PRESET-TIMESTAMP)")
    parser.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray)")
    parser.add_argument("--storage", default="experiments", help="folder for experiments (default: ./experiments)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override of the engine config for every trial, e.g. train.epochs=3")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--gpus-per-trial", type=float, help="default: 1 when the cluster has GPUs, else 0")
    parser.add_argument("--max-failures", type=int, default=0, help="retries of a failing trial from its checkpoint")
    parser.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    return parser, parser.parse_args(argv)


def list_command() -> None:
    from search_spaces import list_sweeps

    sweeps = list_sweeps()
    width = max(map(len, sweeps), default=0)
    for name, description in sweeps.items():
        print(f"{name.ljust(width)}  {description}")


def absolute_paths(base: dict) -> dict:
    """Trials run in other working directories (and on other nodes): resolve user paths now."""
    base = copy.deepcopy(base)
    data = base.setdefault("data", {})
    if data.get("root"):
        data["root"] = os.path.abspath(data["root"])
    for net in base.get("networks", []) + ([base["teacher"]] if base.get("teacher") else []):
        if net.get("checkpoint"):
            net["checkpoint"] = os.path.abspath(net["checkpoint"])
    return base


def check_trial_configs(spec, preset: str, base: dict, fixed) -> None:
    """Resolve the configs trials will get before any Ray work, so a typo in the
    sweep or in --set fails here with one line instead of in every trial."""
    import optuna

    from search_spaces.define_by_run import SpaceFunction
    from search_spaces.grid import grid_variants
    from trainables.trial_config import BASE_KEY, VARIANT_KEY, resolve_trial_config

    probe = copy.deepcopy(base)
    if probe.get("teacher") and not probe["teacher"].get("checkpoint"):
        probe["teacher"]["checkpoint"] = "trained-before-the-sweep"
    space = spec.space_for(preset, fixed)
    if spec.sampler == "grid":
        variants = grid_variants(space, spec.variants_for(preset))
    else:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
        derived = SpaceFunction(space, spec.space_function)(trial) or {}
        variants = [{**trial.params, **derived}] + list(spec.points_for(preset, fixed))
    for variant in variants:
        resolved = resolve_trial_config({BASE_KEY: probe, VARIANT_KEY: variant})
    check_data(config_from_dict(resolved).data)


def prepare(args):
    """Validate everything and create (or find) the experiment folder; no Ray yet."""
    from platform.experiment_dir import find_experiment_dir, new_experiment_dir, read_meta, write_meta
    from search_spaces import load_sweep

    spec = load_sweep(args.name)
    preset = spec.preset(args.preset)
    if args.trials is not None and args.trials < 1:
        raise ConfigError("--trials", f"must be >= 1, got {args.trials}")
    if args.resume:
        experiment_dir = find_experiment_dir(args.storage, spec.name, args.preset, args.experiment_name)
        meta = read_meta(experiment_dir)
        return spec, experiment_dir, meta
    base = apply_overrides(spec.base, list(preset.set.items()) + list(args.set))
    base = absolute_paths(base)
    base.setdefault("train", {}).setdefault("threads", max(1, int(args.cpus_per_trial)))
    fixed = sorted({parse_override(item)[0] for item in args.set})   # --set on a searched key fixes it
    check_trial_configs(spec, args.preset, base, fixed)
    experiment_dir = new_experiment_dir(args.storage, spec.name, args.preset, args.experiment_name)
    meta = {"sweep": spec.name, "preset": args.preset, "trials": args.trials or preset.trials,
            "metric": spec.metric, "mode": spec.mode,
            "overrides": list(args.set), "fixed": fixed, "created": time.strftime("%Y-%m-%d %H:%M:%S"), "base": base}
    write_meta(experiment_dir, meta)
    return spec, experiment_dir, meta


def run(args) -> int:
    from platform.experiment_dir import write_meta
    from platform.ray_session import cluster_gpus, connect
    from platform.sweep_summary import format_table, rows_from_results, write_best_config
    from platform.teacher_prep import ensure_teacher
    from platform.tuner_factory import build_tuner, can_restore, restore_tuner

    spec, experiment_dir, meta = prepare(args)
    print(f"experiment: {experiment_dir}", flush=True)
    if not args.resume:
        meta["base"] = ensure_teacher(meta["base"], spec.preset(args.preset).teacher_epochs, experiment_dir)
        write_meta(experiment_dir, meta)
    connect(args.address, args.num_cpus)
    gpus = args.gpus_per_trial if args.gpus_per_trial is not None else (1.0 if cluster_gpus() > 0 else 0.0)
    if args.resume and can_restore(experiment_dir):
        tuner = restore_tuner(experiment_dir, args.cpus_per_trial, gpus)
    else:
        tuner = build_tuner(spec, meta["preset"], meta["base"], meta["fixed"], experiment_dir, meta["trials"],
                            args.cpus_per_trial, gpus, args.max_failures)
    results = tuner.fit()
    rows = rows_from_results(results, experiment_dir)
    print()
    print(format_table(rows, spec.metric, spec.mode))
    best = write_best_config(rows, spec.metric, spec.mode, experiment_dir)
    if best is None:
        print("no trial finished with a value for", spec.metric)
        return 1
    params = {k[len("param."):]: v for k, v in best.items() if k.startswith("param.")}
    print(f"\nbest trial {best['trial_id']}: {spec.metric} = {best[spec.metric]:.4g}  {params}")
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
    with exit_on_config_error(PROG):
        sys.exit(run(args))


if __name__ == "__main__":
    main()
