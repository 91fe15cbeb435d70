"""Our Optuna search layer: early-stopped trials reach the study as PRUNED (Ray's
OptunaSearch would record them COMPLETE with a partial value), closed trials
are not re-told after a resume, and orphaned trials are closed on restore and their
parameters enqueued again."""
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from platform.study_searcher import EXPERIMENT_ATTR, StudySearcher, points_not_in_study, stopped_early
from ray.tune.search import Searcher
from search_spaces.define_by_run import SpaceFunction
from search_spaces.sweep_spec import ParamSpec

SPACE = {"method.temperature": ParamSpec(type="float", low=1.0, high=8.0)}


def searcher(tmp_path, name="s", points=None, **kwargs):
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "optuna.journal")))
    return StudySearcher(space=SpaceFunction(SPACE), metric="val_acc.net0", mode="max",
                         sampler=optuna.samplers.RandomSampler(seed=0), storage=storage, study_name=name,
                         points_to_evaluate=points, **kwargs)


def result(epoch, planned, acc):
    return {"epoch": epoch, "epochs_planned": planned, "val_acc.net0": acc, "training_iteration": epoch}


def states(s):
    return [t.state for t in s._ot_study.get_trials()]


def test_early_stopped_trial_is_pruned_and_finished_one_complete(tmp_path):
    s = searcher(tmp_path)
    assert "method.temperature" in s.suggest("a") and s.suggest("b")
    for epoch in (1, 2):
        s.on_trial_result("a", result(epoch, 4, 50.0 + epoch))
    s.on_trial_complete("a", result(2, 4, 52.0))          # ASHA stopped it after 2 of 4 epochs
    for epoch in (1, 2, 3, 4):
        s.on_trial_result("b", result(epoch, 4, 60.0 + epoch))
    s.on_trial_complete("b", result(4, 4, 64.0))
    trials = s._ot_study.get_trials()
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.COMPLETE]
    assert trials[0].intermediate_values == {1: 51.0, 2: 52.0}
    assert trials[1].value == 64.0


def test_failed_trial_is_failed_not_pruned(tmp_path):
    s = searcher(tmp_path)
    s.suggest("a")
    s.on_trial_result("a", result(1, 4, 40.0))
    s.on_trial_complete("a", None, error=True)
    assert states(s) == [TrialState.FAIL]


def test_a_trial_closed_in_the_study_is_not_told_again(tmp_path):
    s = searcher(tmp_path)
    s.suggest("a")
    s.on_trial_complete("a", result(4, 4, 70.0))
    # after a driver kill, Tune may resume a trial Optuna already closed
    s._completed_trials.discard("a")
    s.on_trial_result("a", result(4, 4, 71.0))
    s.on_trial_complete("a", result(4, 4, 71.0))
    trials = s._ot_study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] and trials[0].value == 70.0


def test_restore_closes_trials_tune_never_knew(tmp_path):
    s = searcher(tmp_path)
    s.suggest("a")
    s.save(str(tmp_path / "searcher.pkl"))        # Tune's last snapshot
    s.suggest("b")                                # asked after the snapshot, then the driver died
    restored = searcher(tmp_path)
    restored.restore(str(tmp_path / "searcher.pkl"))
    # closed, and its parameters enqueued again (they run next)
    assert states(restored) == [TrialState.RUNNING, TrialState.FAIL, TrialState.WAITING]


