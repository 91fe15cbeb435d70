"""What ``platform.sweep`` and ``platform.ablate`` share: validating a sweep and
its overrides before any Ray work, the experiment folder, the teacher, Ray,
and running (or resuming) the Tune experiment into ``trials.parquet`` rows."""
import copy
import glob
import os
import time
from typing import List, Optional

from distill.config import apply_overrides, config_from_dict, parse_override
from distill.errors import ConfigError
from platform.teacher_store import default_store, with_store
from platform.trial_resources import check_request, trial_workers


def add_common_args(parser) -> None:
    parser.add_argument("--preset", default="smoke", help="preset of the sweep (smoke, paper, ...); default smoke")
    parser.add_argument("--resume", action="store_true", help="continue the newest (or --name) experiment of this sweep")
    parser.add_argument("--name", dest="experiment_name", help="experiment folder name (default: SWEEP-PRESET-TIMESTAMP)")
    parser.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray)")
    parser.add_argument("--storage", default=os.environ.get("DISTILLERY_STORAGE") or "experiments",
                        help="folder or s3:// URI for experiments (default: $DISTILLERY_STORAGE, which a cluster's "
                             "head sets to its bucket, else ./experiments)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override of the engine config for every trial, e.g. train.epochs=3")
    parser.add_argument("--cpus-per-trial", type=float, help="default: the sweep's, else 1")
    parser.add_argument("--gpus-per-trial", type=float,
                        help="GPU share per trial, e.g. 0.25 packs four trials on a GPU (default: the sweep's, "
                             "else from the networks' size when the cluster has GPUs, else 0)")
    parser.add_argument("--optuna-storage", help="Optuna RDB URL (e.g. postgresql://...) shared by several drivers; "
                                                  "default: a journal file in the experiment folder")
    parser.add_argument("--max-failures", type=int, default=0, help="retries of a failing trial from its checkpoint")
    parser.add_argument("--retry-failed", action="store_true",
                        help="with --resume: trials that ended in an error (not diverged ones) run again from "
                             "their last checkpoint; without it they stay failed")
    parser.add_argument("--workers-per-trial", type=int,
                        help="data-parallel processes per trial (sets trial.workers; each takes --cpus-per-trial "
                             "and --gpus-per-trial; default: the sweep's, else 1)")
    parser.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    parser.add_argument("--teacher-store", help="folder of trained teachers, shared across sweeps "
                                                "(default: STORAGE/teachers)")


def absolute_paths(base: dict) -> dict:
    """Trials run in other working directories (and on other nodes): resolve user paths now."""
    base = copy.deepcopy(base)
    data = base.setdefault("data", {})
    if data.get("root"):
        data["root"] = os.path.abspath(data["root"])
    for net in base.get("networks", []) + ([base["teacher"]] if base.get("teacher") else []):
        for key in ("checkpoint", "pretrained"):   # a teacher has no pretrained
            if net.get(key):
                net[key] = os.path.abspath(net[key])
    return base


