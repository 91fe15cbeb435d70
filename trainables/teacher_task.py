"""Training one teacher into the teacher store, run as a Ray task with a trial's
resources (so on a cluster it runs on a GPU worker, not on the driver's head).
It resumes from its own checkpoint, and writes ``teacher.yaml`` last: a killed
driver's half-trained teacher is continued, never taken as finished. Before it, the
teacher's activation statistics (``distill/activation_stats.py``: the meta-data that
Lopes et al.'s data-free baseline needs) are recorded beside the checkpoint. A store on
S3: the teacher trains in a folder on this node's disk, which is then uploaded, its
``teacher.yaml`` last."""
import os

import torch

from distill.activation_stats import STATS_FILE, save_stats, stats_over
from distill.atomic_write import write_yaml
from distill.checkpoint import CHECKPOINT_FILE
from distill.data.batches import eval_batches
from distill.remote_files import is_remote, join, local_copy_path, upload
from distill.teachers import FINISHED_FILE, file_digest, teacher_dir, teacher_key, teacher_training_config


def train_teacher(config: dict, threads: int = 1) -> dict:
    """``config``: a resolved run config whose teacher has ``epochs`` and ``store``.
    Returns the store entry's description (also written as ``teacher.yaml``), with the
    teacher's validation and test score in its task's primary metric (``val_acc``/``test_acc``,
    on re-id data ``val_map``/``test_map``)."""
    from distill.config import config_from_dict
    from distill.trainer import Trainer

    store_folder = teacher_dir(config)
    remote = is_remote(store_folder)
    folder = local_copy_path(store_folder, "teacher-training") if remote else store_folder
    raw = teacher_training_config(config)
    raw.setdefault("train", {})["threads"] = threads
    trainer = Trainer(config_from_dict(raw), output_dir=folder)
    checkpoint = os.path.join(folder, "checkpoint", CHECKPOINT_FILE)
    if os.path.exists(checkpoint):
        trainer.resume(checkpoint)
    history = trainer.fit()
    name = raw["networks"][0]["name"]
    last = history[-1] if history else {}
    kind = trainer.task.primary   # acc (classification), map (re-id)
    stats = os.path.join(os.path.dirname(checkpoint), STATS_FILE)
    if kind == "acc":   # per-class statistics: a classifier's classes (a re-id teacher's ids are not its test's)
        batches = eval_batches(trainer.splits.train, 512, trainer.normalize, trainer.device)
        with torch.no_grad():
            save_stats(stats_over(trainer.networks[name], batches, trainer.splits.num_classes), stats)
    entry = {"key": teacher_key(config), "arch": config["teacher"]["arch"], "data": config["data"]["name"],
             "epochs": config["teacher"]["epochs"], "seed": config["teacher"].get("seed", 0),
             f"val_{kind}": last.get(f"val_{kind}.{name}"), f"test_{kind}": last.get(f"test_{kind}.{name}"),
             "checkpoint": checkpoint, "checkpoint_size": os.path.getsize(checkpoint),
             "checkpoint_sha256": file_digest(checkpoint),
             "activation_stats": stats if os.path.exists(stats) else None}
    if remote:   # where every node will find them, not this node's copy
        entry["checkpoint"] = join(store_folder, "checkpoint", CHECKPOINT_FILE)
        entry["activation_stats"] = join(store_folder, "checkpoint", STATS_FILE) if entry["activation_stats"] else None
        sent: dict = {}
        upload(folder, store_folder, exclude=(FINISHED_FILE,), sent=sent)
    write_yaml(os.path.join(folder, FINISHED_FILE), entry)
    if remote:
        upload(folder, store_folder, sent=sent)   # only teacher.yaml is new: the entry is finished from now on
    return entry
