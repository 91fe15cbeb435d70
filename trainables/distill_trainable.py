"""The function trainable that runs one engine training per Tune trial.

Faults: an exception propagates to Tune, which retries the trial from its last
checkpoint up to ``--max-failures`` times. A diverged run (NaN or infinite
loss) is not retried, since it would diverge again from the same checkpoint:
the trial ends with an ``error`` field and is recorded as failed. A CUDA
out-of-memory error is reported with the trial's resource request and, when
the sweep allows it, the trial restarts once at half the batch size."""
import json
import logging
import os
import time

import ray
from ray import tune

from distill.config import config_from_dict
from trainables.kept_failures import recorded_failure
from trainables.start_barrier import wait_at_start_barrier
from trainables.trial_config import OPTIONS_KEY, resolve_trial_config

ERROR_KEY = "error"
OWNER_FILE = "owner.json"   # which trial wrote a checkpoint: a PBT clone knows its donor


def _placement() -> dict:
    """Where the trial ran, recorded with every result (node and GPU spread checks)."""
    return {"node_id": ray.get_runtime_context().get_node_id(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
            "worker_pid": os.getpid(), "started_at": time.time()}


def _checkpoint_owner(folder: str) -> str:
    path = os.path.join(folder, OWNER_FILE)
    if not os.path.isfile(path):
        return ""
    with open(path) as fh:
        return json.load(fh).get("trial_id", "")


TIME_PREFIX = "time."   # seconds of this process per phase: setup, train, evaluate, checkpoint, report


def _run(resolved: dict, trial_dir: str, placement: dict, resume: bool, extra: dict, record=()) -> None:
    entered = time.perf_counter()
    from distill.trainer import Trainer  # in the worker, after Ray set CUDA_VISIBLE_DEVICES
    from trainables.parallel_workers import parallel_ranks

    trial_id = tune.get_context().get_trial_id()
    with parallel_ranks(resolved, os.path.join(trial_dir, "run")) as (group, places):
        extra = {**extra, "workers": group.world}
        if group.parallel:   # where the other ranks run: how many nodes, and their processes
            extra["worker_nodes"] = len({node for node, _ in places} | {placement["node_id"]})
            extra["rank_pids"] = ",".join(str(pid) for pid in [placement["worker_pid"]] + [p for _, p in places])
        _train(Trainer(config_from_dict(resolved), output_dir=os.path.join(trial_dir, "run"), group=group),
               placement, resume, extra, record, entered, trial_id)


def _train(trainer, placement: dict, resume: bool, extra: dict, record, entered: float, trial_id: str) -> None:
    """Rank 0's run: resume from Tune's checkpoint, report every epoch with its checkpoint."""
    from distill.trainer import TrainingDiverged

    trainer.recorded_hyperparameters += [k for k in record if k not in trainer.recorded_hyperparameters]
    checkpoint = tune.get_checkpoint() if resume else None
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            owner = _checkpoint_owner(folder)
            # this trial's values (its config) from here on, the checkpoint's weights and optimizer state
            trainer.resume(folder)
        extra = {**extra, "resumed_from_epoch": trainer.epoch}   # a retry or a resumed sweep
        if owner and owner != trial_id:   # population-based training: another trial's checkpoint
            extra.update(cloned_from=owner, cloned_at_epoch=trainer.epoch)

    phases = {"setup": time.perf_counter() - entered, "report": 0.0}   # imports, data, models, method, resume

    def timings() -> dict:
        return {f"{TIME_PREFIX}{name}_s": seconds for name, seconds in {**phases, **trainer.phase_seconds}.items()}

    def report(metrics: dict, checkpoint_dir: str) -> None:
        with open(os.path.join(checkpoint_dir, OWNER_FILE), "w") as fh:
            json.dump({"trial_id": trial_id, "epoch": metrics["epoch"]}, fh)
        start = time.perf_counter()
        # report_s: the earlier reports' (Tune persisting their checkpoints); this one's is unknown yet
        tune.report({**metrics, **placement, **extra, **timings(), "reported_at": time.time()},
                    checkpoint=tune.Checkpoint.from_directory(checkpoint_dir))
        phases["report"] += time.perf_counter() - start

    try:
        trainer.fit(report)
    except TrainingDiverged as err:
        last = trainer.history[-1] if trainer.history else {}
        tune.report({**last, **placement, **extra, **timings(), ERROR_KEY: f"diverged: {err}"})


def train_distill(trial_config: dict) -> None:
    import torch

    # one "checkpoint created" line per epoch per trial drowns the driver's progress line
    for name in ("ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.WARNING)
    resolved = resolve_trial_config(trial_config)
    options = trial_config.get(OPTIONS_KEY) or {}
    trial_dir = tune.get_context().get_trial_dir()
    failure = recorded_failure(trial_dir, tune.get_context().get_trial_id())
    if failure is not None:
        raise RuntimeError(f"kept failed on resume (python -m platform.sweep ... --resume --retry-failed runs it "
                           f"again): {failure}")
    placement = _placement()   # before the barrier: every trial's start precedes the last arrival
    wait_at_start_barrier(tune.get_context().get_trial_id())
    try:
        _run(resolved, trial_dir, placement, resume=True, extra={}, record=options.get("record") or ())
    except torch.cuda.OutOfMemoryError as err:
        batch = resolved["data"]["batch_size"]
        request = tune.get_context().get_trial_resources().required_resources
        message = f"CUDA out of memory at batch size {batch} with trial resources {request}: {str(err).splitlines()[0]}"
        if not options.get("oom_half_batch") or batch < 2:
            raise RuntimeError(message) from None
        logging.getLogger(__name__).warning("%s; restarting once at batch size %d", message, batch // 2)
        torch.cuda.empty_cache()
        resolved["data"]["batch_size"] = batch // 2
        # a fresh start: the checkpoint's schedule and data order belong to the old batch size
        _run(resolved, trial_dir, placement, resume=False, extra={"oom_retried_batch_size": batch // 2})
