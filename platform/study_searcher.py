"""Ray's ``OptunaSearch`` with the Optuna study kept consistent with Tune's
experiment across a killed driver and ``--resume``.

Tune snapshots its experiment (and this searcher) every few seconds while the
Optuna journal is written at once, so after a kill the two can disagree: a
trial Optuna already closed may be resumed by Tune, and a trial Optuna opened
after the last snapshot is unknown to Tune. The experiment's own results are
the source of truth (trials.parquet is rebuilt from them); here we keep Optuna
from raising on closed trials, and close the orphans and enqueue their parameters
again, so a point asked for just before the kill (a paper configuration enqueued
first, or a TPE proposal) is still evaluated: Tune asks for the trials it lacks
and gets the re-enqueued ones first.

It also tells Optuna the truth about early stopping: Ray's ``OptunaSearch``
reports a trial that ASHA stopped as COMPLETE with its partial value, which
biases TPE towards short-run winners; here such a trial is PRUNED (its
intermediate values stay in the study)."""
import logging

from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

logger = logging.getLogger(__name__)


def stopped_early(result) -> bool:
    """A trial that ended before its planned epochs without an error was stopped by the scheduler."""
    if not result or "epochs_planned" not in result:
        return False
    return result.get("epoch", 0) < result["epochs_planned"]


class StudySearcher(OptunaSearch):
    def _closed_in_study(self, trial_id: str) -> bool:
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None:
            return True
        return self._ot_study._storage.get_trial(ot_trial._trial_id).state.is_finished()

    def on_trial_result(self, trial_id, result):
        if isinstance(self.metric, list) or self._closed_in_study(trial_id):
            return
        if result.get(self.metric) is None or result.get("error"):
            return   # a diverged trial's last report has no (or no meaningful) metric
        super().on_trial_result(trial_id, result)

    def _record_retry(self, trial_id, result) -> None:
        """A trial that failed (FAIL in the study) and was run again by ``--retry-failed``:
        Optuna cannot reopen a finished trial, so the retry's result joins the study as a
        COMPLETE trial with the same parameters (``user_attrs.retry_of``), once."""
        import optuna

        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None or not result or result.get("error") or stopped_early(result):
            return
        frozen = self._ot_study._storage.get_trial(ot_trial._trial_id)
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        values = [result.get(m) for m in metrics]
        if frozen.state != TrialState.FAIL or any(v is None for v in values):
            return
        if any(t.user_attrs.get("retry_of") == frozen.number for t in self._ot_study.get_trials(deepcopy=False)):
            return
        self._ot_study.add_trial(optuna.trial.create_trial(
            params=frozen.params, distributions=frozen.distributions, values=values,
            user_attrs={**frozen.user_attrs, "retry_of": frozen.number}, system_attrs=frozen.system_attrs))

    def on_trial_complete(self, trial_id, result=None, error=False):
        if self._closed_in_study(trial_id):
            if not error:
                self._record_retry(trial_id, result)
            self._completed_trials.add(trial_id)
            return
        if result and result.get("error"):
            # diverged: the trial function returned normally, but the run failed
            self._ot_study.tell(self._ot_trials[trial_id], state=TrialState.FAIL)
            self._completed_trials.add(trial_id)
            return
        if not error and stopped_early(result):
            self._ot_study.tell(self._ot_trials[trial_id], state=TrialState.PRUNED)
            self._completed_trials.add(trial_id)
            return
        super().on_trial_complete(trial_id, result=result, error=error)

    def restore(self, checkpoint_path: str):
        super().restore(checkpoint_path)
        known = {ot_trial._trial_id for ot_trial in self._ot_trials.values()}
        for frozen in self._ot_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen._trial_id not in known:
                logger.info("closing Optuna trial %d (asked after Tune's last snapshot, never run) and "
                            "enqueueing its parameters again", frozen.number)
                self._ot_study.tell(frozen.number, state=TrialState.FAIL)
                self._ot_study.enqueue_trial(dict(frozen.params), user_attrs={"requeued_from": frozen.number})
