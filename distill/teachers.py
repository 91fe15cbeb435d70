"""Teachers in a store: a teacher without a checkpoint is trained once, on the
run's own data and optim recipe, into ``<store>/<key>/``, where ``key`` hashes
exactly what determines its weights. Every trial (and every later sweep under
the same store) that needs the same teacher finds it by the same key.

A store entry is finished when its ``teacher.yaml`` exists; it is written last,
so a half-trained teacher (a killed driver) is resumed, never taken as done. A store
may be an S3 prefix: the teacher is trained on a node's disk and uploaded with
``teacher.yaml`` last, and each node that needs it stages the finished entry once
(``distill/remote_files.py``) and reads its copy."""
import copy
import functools
import hashlib
import json
import os
from typing import Optional

from distill.checkpoint import CHECKPOINT_FILE
from distill.errors import ConfigError

FINISHED_FILE = "teacher.yaml"


class TeacherNotTrained(ConfigError):
    """A store teacher the driver has not trained yet (a driver validating before it trains it waits for it)."""
DATA_FIELDS = ("name", "root", "val_fraction", "split_seed", "train_limit", "batch_size", "augment", "classes_per_batch")
SUBSET_FIELDS = ("train_subset", "val_subset", "subset_seed")
TRAIN_FIELDS = ("deterministic", "amp", "channels_last")


def _as_dict(config) -> dict:
    if isinstance(config, dict):
        return config
    from distill.config import config_to_dict

    return config_to_dict(config)


def teacher_key(config) -> str:
    """A short stable hash of what determines the teacher's weights: its arch, seed and
    epochs, the data split and batches, the optim recipe and numerics; not the student,
    the method, the run's own seed or where it writes."""
    raw = _as_dict(config)
    teacher, data, train = raw["teacher"], raw.get("data", {}), raw.get("train", {})
    data = {**data, "batch_size": teacher.get("batch_size") or data.get("batch_size")}
    fields = {k: data.get(k) for k in DATA_FIELDS}
    # a stratified training subset changes the data; keys without one stay as they were
    if data.get("train_subset") is not None or data.get("val_subset") is not None:
        fields.update({k: data.get(k) for k in SUBSET_FIELDS})
    if data.get("attribute") is not None:   # another attribute is another task; unset keys stay as they were
        fields["attribute"] = data["attribute"]
    what = {"arch": teacher["arch"], "seed": teacher.get("seed", 0), "epochs": teacher.get("epochs"),
            "data": fields, "optim": teacher.get("optim") or raw.get("optim", {}),
            "train": {k: train.get(k) for k in TRAIN_FIELDS}}
    digest = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{teacher['arch']}-{data.get('name')}-{digest}"


def teacher_dir(config) -> str:
    from distill.remote_files import is_remote, join

    raw = _as_dict(config)
    store = raw["teacher"]["store"]
    return join(store, teacher_key(raw)) if is_remote(store) else os.path.join(store, teacher_key(raw))


def local_teacher_dir(folder: str) -> str:
    """A finished store entry as a folder on this node: an S3 entry is staged here once."""
    from distill.remote_files import is_remote, stage

    return stage(folder, "teachers")[0] if is_remote(folder) else folder


def teacher_needs_training(config) -> bool:
    raw = _as_dict(config)
    teacher = raw.get("teacher")
    return bool(teacher) and not teacher.get("checkpoint") and bool(teacher.get("epochs"))


def teacher_training_config(config) -> dict:
    """The engine config that trains the teacher alone (method independent)."""
    raw = copy.deepcopy(_as_dict(config))
    teacher = raw.pop("teacher")
    raw["method"] = {"name": "independent"}
    raw.get("data", {}).pop("transfer", None)   # a teacher learns its own task's data, never a transfer set
    if teacher.get("batch_size"):
        raw.setdefault("data", {})["batch_size"] = teacher["batch_size"]
    raw["networks"] = [{"name": teacher.get("name", "teacher"), "arch": teacher["arch"]}]
    if teacher.get("optim"):
        raw["optim"] = teacher["optim"]
    raw["seed"] = teacher.get("seed", 0)
    raw.setdefault("train", {})["epochs"] = teacher["epochs"]
    raw["train"]["eval_test"] = True
    if teacher.get("store"):
        raw["output_dir"] = teacher_dir(config)
    return raw


def file_digest(path: str) -> str:
    st = os.stat(path)
    return _digest(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file, once per (path, size, mtime) per process: the driver validates many configs."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_stored_checkpoint(config) -> None:
    """A finished store entry's checkpoint is the file it recorded (size and SHA-256 in
    ``teacher.yaml``): a file changed since (cut short, replaced) is one line saying how to retrain."""
    import yaml

    folder = local_teacher_dir(teacher_dir(config))
    with open(os.path.join(folder, FINISHED_FILE)) as fh:
        entry = yaml.safe_load(fh) or {}
    path = os.path.join(folder, "checkpoint", CHECKPOINT_FILE)
    recorded = (entry.get("checkpoint_size"), entry.get("checkpoint_sha256"))
    if recorded == (None, None):
        return   # an entry from before hashes were recorded: reading the file is the check
    size = os.path.getsize(path) if os.path.isfile(path) else None
    if size != recorded[0] or file_digest(path) != recorded[1]:
        raise ConfigError("teacher.checkpoint", f"{path} changed since teacher {entry.get('key')} was trained "
                                                f"(size {size} against {recorded[0]} in {FINISHED_FILE}); delete "
                                                f"{folder} to train it again")


def is_finished(folder: str) -> bool:
    from distill.remote_files import exists, is_remote, join

    if is_remote(folder):
        return exists(join(folder, FINISHED_FILE))
    return os.path.isfile(os.path.join(folder, FINISHED_FILE))


def resolve_teacher_checkpoint(config) -> Optional[str]:
    """The teacher's weights: ``teacher.checkpoint``, or its finished store entry."""
    raw = _as_dict(config)
    teacher = raw.get("teacher")
    if not teacher:
        return None
    if teacher.get("checkpoint"):
        return teacher["checkpoint"]
    if not teacher.get("epochs"):
        return None
    if not teacher.get("store"):
        raise ConfigError("teacher.store", "a teacher trained by epochs needs a store folder (the sweep driver sets "
                                           "<storage>/teachers; with distill.train pass --set teacher.store=DIR)")
    folder = teacher_dir(raw)
    if not is_finished(folder):
        raise TeacherNotTrained("teacher.checkpoint", f"teacher {teacher['arch']} ({teacher_key(raw)}) is not trained "
                                                      f"yet in {teacher['store']}; the sweep driver trains it before "
                                                      "the trials")
    check_stored_checkpoint(raw)
    return os.path.join(local_teacher_dir(folder), "checkpoint", CHECKPOINT_FILE)
