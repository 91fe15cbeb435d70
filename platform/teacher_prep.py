"""A KD sweep needs a trained teacher. When the preset's teacher has no
checkpoint and the preset says ``teacher_epochs``, train it once per experiment
(in the driver, before any trial starts) and point every trial at it."""
import copy
import os

from distill.checkpoint import CHECKPOINT_FILE
from distill.errors import ConfigError

TEACHER_DIR = "teacher"


def needs_teacher_training(base: dict) -> bool:
    teacher = base.get("teacher")
    return bool(teacher) and not (teacher.get("checkpoint") and os.path.exists(teacher["checkpoint"].partition("#")[0]))


def teacher_training_config(base: dict, epochs: int, output_dir: str) -> dict:
    teacher = base["teacher"]
    cfg = copy.deepcopy(base)
    cfg.pop("teacher")
    cfg["method"] = {"name": "independent"}
    cfg["networks"] = [{"name": teacher.get("name", "teacher"), "arch": teacher["arch"]}]
    cfg.setdefault("train", {})["epochs"] = epochs
    cfg["output_dir"] = output_dir
    return cfg


def ensure_teacher(base: dict, teacher_epochs, experiment_dir: str) -> dict:
    """Returns ``base`` with ``teacher.checkpoint`` pointing at an existing file."""
    if not needs_teacher_training(base):
        return base
    if not teacher_epochs:
        given = base["teacher"].get("checkpoint")
        raise ConfigError("teacher.checkpoint", f"{given!r} does not exist; pass --set teacher.checkpoint=PATH "
                                                "(a distill.train checkpoint) or use a preset with teacher_epochs")
    from distill.config import config_from_dict
    from distill.trainer import Trainer

    out = os.path.join(experiment_dir, TEACHER_DIR)
    checkpoint = os.path.join(out, "checkpoint", CHECKPOINT_FILE)
    trainer = Trainer(config_from_dict(teacher_training_config(base, teacher_epochs, out)))
    if os.path.exists(checkpoint):
        trainer.resume(checkpoint)
    if trainer.epoch < teacher_epochs:
        print(f"training the teacher ({base['teacher']['arch']}, {teacher_epochs} epochs) into {out}", flush=True)
        trainer.fit(lambda m, _: print(f"  teacher epoch {m['epoch']}: val_acc {m['val_acc.max']:.2f}", flush=True))
    base = copy.deepcopy(base)
    base["teacher"]["checkpoint"] = checkpoint
    return base

