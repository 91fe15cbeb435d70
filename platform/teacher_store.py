"""The driver's side of the teacher store (``distill/teachers.py``): before the
trials start, every distinct teacher the trial variants need is either found
in the store (``reusing teacher ...``) or trained as a Ray task with a trial's
resources, in parallel, and waited for. The store defaults to
``<--storage>/teachers``, so sweeps and ablations under one storage share them."""
import os
from typing import Dict, List

from distill.teachers import is_finished, teacher_dir, teacher_key, teacher_needs_training

STORE_DIR = "teachers"
HEARTBEAT_SECONDS = 30.0   # a line at least this often while teachers train


def default_store(storage: str) -> str:
    return os.path.join(os.path.abspath(storage), STORE_DIR)


def with_store(base: dict, store: str, teacher_epochs) -> dict:
    """The base config with the store set on its teacher; a preset's ``teacher_epochs``
    becomes ``teacher.epochs`` when the teacher has no checkpoint."""
    teacher = base.get("teacher")
    if not teacher:
        return base
    teacher["store"] = os.path.abspath(store)
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
    """Reuse finished teachers, train the missing ones as Ray tasks, wait for all."""
    import ray

    from trainables.teacher_task import train_teacher

    pending = []
    for key, config in needed_teachers(resolved_configs).items():
        folder = teacher_dir(config)
        teacher = config["teacher"]
        if is_finished(folder):
            print(f"reusing teacher {teacher['arch']} ({key}) from {folder}", flush=True)
            continue
        resumed = " (resuming)" if os.path.exists(os.path.join(folder, "checkpoint")) else ""
        print(f"training teacher {teacher['arch']} on {config['data']['name']} for {teacher['epochs']} epochs "
              f"as a Ray task{resumed} -> {folder}", flush=True)
        task = ray.remote(num_cpus=cpus, num_gpus=gpus)(train_teacher)
        pending.append((key, task.remote(config, max(1, int(cpus)))))
    wait_for(pending, {key: teacher_dir(config) for key, config in needed_teachers(resolved_configs).items()})


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

    start, refs = time.time(), {ref: key for key, ref in pending}
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=every)
        if not ready:
            for key in refs.values():
                print(f"  [{time.time() - start:6.0f}s] teacher {key}: {teacher_progress(folders[key])}", flush=True)
            continue
        key = refs.pop(ready[0])
        entry = ray.get(ready[0])
        # the task's primary validation metric: val_acc, or val_map on re-id data
        name, value = next(((k, v) for k, v in entry.items() if k.startswith("val_") and v is not None), (None, None))
        print(f"  teacher {key}: {name} {value:.2f}" if name else f"  teacher {key}: trained", flush=True)
