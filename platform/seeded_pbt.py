"""Ray Tune's PopulationBasedTraining with its own random streams: which donor a trial
clones and how its values are perturbed (Python's ``random``; a resample from a Tune domain
uses numpy's global generator) are drawn from generators seeded with the sweep's seed and
used only here, so the same sweep makes the same decisions whatever else in the driver draws
random numbers in between (seeding the global generators once was measured not to be enough:
one run in three perturbed differently).

A trial's last epoch is never a perturbation point: a clone made then trains no epoch, and the
trial would be recorded with its donor's final numbers under values it never trained with
(seen after a killed and resumed sweep)."""
import random

import numpy as np
from ray.tune.schedulers import PopulationBasedTraining


class SeededPBT(PopulationBasedTraining):
    def __init__(self, *args, seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self._random_state = random.Random(seed).getstate()
        self._numpy_state = np.random.RandomState(seed).get_state()

    def on_trial_result(self, tune_controller, trial, result):
        if result.get("epoch") is not None and result["epoch"] >= result.get("epochs_planned", float("inf")):
            return self.CONTINUE
        return super().on_trial_result(tune_controller, trial, result)

    def _own_streams(self, call):
        outer, outer_numpy = random.getstate(), np.random.get_state()
        random.setstate(self._random_state)
        np.random.set_state(self._numpy_state)
        try:
            return call()
        finally:
            self._random_state, self._numpy_state = random.getstate(), np.random.get_state()
            random.setstate(outer)
            np.random.set_state(outer_numpy)

    def _checkpoint_or_exploit(self, trial, tune_controller, upper_quantile, lower_quantile):
        return self._own_streams(lambda: super(SeededPBT, self)._checkpoint_or_exploit(
            trial, tune_controller, upper_quantile, lower_quantile))

    def _get_new_config(self, trial, trial_to_clone):
        return self._own_streams(lambda: super(SeededPBT, self)._get_new_config(trial, trial_to_clone))
