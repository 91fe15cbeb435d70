"""Ray's ``OptunaSearch`` with the Optuna study kept consistent with Tune's
experiment across a killed driver and ``--resume``.

Tune snapshots its experiment (and this searcher) every few seconds while the
Optuna journal is written at once, so after a kill the two can disagree: a
trial Optuna already closed may be resumed by Tune, and a trial Optuna opened
after the last snapshot is unknown to Tune. The experiment's own results are
the source of truth (trials.parquet is rebuilt from them); here we only keep
Optuna from raising on closed trials and close the orphans."""
import logging

from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

logger = logging.getLogger(__name__)


class StudySearcher(OptunaSearch):
    def _closed_in_study(self, trial_id: str) -> bool:
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None:
            return True
        return self._ot_study._storage.get_trial(ot_trial._trial_id).state.is_finished()

    def on_trial_result(self, trial_id, result):
        if isinstance(self.metric, list) or not self._closed_in_study(trial_id):
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id, result=None, error=False):
        if self._closed_in_study(trial_id):
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result=result, error=error)

    def restore(self, checkpoint_path: str):
        super().restore(checkpoint_path)
        known = {ot_trial._trial_id for ot_trial in self._ot_trials.values()}
        for frozen in self._ot_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen._trial_id not in known:
                logger.info("closing Optuna trial %d: asked after Tune's last snapshot, never run", frozen.number)
                self._ot_study.tell(frozen.number, state=TrialState.FAIL)
