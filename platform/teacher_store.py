"""The driver's side of the teacher store (``distill/teachers.py``): before the
trials start, every distinct teacher the trial variants need is either found
in the store (``reusing teacher ...``) or trained as a Ray task with a trial's
resources, in parallel, and waited for. The store defaults to
``<--storage>/teachers``, so sweeps and ablations under one storage share them."""
import os
from typing import Dict, List

from distill.teachers import is_finished, teacher_dir, teacher_key, teacher_needs_training
from platform import teacher_claim as claim

STORE_DIR = "teachers"
HEARTBEAT_SECONDS = 30.0   # a line at least this often while teachers train
CLAIM_REFRESH_SECONDS = 10.0


def default_store(storage: str) -> str:
    from distill.remote_files import is_remote, join

    return join(storage, STORE_DIR) if is_remote(storage) else os.path.join(os.path.abspath(storage), STORE_DIR)


def with_store(base: dict, store: str, teacher_epochs) -> dict:
    """The base config with the store set on its teacher; a preset's ``teacher_epochs``
    becomes ``teacher.epochs`` when the teacher has no checkpoint."""
    teacher = base.get("teacher")
    if not teacher:
        return base
    from distill.remote_files import is_remote

    teacher["store"] = store if is_remote(store) else os.path.abspath(store)
    if not teacher.get("optim"):
        teacher["optim"] = dict(base.get("optim") or {})
    if not teacher.get("checkpoint") and not teacher.get("epochs") and teacher_epochs:
        teacher["epochs"] = teacher_epochs
    return base


def needed_teachers(resolved_configs: List[dict]) -> Dict[str, dict]:
    """key -> one resolved config that needs that teacher trained (distinct teachers only)."""
    out: Dict[str, dict] = {}
    for config in resolved_configs:
        if teacher_needs_training(config):
            out.setdefault(teacher_key(config), config)
    return out


def ensure_teachers(resolved_configs: List[dict], cpus: float, gpus: float) -> None:
    """Reuse finished teachers; train the missing ones this driver claims as Ray tasks; wait for
    those another driver is training (its claim), taking over a claim whose owner is gone."""
    needed = needed_teachers(resolved_configs)
    folders = {key: teacher_dir(config) for key, config in needed.items()}
    mine, theirs = [], []
    for key, config in needed.items():
        if is_finished(folders[key]):
            print(f"reusing teacher {config['teacher']['arch']} ({key}) from {folders[key]}", flush=True)
            verify_stored_teacher(config)
        elif claim.try_claim(folders[key]):
            mine.append(key)
        elif claim.is_stale(claim.read_claim(folders[key])) and claim.take_over(folders[key]):
            print(f"  teacher {key}: its claim was stale ({claim.describe(claim.read_claim(folders[key]))}); "
                  "taking it over", flush=True)
            mine.append(key)
        else:
            print(f"waiting for teacher {config['teacher']['arch']} ({key}): being trained by "
                  f"{claim.describe(claim.read_claim(folders[key]))} into {folders[key]}", flush=True)
            theirs.append(key)
    try:
        wait_for([(key, start_training(needed[key], folders[key], cpus, gpus)) for key in mine], folders)
    finally:
        for key in mine:
            claim.release(folders[key])
    for key in theirs:
        wait_for_other(needed[key], folders[key], cpus, gpus)


def start_training(config: dict, folder: str, cpus: float, gpus: float):
    import ray

    from trainables.teacher_task import train_teacher

    teacher = config["teacher"]
    resumed = " (resuming)" if os.path.exists(os.path.join(folder, "checkpoint")) else ""
    print(f"training teacher {teacher['arch']} on {config['data']['name']} for {teacher['epochs']} epochs "
          f"as a Ray task{resumed} -> {folder}", flush=True)
    task = ray.remote(num_cpus=cpus, num_gpus=gpus)(train_teacher)
    return task.remote(config, max(1, int(cpus)))


def wait_for_other(config: dict, folder: str, cpus: float, gpus: float, poll: float = 5.0) -> None:
    """Until another driver's teacher is finished; if its claim goes stale, train it here."""
    import time

    key, start, last = teacher_key(config), time.time(), time.time()
    while not is_finished(folder):
        owner = claim.read_claim(folder)
        if claim.is_stale(owner) and claim.take_over(folder):
            print(f"  teacher {key}: its owner is gone; training it here", flush=True)
            try:
                wait_for([(key, start_training(config, folder, cpus, gpus))], {key: folder})
            finally:
                claim.release(folder)
            return
        if time.time() - last >= HEARTBEAT_SECONDS:
            last = time.time()
            print(f"  [{last - start:6.0f}s] waiting for teacher {key}: {teacher_progress(folder)}", flush=True)
        time.sleep(poll)
    print(f"reusing teacher {config['teacher']['arch']} ({key}) from {folder}, trained by another driver", flush=True)
    verify_stored_teacher(config)


def verify_stored_teacher(config: dict) -> None:
    """A finished store teacher whose checkpoint changed since it was trained is one line."""
    from distill.teachers import check_stored_checkpoint

    check_stored_checkpoint(config)


def remote_result(ref):
    """``ray.get``, with a ``ConfigError`` raised in the task (a data file the task could not read)
    re-raised here as itself: one line naming the field, not the remote traceback."""
    import ray

    from distill.errors import ConfigError

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        cause = getattr(err, "cause", None)
        if isinstance(cause, ConfigError):
            raise ConfigError(cause.field, cause.problem) from None
        raise


def teacher_progress(folder: str) -> str:
    """``epoch 5/30, val_acc.teacher 80.10`` from the teacher's own metrics.jsonl, or ``starting``."""
    import json

    path = os.path.join(folder, "metrics.jsonl")
    try:
        with open(path) as fh:
            last = json.loads(fh.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return "starting"
    metric = next((k for k in last if k.startswith("val_") and ".teacher" in k and not k.startswith("val_loss")), None)
    return f"epoch {last.get('epoch')}/{last.get('epochs_planned')}" + (f", {metric} {last[metric]:.2f}" if metric else "")


def wait_for(pending, folders: Dict[str, str], every: float = HEARTBEAT_SECONDS) -> None:
    """Wait for the teacher tasks, printing each one's epoch at least every ``every`` seconds."""
    import time

    import ray

    start, last, refs = time.time(), time.time(), {ref: key for key, ref in pending}
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=min(every, CLAIM_REFRESH_SECONDS))
        for key in refs.values():
            claim.refresh(folders[key])   # our claims stay fresh while we train
        if not ready:
            if time.time() - last >= every:
                last = time.time()
                for key in refs.values():
                    print(f"  [{last - start:6.0f}s] teacher {key}: {teacher_progress(folders[key])}", flush=True)
            continue
        key = refs.pop(ready[0])
        entry = remote_result(ready[0])
        # the task's primary validation metric: val_acc, or val_map on re-id data
        name, value = next(((k, v) for k, v in entry.items() if k.startswith("val_") and v is not None), (None, None))
        print(f"  teacher {key}: {name} {value:.2f}" if name else f"  teacher {key}: trained", flush=True)
