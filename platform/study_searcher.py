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
from typing import Dict, Optional

from optuna.trial import TrialState
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

logger = logging.getLogger(__name__)
EXPERIMENT_ATTR = "experiment"   # the experiment folder that asked for a trial (a shared study has several)


def stopped_early(result) -> bool:
    """A trial that ended before its planned epochs without an error was stopped by the scheduler."""
    if not result or "epochs_planned" not in result:
        return False
    return result.get("epoch", 0) < result["epochs_planned"]


def points_not_in_study(storage, study_name: str, points):
    """The points a study does not hold yet: a driver killed after it created the study (and
    enqueued the points) but before Tune saved anything builds the search again on --resume,
    and enqueueing them a second time would run every point twice."""
    import optuna

    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return points
    held = [t.system_attrs.get("fixed_params") for t in study.get_trials(deepcopy=False)]
    return [p for p in points if p not in held]


class StudySearcher(OptunaSearch):
    """``experiment``: the name every trial this searcher asks for is marked with; ``planned``:
    the sweep's number of trials, counted in the study, so a Tune run started again over a
    study that already has trials (Tune's state was lost with the kill) runs only the rest;
    ``shared``: the study lives in a database other drivers use too, so only this
    experiment's trials are counted or closed (the journal in the experiment folder is this
    experiment's alone)."""

    def __init__(self, *args, experiment: str = "", planned: Optional[int] = None, shared: bool = False,
                 **kwargs):
        self._experiment_name, self._planned, self._shared = experiment, planned, shared
        self._reconciled = False
        super().__init__(*args, **kwargs)

    def _ours(self, frozen) -> bool:
        return not self._shared or frozen.user_attrs.get(EXPERIMENT_ATTR) == self._experiment_name

    def _slots_taken(self) -> int:
        """Trials of this sweep so far: asked ones, except orphans whose parameters were enqueued
        again (their re-run takes the slot) and the extra COMPLETE records of retried trials."""
        trials = [t for t in self._ot_study.get_trials(deepcopy=False) if self._ours(t)]
        requeued = {t.user_attrs.get("requeued_from") for t in trials}
        return sum(1 for t in trials if t.state != TrialState.WAITING and t.number not in requeued
                   and "retry_of" not in t.user_attrs)

    def suggest(self, trial_id: str) -> Optional[Dict]:
        if not getattr(self, "_reconciled", False):
            # a Tune run that starts with no snapshot to restore: every running trial of the
            # study is one the killed driver asked for
            self._close_orphans()
        asked = trial_id not in self._ot_trials
        if asked and getattr(self, "_planned", None) is not None and self._slots_taken() >= self._planned:
            return Searcher.FINISHED
        config = super().suggest(trial_id)
        if asked and getattr(self, "_experiment_name", "") and trial_id in self._ot_trials:
            self._ot_trials[trial_id].set_user_attr(EXPERIMENT_ATTR, self._experiment_name)
        return config

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
        self._close_orphans()

    def _close_orphans(self) -> None:
        self._reconciled = True
        known = {ot_trial._trial_id for ot_trial in self._ot_trials.values()}
        for frozen in self._ot_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen._trial_id not in known and self._ours(frozen):
                logger.info("closing Optuna trial %d (asked after Tune's last snapshot, never run) and "
                            "enqueueing its parameters again", frozen.number)
                self._ot_study.tell(frozen.number, state=TrialState.FAIL)
                attrs = {"requeued_from": frozen.number}
                if self._experiment_name:
                    attrs[EXPERIMENT_ATTR] = self._experiment_name
                self._ot_study.enqueue_trial(dict(frozen.params), user_attrs=attrs)
