"""A Tune callback that uploads the driver's part of an experiment folder to ``s3://``
storage (``platform/storage_mirror.py``) whenever a trial ends or saves a checkpoint, and
when the experiment ends: ``trials.parquet`` and the Optuna journal under the URI are never
more than one trial behind. It runs after the callbacks that write those files."""
from ray.tune import Callback


class MirrorPush(Callback):
    def __init__(self, mirror, experiment_dir: str):
        self.mirror, self.experiment_dir = mirror, experiment_dir

    def _push(self) -> None:
        self.mirror.push(self.experiment_dir)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._push()

    def on_trial_error(self, iteration, trials, trial, **info):
        self._push()

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        self._push()

    def on_experiment_end(self, trials, **info):
        self._push()