def trial_variants(spec, preset: str, fixed, seeds: Optional[List[int]]):
    """The variants trials will get (for a search: one sample and the points)."""
    import optuna

    from search_spaces.define_by_run import SpaceFunction
    from search_spaces.grid import ablation_variants, sweep_grid

    if seeds is not None:
        return ablation_variants(spec, preset, fixed)
    space = spec.space_for(preset, fixed)
    if spec.sampler == "grid":
        return sweep_grid(spec, preset, fixed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    derived = SpaceFunction(space, spec.space_function)(trial) or {}
    return [{**trial.params, **derived}] + list(spec.points_for(preset, fixed))


def resolved_variants(base: dict, variants) -> List[dict]:
    from trainables.trial_config import BASE_KEY, VARIANT_KEY, resolve_trial_config

    return [resolve_trial_config({BASE_KEY: base, VARIANT_KEY: variant}) for variant in variants]


def check_trial_configs(base: dict, variants, metrics=()) -> List[dict]:
    """Every trial config through the engine's one validation path before any Ray work, so
    a typo in the sweep or in --set, a missing data folder, a file that is not a checkpoint
    or a method that does not fit its networks fails here with one line, not in every trial.
    A teacher the store will train first is accepted (``pending_teacher_ok``); one with
    neither a checkpoint nor ``teacher.epochs`` is not. ``metrics``: the sweep's, which every
    trial must report (a Baseline row has no exits to select on)."""
    from distill.data.registry import check_contents
    from distill.teachers import teacher_needs_training
    from distill.validation import validate_run

    resolved = resolved_variants(base, variants)
    seen = set()
    for config in resolved:
        # variants often differ only in searched values: validate each distinct config once
        fingerprint = repr(sorted((k, repr(v)) for k, v in config.items() if k != "seed"))
        if fingerprint not in seen:
            seen.add(fingerprint)
            engine_config = config_from_dict(config)
            validate_run(engine_config, check_files=True, pending_teacher_ok=teacher_needs_training(config),
                         metrics=metrics)
            check_contents(engine_config.data)
    return resolved


def command_line() -> str:
    """The command as typed (``python -m platform.ablate ...``), for the report to show."""
    import shlex
    import sys

    module = getattr(sys.modules.get("__main__"), "__spec__", None)
    head = ["python", "-m", module.name] if module is not None else ["python", sys.argv[0]]
    return " ".join(shlex.quote(a) for a in head + sys.argv[1:])


def source_commit() -> str:
    """The git commit of the source tree that ran (with ``+changes`` when it had uncommitted edits)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+changes" if head and dirty else "")


def machine_text() -> str:
    import platform as host

    return f"{host.node()}: {os.cpu_count()} CPU cores, {host.machine()}, Python {host.python_version()}"


def validated_base(args, spec, seeds: Optional[List[int]] = None):
    """The resolved base config of ``spec`` at ``args.preset`` with ``args.set``, and the keys
    --set fixes, every trial variant validated; nothing is written."""
    preset = spec.preset(args.preset)
    workers = getattr(args, "workers_per_trial", None)
    if workers is not None:
        if workers < 1:
            raise ConfigError("--workers-per-trial", f"must be >= 1, got {workers}")
        args.set = list(args.set) + [f"trial.workers={workers}"]
    base = apply_overrides(spec.base, list(preset.set.items()) + list(args.set))
    base = absolute_paths(base)
    # with s3:// storage the teachers live there too, where every node finds them
    storage = getattr(getattr(args, "mirror", None), "remote", None) or args.storage
    base = with_store(base, args.teacher_store or default_store(storage), preset.teacher_epochs)
    check_request(args.cpus_per_trial or 1.0, args.gpus_per_trial, trial_workers(base)[0])
    cpus = args.cpus_per_trial or (spec.resources.cpus_per_trial if spec.resources else 1.0)
    base.setdefault("train", {}).setdefault("threads", max(1, int(cpus)))
    fixed = sorted({parse_override(item)[0] for item in args.set})   # --set on a searched key fixes it
    check_method_switch(spec, args.preset, args.set, fixed)
    if spec.sampler == "pbt":
        check_pbt_space(base, spec.space_for(args.preset, fixed))
    check_trial_configs(base, trial_variants(spec, args.preset, fixed, seeds), spec.metrics)
    return base, fixed


def check_pbt_space(base: dict, space) -> None:
    """Population-based training changes its keys during a run: each must be one a run can change."""
    from distill.hyper_schedule import allowed_keys
    from distill.methods import METHODS

    name = (base.get("method") or {}).get("name")
    allowed = allowed_keys(METHODS.get(name, "method.name"))
    for key in space:
        if key not in allowed:
            raise ConfigError(f"space.{key}", f"sampler pbt cannot change it during a run of method {name}; "
                                              f"allowed: {', '.join(allowed)}")


def sweeps_running(method: str) -> List[str]:
    """The shipped sweeps whose base or rows run ``method``."""
    from search_spaces.sweep_spec import merged_sweep, sweep_names

    found = []
    for name in sweep_names():
        merged = merged_sweep(name)
        methods = [((merged.get("base") or {}).get("method") or {}).get("name")]
        for rows in (merged.get("variants") or {}).values():
            methods += [(row or {}).get("method", {}).get("name") if isinstance((row or {}).get("method"), dict)
                        else (row or {}).get("method.name") for row in rows.values()]
        found += [name] if method in methods else []
    return found


def check_method_switch(spec, preset: str, overrides, fixed) -> None:
    """``--set method.name=X`` on a sweep that searches another method's fields: one line naming
    the fields X lacks and the sweeps that run X, instead of an error in every trial."""
    from distill.methods import METHODS

    new = None
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        if key == "method.name":
            new = value
        elif key == "method" and isinstance(value, dict):
            new = value.get("name", new)
    if new is None or new not in METHODS.names():
        return
    import dataclasses

    own = {f.name for f in dataclasses.fields(METHODS.get(new).Params)}
    keys = list(spec.space_for(preset, fixed)) + [k for p in spec.points_for(preset, fixed) for k in p]
    foreign = sorted({k for k in keys if k.startswith("method.") and k.split(".")[1] not in own})
    if foreign:
        others = sweeps_running(new)
        raise ConfigError("--set method.name", f"sweep {spec.name} searches {', '.join(foreign)}, which method {new} "
                                               f"does not have; sweeps that run {new}: {', '.join(others) or 'none'} "
                                               "(or write one: README, 'Add a method')")


def open_storage(args):
    """``args.storage`` as a local folder: an ``s3://`` storage becomes its local copy, and
    ``args.mirror`` uploads to it (``platform/storage_mirror.py``). The teacher store stays a
    folder (``--teacher-store``, default: under the local copy)."""
    from platform.storage_mirror import StorageMirror

    if getattr(args, "mirror", None) is None:
        try:
            args.mirror = StorageMirror(args.storage)
        except (OSError, ValueError) as err:
            raise ConfigError("--storage", f"{args.storage}: {str(err).splitlines()[0]}") from None
        args.storage = args.mirror.local
    return args.mirror


def push_experiment(args, experiment_dir: str) -> None:
    """The experiment folder's new files to ``s3://`` storage (nothing for a folder)."""
    mirror = getattr(args, "mirror", None)
    if mirror is not None and mirror.remote:
        mirror.push(experiment_dir)
        print(f"experiment on {mirror.experiment_uri(experiment_dir)}", flush=True)


def prepare(args, kind: str = "sweep", seeds: Optional[List[int]] = None):
    """Validate everything and create (or find) the experiment folder; no Ray yet."""
    from platform.experiment_dir import find_experiment_dir, new_experiment_dir, read_meta, write_meta
    from search_spaces import load_sweep

    mirror = open_storage(args)
    spec = load_sweep(args.name)
    preset = spec.preset(args.preset)
    trials = getattr(args, "trials", None)
    if trials is not None and trials < 1:
        raise ConfigError("--trials", f"must be >= 1, got {trials}")
    if getattr(args, "retry_failed", False) and not args.resume:
        raise ConfigError("--retry-failed", "re-runs the failed trials of an experiment; give it with --resume")
    if args.resume:
        try:
            mirror.pull()
        except OSError as err:
            raise ConfigError("--storage", f"{mirror.remote} cannot be read: {str(err).splitlines()[0]}") from None
        experiment_dir = find_experiment_dir(args.storage, spec.name, args.preset, args.experiment_name, kind)
        meta = read_meta(experiment_dir)
        from platform.resume_check import check_resume_checkpoints

        check_resume_checkpoints(experiment_dir)   # the checkpoint each trial continues from, before any Ray work
        # the data files and stored teachers again: either may have changed since the first run
        check_trial_configs(meta["base"], trial_variants(spec, meta["preset"], meta.get("fixed") or [],
                                                         meta.get("seeds")), spec.metrics)
        return spec, experiment_dir, meta
    base, fixed = validated_base(args, spec, seeds)
    experiment_dir = new_experiment_dir(args.storage, spec.name, args.preset, args.experiment_name, kind)
    # a sweep given as a file (the evidence command's tuned sweeps) is read from it again by reports
    sweep_file = os.path.abspath(args.name) if args.name.endswith((".yaml", ".yml")) else None
    meta = {"kind": kind, "sweep": spec.name, "sweep_file": sweep_file, "preset": args.preset, "trials": trials or preset.trials,
            "seeds": seeds, "metric": spec.primary_metric, "mode": spec.primary_mode,
            "objectives": [{"metric": m, "mode": d} for m, d in zip(spec.metrics, spec.modes)],
            "overrides": list(args.set), "fixed": fixed, "optuna_storage": args.optuna_storage,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"), "started_at": time.time(), "command": command_line(),
            "commit": source_commit(), "machine": machine_text(), "base": base}
    if spec.sampler == "grid":
        from search_spaces.exported_row import exported_files

        exported = exported_files(spec.variants_for(args.preset))
        if exported:
            meta["exported_from"] = exported   # the configs rows took their values from
    write_meta(experiment_dir, meta)
    try:
        mirror.push(experiment_dir)   # an unwritable bucket is found here, before Ray
    except OSError as err:
        raise ConfigError("--storage", f"{mirror.remote} cannot be written: {str(err).splitlines()[0]}") from None
    return spec, experiment_dir, meta


def keep_failures(experiment_dir: str, retry_failed: bool) -> None:
    """Which failed trials a resume must not run again (see trainables/kept_failures.py):
    every failed one, or with ``retry_failed`` only the diverged ones."""
    import json

    from distill.atomic_write import atomic_write
    from platform.experiment_dir import TUNE_NAME
    from platform.trial_records import STATUS_FAILED, TRIALS_FILE, read_rows
    from trainables.kept_failures import kept_failures_path

    failed = [r for r in read_rows(os.path.join(experiment_dir, TRIALS_FILE)) if r["status"] == STATUS_FAILED]
    diverged = [r for r in failed if str(r.get("error") or "").startswith("diverged")]
    kept = {r["trial_id"]: r.get("error") or "failed" for r in (diverged if retry_failed else failed)}
    if retry_failed and len(failed) > len(diverged):
        print(f"retrying {len(failed) - len(diverged)} failed trial(s) from their last checkpoint", flush=True)
    atomic_write(kept_failures_path(os.path.join(experiment_dir, TUNE_NAME)), lambda fh: fh.write(json.dumps(kept)))


def launch(args, spec, experiment_dir: str, meta: dict):
    """Run (or resume) the Tune experiment; returns the trials.parquet rows. Ray is started
    before anything else imports it (``connect`` sets the driver's Ray settings first) and
    shut down once Tune is done."""
    from distill.remote_files import join
    from platform.experiment_dir import TUNE_NAME
    from platform.ray_session import cluster_gpus, connect, disconnect

    print(f"experiment: {experiment_dir}", flush=True)
    connect(args.address, args.num_cpus)
    from platform.sweep_summary import rows_from_results
    from platform.teacher_store import ensure_teachers
    from platform.trial_resources import resolve_request
    from platform.tune_snapshot import resume_line, set_aside_cut_short
    from platform.tuner_factory import build_tuner, can_restore, param_space_for, restore_tuner

    cpus, gpus = resolve_request(args.cpus_per_trial, args.gpus_per_trial, spec, meta["base"], cluster_gpus())
    print(f"resources per trial: {cpus:g} CPU, {gpus:g} GPU", flush=True)
    # teachers first (trained as Ray tasks, or reused from the store), also on --resume
    variants = trial_variants(spec, meta["preset"], meta["fixed"], meta.get("seeds"))
    ensure_teachers(resolved_variants(meta["base"], variants), cpus, gpus)
    mirror = open_storage(args)
    tune_storage = mirror.tune_storage(experiment_dir)
    restorable = args.resume and can_restore(tune_storage)
    if restorable:
        moved, kept = set_aside_cut_short(join(tune_storage, TUNE_NAME))
        if moved or kept is None:
            print(resume_line(join(tune_storage, TUNE_NAME), moved, kept), flush=True)
        # no complete snapshot: Tune's own restart-after-a-failed-restore would plan one trial
        # (2.60 passes no num_samples on restore), so the run is built again over the same
        # folder and study (the study closes the killed driver's trials and counts the rest)
        restorable = kept is not None
    if restorable:
        keep_failures(experiment_dir, retry_failed=getattr(args, "retry_failed", False))
        tuner = restore_tuner(tune_storage, cpus, gpus, retry_failed=getattr(args, "retry_failed", False),
                              param_space=param_space_for(spec, meta["preset"], meta["base"], meta["fixed"],
                                                          meta.get("seeds")),
                              workers=trial_workers(meta["base"])[0], placement=trial_workers(meta["base"])[1])
    else:
        tuner = build_tuner(spec, meta["preset"], meta["base"], meta["fixed"], experiment_dir, meta["trials"],
                            cpus, gpus, args.max_failures, seeds=meta.get("seeds"),
                            optuna_storage=meta.get("optuna_storage"), tune_storage=tune_storage, mirror=mirror)
    tune_dir = join(tune_storage, TUNE_NAME)
    # Tune's own lines are off (platform/ray_session.py): ours say where its experiment is
    print(f"tune: {tune_dir}", flush=True)
    try:
        results = tuner.fit()
    finally:
        disconnect()
    rows = rows_from_results(results, experiment_dir)
    print(tensorboard_line(tune_dir), flush=True)
    return rows


def tensorboard_line(tune_dir: str) -> str:
    """Tune's TensorBoard logger writes an event file into every trial folder under
    ``tune/`` (not into Ray's session folder in /tmp, which Tune's own line names)."""
    if glob.glob(os.path.join(glob.escape(tune_dir), "**", "events.out.tfevents*"), recursive=True):
        return f"TensorBoard: tensorboard --logdir {tune_dir}"
    return f"TensorBoard: no event files under {tune_dir} (Tune writes them only with tensorboardX installed)"
