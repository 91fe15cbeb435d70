"""The function trainable that runs one engine training per Tune trial."""
import logging
import os

from ray import tune

from distill.config import config_from_dict
from trainables.trial_config import resolve_trial_config


def train_distill(trial_config: dict) -> None:
    from distill.trainer import Trainer  # imported in the worker, after Ray has set CUDA_VISIBLE_DEVICES

    # one "checkpoint created" line per epoch per trial drowns the driver's progress line
    for name in ("ray.train", "ray.tune"):
        logging.getLogger(name).setLevel(logging.WARNING)

    resolved = resolve_trial_config(trial_config)
    trial_dir = tune.get_context().get_trial_dir()
    trainer = Trainer(config_from_dict(resolved), output_dir=os.path.join(trial_dir, "run"))
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            trainer.resume(folder)

    def report(metrics: dict, checkpoint_dir: str) -> None:
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(checkpoint_dir))

    trainer.fit(report)
