"""Build (or restore) the Ray Tune experiment of a sweep: the trainable with its
per-trial resources, the search (``tune.grid_search`` for grids; Optuna through
``OptunaSearch`` with a journal-file study for TPE/random), the scheduler and
the callbacks that write ``trials.parquet`` and the progress line."""
import os
from typing import Any, Dict, List, Optional

from ray import tune

from distill.errors import ConfigError

from distill.remote_files import join
from platform.experiment_dir import OPTUNA_FILE, TUNE_NAME
from platform.mirror_push import MirrorPush
from platform.progress_line import ProgressLine
from platform.schedule_records import ScheduleRecorder
from platform.trial_records import TrialRecorder
from platform.trial_resources import trial_workers
from search_spaces.define_by_run import SpaceFunction
from search_spaces.grid import ablation_variants, sweep_grid
from trainables.distill_trainable import train_distill
from trainables.trial_config import BASE_KEY, OPTIONS_KEY, VARIANT_KEY


def trial_dirname(trial) -> str:
    # short and parseable: the trial id is recovered from the folder name
    return f"trial_{trial.trial_id}"


def trial_id_from_path(path: str) -> str:
    return os.path.basename(os.path.normpath(path))[len("trial_"):]


def trainable_with_resources(cpus: float, gpus: float, workers: int = 1, placement: str = "PACK"):
    """One process with ``cpus`` and ``gpus``, or, for a trial on ``workers`` processes, a
    placement group of one such bundle per worker (``trainables/parallel_workers.py``)."""
    if workers == 1:
        return tune.with_resources(train_distill, {"cpu": cpus, "gpu": gpus})
    bundle = {"CPU": cpus, **({"GPU": gpus} if gpus else {})}
    return tune.with_resources(train_distill, tune.PlacementGroupFactory([bundle] * workers, strategy=placement))


def optuna_storage(experiment_dir: str, url: Optional[str] = None):
    """A journal file in the experiment folder (one driver; fine on shared NFS), or an
    RDB URL when several drivers share one study."""
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if url:
        try:
            return RDBStorage(url)
        except Exception as err:  # noqa: BLE001 - SQLAlchemy raises many types for a bad URL
            raise ConfigError("--optuna-storage", f"cannot open {url!r}: {type(err).__name__}: {err}") from None
    return JournalStorage(JournalFileBackend(os.path.join(experiment_dir, OPTUNA_FILE)))


def _grouped_tpe(seed):
    """Multivariate TPE with ``group=True``, which Optuna marks experimental: the warning
    saying so (an ``ExperimentalWarning`` naming ``group``, once per run) is what we chose
    and is ignored here, for this one call; every other warning still shows."""
    import warnings

    import optuna
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        # by message, not module: on Python 3.12+ Optuna attributes the warning to its caller
        warnings.filterwarnings("ignore", message=r"Argument ``group`` is an experimental feature",
                                category=ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)


def optuna_search(spec, space, points: List[Dict[str, Any]], experiment_dir: str, sampler_name: str,
                  storage_url: Optional[str] = None, planned: Optional[int] = None):
    import optuna

    from platform.study_searcher import StudySearcher, points_not_in_study

    samplers = {
        # group=True: multivariate TPE that also handles conditional (define-by-run) spaces
        "tpe": lambda seed: _grouped_tpe(seed),
        "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
        "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
    }
    storage = optuna_storage(experiment_dir, storage_url)
    if points and not storage_url:   # a shared database study: each driver enqueues its own
        points = points_not_in_study(storage, spec.name, points)
    metric, mode = (spec.metrics, spec.modes) if spec.multi_objective else (spec.primary_metric, spec.primary_mode)
    return StudySearcher(space=SpaceFunction(space, spec.space_function), metric=metric, mode=mode,
                         sampler=samplers[sampler_name](seed=spec.seed), storage=storage,
                         study_name=spec.name, points_to_evaluate=points or None,
                         experiment=os.path.basename(os.path.normpath(experiment_dir)), planned=planned,
                         shared=bool(storage_url))


def tune_domain(param):
    """A float range as Tune's sampling domain (PBT draws its population and resamples from it)."""
    return tune.loguniform(param.low, param.high) if param.log else tune.uniform(param.low, param.high)


def pbt_scheduler(spec, space):
    """Ray Tune's PopulationBasedTraining over the variant's keys (the trial config holds them,
    dotted, under ``variant``). Synchronous: every trial waits at each interval until the whole
    population is there, so who is exploited depends on the scores alone, never on which trial
    the machine happened to run first (asynchronous PBT on a small population compares stale
    scores and, measured on 4 trials, exploited nothing). PB2 would also fit the values by a Gaussian
    process but needs GPy and sklearn; plain PBT needs nothing beyond Ray."""
    from platform.seeded_pbt import SeededPBT

    return SeededPBT(
        seed=spec.seed, time_attr="training_iteration", perturbation_interval=spec.pbt.interval,
        hyperparam_mutations={VARIANT_KEY: {key: tune_domain(param) for key, param in space.items()}},
        quantile_fraction=spec.pbt.quantile_fraction, resample_probability=spec.pbt.resample_probability,
        synch=True)


