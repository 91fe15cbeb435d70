"""A resume starts from Tune's last complete snapshot: a session whose files a kill cut short
(the trials without the search state, a truncated file) is set aside, kept in ``cut_short/``,
so Tune never restores trials beside a search algorithm that was never told its plan. The
files are the ones Tune 2.60 writes (pickled search state, JSON trials), made here with
Ray's own cloudpickle."""
import json
import os

import pytest
import ray.cloudpickle as cloudpickle

from platform.tune_snapshot import SET_ASIDE, resume_line, set_aside_cut_short

A, B = "2026-12-07_22-45-23", "2026-12-07_22-45-47"


def session(folder, stamp, search=("search_gen_state", "searcher-state"), trials=1):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"experiment_state-{stamp}.json"), "w") as fh:
        json.dump({"trial_data": [["{}", "{}"]] * trials, "runner_data": {}, "stats": {}}, fh)
    for kind in search:
        ext = "pkl" if kind.endswith("-state") and kind != "basic-variant-state" else "json"
        with open(os.path.join(folder, f"{kind}-{stamp}.{ext}"), "wb") as fh:
            cloudpickle.dump({"counter": trials, "total_samples": 8, "kind": kind}, fh)


def listing(folder):
    return sorted(name for name in os.listdir(folder) if name != SET_ASIDE)


def truncate(path):
    with open(path, "rb") as fh:
        data = fh.read()
    with open(path, "wb") as fh:
        fh.write(data[: len(data) // 2])


def test_complete_snapshots_are_left_as_they_are(tmp_path):
    tune = str(tmp_path / "tune")
    session(tune, A)
    session(tune, B)
    before = listing(tune)
    assert set_aside_cut_short(tune) == ([], B)
    assert listing(tune) == before and not os.path.exists(os.path.join(tune, SET_ASIDE))


def test_the_trials_without_the_search_state_are_set_aside(tmp_path):
    """The CI failure: the first snapshot's trials reached the storage, its search state did not."""
    tune = str(tmp_path / "tune")
    session(tune, A, search=())
    assert set_aside_cut_short(tune) == ([A], None)
    assert listing(tune) == []
    assert os.listdir(os.path.join(tune, SET_ASIDE)) == [f"experiment_state-{A}.json"]


def test_a_newer_cut_short_session_falls_back_to_the_older_complete_one(tmp_path):
    tune = str(tmp_path / "tune")
    session(tune, A, trials=3)
    session(tune, B, search=("search_gen_state",), trials=5)   # the wrapper's state without its searcher
    assert set_aside_cut_short(tune) == ([B], A)
    assert listing(tune) == sorted([f"experiment_state-{A}.json", f"search_gen_state-{A}.json",
                                    f"searcher-state-{A}.pkl"])
    assert len(os.listdir(os.path.join(tune, SET_ASIDE))) == 2


@pytest.mark.parametrize("cut", [f"experiment_state-{B}.json", f"search_gen_state-{B}.json",
                                 f"searcher-state-{B}.pkl"])
def test_a_truncated_file_makes_its_session_cut_short(tmp_path, cut):
    tune = str(tmp_path / "tune")
    session(tune, A)
    session(tune, B)
    truncate(os.path.join(tune, cut))
    assert set_aside_cut_short(tune) == ([B], A)


def test_grid_sweeps_basic_variant_state_counts_as_the_search_state(tmp_path):
    tune = str(tmp_path / "tune")
    session(tune, A, search=("basic-variant-state",))
    session(tune, B, search=())
    assert set_aside_cut_short(tune) == ([B], A)


def test_the_line_says_what_was_set_aside_and_where_tune_resumes(tmp_path):
    line = resume_line("/x/tune", [B], A)
    assert B in line and "/x/tune/cut_short" in line and f"resuming from snapshot {A}" in line
    assert "starts the experiment again" in resume_line("s3://b/e/tune", [A], None)
    assert resume_line("/x/tune", [], None).startswith("tune: no experiment snapshot to restore")