def test_an_orphaned_point_is_enqueued_again_and_runs_before_new_samples(tmp_path):
    """The driver dies after Optuna handed out a paper point but before Tune's snapshot knew
    the trial: the point is closed as FAIL and enqueued again, so the resumed sweep runs it
    (exactly once, however often this happens) before any sampled configuration."""
    points = [{"method.temperature": t} for t in (2.0, 3.0, 4.0)]
    s = searcher(tmp_path, points=points)
    assert s.suggest("a") == {"method.temperature": 2.0}
    s.save(str(tmp_path / "searcher.pkl"))                      # Tune's last snapshot
    assert s.suggest("b") == {"method.temperature": 3.0}   # then the driver is killed
    for attempt in range(2):                                    # killed again before it ran
        restored = searcher(tmp_path)   # restore() replaces its state with the snapshot's
        restored.restore(str(tmp_path / "searcher.pkl"))
        waiting = [t.system_attrs["fixed_params"] for t in restored._ot_study.get_trials(states=(TrialState.WAITING,))]
        assert waiting == [{"method.temperature": 4.0}, {"method.temperature": 3.0}], attempt
        assert restored.suggest(f"c{attempt}") == {"method.temperature": 4.0}
        assert restored.suggest(f"d{attempt}") == {"method.temperature": 3.0}
    restored = searcher(tmp_path)
    restored.restore(str(tmp_path / "searcher.pkl"))
    for trial_id in ("e", "f"):
        restored.suggest(trial_id)
        restored.on_trial_complete(trial_id, result(4, 4, 50.0))
    restored.on_trial_complete("a", result(4, 4, 60.0))
    complete = [t.params["method.temperature"] for t in restored._ot_study.get_trials(states=(TrialState.COMPLETE,))]
    assert sorted(complete) == [2.0, 3.0, 4.0]                  # every point once; nothing left running
    assert not restored._ot_study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))


def test_a_tune_run_started_again_closes_the_killed_drivers_trials_and_runs_only_the_rest(tmp_path):
    """Tune's state was lost with the kill (no complete snapshot), so Tune starts the run again
    with the searcher it pickled at the start: the study's running trial is closed and its
    point enqueued again, and the trials the study already holds count toward the plan."""
    points = [{"method.temperature": t} for t in (2.0, 3.0)]
    first = searcher(tmp_path, points=points, experiment="exp", planned=3)
    assert first.suggest("a") == {"method.temperature": 2.0}
    first.on_trial_complete("a", result(4, 4, 60.0))
    assert first.suggest("b") == {"method.temperature": 3.0}     # then the driver is killed
    again = searcher(tmp_path, experiment="exp", planned=3)     # Tune's pickled, never-restored searcher
    assert again.suggest("c") == {"method.temperature": 3.0}     # the orphan's point, first
    assert states(again) == [TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING]
    third = again.suggest("d")
    assert third not in (Searcher.FINISHED, None)
    assert again.suggest("e") == Searcher.FINISHED              # a (done), c, d: the plan of 3
    for trial_id in ("c", "d"):
        again.on_trial_complete(trial_id, result(4, 4, 50.0))
    complete = again._ot_study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 3 and all(t.user_attrs[EXPERIMENT_ATTR] == "exp" for t in complete)


def test_a_shared_study_leaves_other_experiments_trials_alone(tmp_path):
    mine = searcher(tmp_path, experiment="mine", planned=1, shared=True)
    other = searcher(tmp_path, experiment="other", planned=1, shared=True)
    other.suggest("o")                                          # another driver's running trial
    assert mine.suggest("m") not in (Searcher.FINISHED, None)   # its trial takes no slot of ours
    assert states(mine) == [TrialState.RUNNING, TrialState.RUNNING]
    assert mine.suggest("n") == Searcher.FINISHED


def test_points_already_in_the_study_are_not_enqueued_again(tmp_path):
    points = [{"method.temperature": t} for t in (2.0, 3.0)]
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "optuna.journal")))
    assert points_not_in_study(storage, "s", points) == points   # no study yet
    s = searcher(tmp_path, points=points[:1])
    s.suggest("a")
    assert points_not_in_study(storage, "s", points) == points[1:]


def test_stopped_early_needs_the_plan():
    assert stopped_early(result(2, 4, 1.0))
    assert not stopped_early(result(4, 4, 1.0))
    assert not stopped_early({"epoch": 2})
    assert not stopped_early(None)