def checkpoints_to_keep(spec) -> int:
    """Two per trial, except under PBT: a donor's checkpoint must outlive the epochs the other
    trials run before its clones restore it (up to two intervals on a busy machine); with two,
    it was deleted first and the clone never started (measured: the sweep hung)."""
    return 2 * spec.pbt.interval + 2 if spec.sampler == "pbt" else 2


def scheduler_for(spec, epochs: int):
    if spec.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(time_attr="training_iteration", max_t=epochs, grace_period=max(1, epochs // 8))
    return None


def param_space_for(spec, preset: str, base: Dict[str, Any], fixed: List[str],
                    seeds: Optional[List[int]] = None) -> Dict[str, Any]:
    """What every trial's config is made from: the resolved base, the trial options and, for
    grids, ablations and PBT, the variants. Built again from ``experiment.yaml`` on --resume:
    Tune (2.60) does not keep it in its own state (``tuner.pkl``), so a driver killed after
    Tune wrote that file and before it saved its searcher would resume into trials without
    their configs."""
    space = spec.space_for(preset, fixed)
    param_space: Dict[str, Any] = {BASE_KEY: base, OPTIONS_KEY: {"oom_half_batch": spec.oom_half_batch}}
    if seeds is not None:
        param_space[VARIANT_KEY] = tune.grid_search(ablation_variants(spec, preset, fixed))
        param_space["seed"] = tune.grid_search(list(seeds))
    elif spec.sampler == "pbt":
        param_space[VARIANT_KEY] = {key: tune_domain(param) for key, param in space.items()}
        param_space[OPTIONS_KEY]["record"] = sorted(space)   # the trials report these every epoch
    elif spec.sampler == "grid":
        param_space[VARIANT_KEY] = tune.grid_search(sweep_grid(spec, preset, fixed))
    return param_space


def build_tuner(spec, preset: str, base: Dict[str, Any], fixed: List[str], experiment_dir: str, trials: int,
                cpus: float, gpus: float, max_failures: int, seeds: Optional[List[int]] = None,
                optuna_storage: Optional[str] = None, tune_storage: Optional[str] = None,
                mirror=None) -> tune.Tuner:
    """A sweep (grid or Optuna search) or, with ``seeds``, an ablation: every grid point
    (or enqueued point of a search) crossed with the seeds, each run exactly once."""
    space = spec.space_for(preset, fixed)
    param_space = param_space_for(spec, preset, base, fixed, seeds)
    search_alg, scheduler, num_samples = None, None, 1
    if seeds is not None:
        total = len(param_space[VARIANT_KEY]["grid_search"]) * len(seeds)
    elif spec.sampler == "pbt":
        from ray.tune.search import BasicVariantGenerator

        # the population's first values, drawn with the sweep's seed
        search_alg = BasicVariantGenerator(random_state=spec.seed)
        scheduler = pbt_scheduler(spec, space)
        num_samples = total = trials
    elif spec.sampler == "grid":
        total = len(param_space[VARIANT_KEY]["grid_search"])
    else:
        search_alg = optuna_search(spec, space, spec.points_for(preset, fixed), experiment_dir, spec.sampler,
                                   optuna_storage, planned=trials)
        scheduler = scheduler_for(spec, base["train"]["epochs"])
        num_samples = total = trials
    single = not spec.multi_objective
    return tune.Tuner(
        trainable_with_resources(cpus, gpus, *trial_workers(base)),
        param_space=param_space,
        # several objectives: Optuna ranks them; Tune itself (and ASHA) gets no single metric
        tune_config=tune.TuneConfig(metric=spec.primary_metric if single else None,
                                    mode=spec.primary_mode if single else None, search_alg=search_alg,
                                    scheduler=scheduler, num_samples=num_samples, reuse_actors=True,
                                    trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(
            name=TUNE_NAME, storage_path=tune_storage or experiment_dir, verbose=0,
            callbacks=[TrialRecorder(experiment_dir), ScheduleRecorder(experiment_dir),
                       ProgressLine(spec.primary_metric, spec.primary_mode, total)]
            + ([MirrorPush(mirror, experiment_dir)] if mirror is not None and mirror.remote else []),
            failure_config=tune.FailureConfig(max_failures=max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=checkpoints_to_keep(spec))),
    )


def restore_tuner(tune_storage: str, cpus: float, gpus: float, retry_failed: bool = False,
                  param_space: Optional[Dict[str, Any]] = None, workers: int = 1,
                  placement: str = "PACK") -> tune.Tuner:
    """Unfinished trials continue from their checkpoints; trials that ended in an error
    (a dead worker, an exception; not a diverged run, which ends normally with its reason)
    run again from their last checkpoint only with ``retry_failed``."""
    path = join(tune_storage, TUNE_NAME)
    return tune.Tuner.restore(path, trainable=trainable_with_resources(cpus, gpus, workers, placement),
                              resume_unfinished=True, resume_errored=retry_failed, param_space=param_space)


def can_restore(tune_storage: str) -> bool:
    return tune.Tuner.can_restore(join(tune_storage, TUNE_NAME))
