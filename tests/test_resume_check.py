"""``--resume`` checks, before any Ray work, the checkpoint every trial continues from
(``platform/resume_check.py``): a truncated or overwritten ``checkpoint.pt`` ends the
driver with one line naming ``resume checkpoint`` and the file, exit code 2, and every
file of the experiment left as it was."""
import glob
import json
import os
import zipfile

import pytest
import torch

from distill.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from distill.errors import ConfigError
from platform.resume_check import (FIELD, check_resume_checkpoints, checkpoint_problem, latest_checkpoints,
                                   restore_checkpoints)
from sweep_runner import cli


def state() -> dict:
    return {"epoch": 3, "networks": {"net0": {"w": torch.randn(64, 32), "b": torch.zeros(64)}},
            "history": [{"val_acc.net0": 50.0}], "rng": {"torch": torch.get_rng_state()}}


def listing(folder: str) -> dict:
    """Every file under ``folder``: size and modification time."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            info = os.stat(path)
            out[os.path.relpath(path, folder)] = (info.st_size, info.st_mtime_ns)
    return out


def one_line(call) -> str:
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    assert info.value.field == FIELD and "\n" not in message
    return message


def test_good_and_truncated_checkpoints(tmp_path):
    good = save_checkpoint(str(tmp_path / "good"), state())
    assert checkpoint_problem(good) is None
    data = open(good, "rb").read()
    # every cut the check lets through must be a file torch.load reads
    for length in sorted({0, 1, 100, len(data) // 2, len(data) - 30, len(data) - 1} | set(range(0, len(data), 997))):
        cut = tmp_path / f"cut_{length}.pt"
        cut.write_bytes(data[:length])
        if checkpoint_problem(str(cut)) is None:
            load_checkpoint(str(cut))
        else:
            with pytest.raises(Exception):
                load_checkpoint(str(cut))
    assert checkpoint_problem(str(tmp_path / f"cut_{len(data) // 2}.pt")) is not None
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(4096))
    assert "truncated or overwritten" in checkpoint_problem(str(garbage))
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("notes/readme.txt", "not a checkpoint")
    assert "data.pkl" in checkpoint_problem(str(other_zip))
    assert checkpoint_problem(str(tmp_path / "absent.pt")) == "missing"


def trial_checkpoint(experiment, trial: str, index: int, content=None) -> str:
    folder = experiment / "tune" / f"trial_{trial}" / f"checkpoint_{index:06d}"
    if content is None:
        return save_checkpoint(str(folder), state())
    folder.mkdir(parents=True)
    (folder / CHECKPOINT_FILE).write_bytes(content)
    return str(folder / CHECKPOINT_FILE)


def tune_state(experiment, recorded: dict, stamp="2026-01-01_00-00-00") -> None:
    """An experiment state as Tune writes it: per trial, its JSON and its runtime JSON with
    the last result (``checkpoint_dir_name``)."""
    trials = [[json.dumps({"trial_id": t, "relative_logdir": f"trial_{t}", "status": "RUNNING"}),
               json.dumps({"last_result": {} if name is None else {"checkpoint_dir_name": name}})]
              for t, name in recorded.items()]
    path = experiment / "tune" / f"experiment_state-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"trial_data": trials, "runner_data": {}, "stats": {}}))


def test_the_checkpoint_each_trial_continues_from_is_checked(tmp_path):
    experiment = tmp_path / "exp"
    trial_checkpoint(experiment, "a", 9, b"old and overwritten")      # not the one restored
    newest = trial_checkpoint(experiment, "a", 10)
    (experiment / "tune" / "trial_b").mkdir()                          # no checkpoint yet: starts afresh
    check_resume_checkpoints(str(experiment))                          # no state: Tune restores nothing
    tune_state(experiment, {"a": "checkpoint_000010", "b": None})
    assert latest_checkpoints(str(experiment)) == [os.path.dirname(newest)]
    before = listing(str(experiment))
    check_resume_checkpoints(str(experiment))

    good = open(newest, "rb").read()
    bad = trial_checkpoint(experiment, "c", 2, good[: len(good) // 2])
    trial_checkpoint(experiment, "d", 1, b"")
    check_resume_checkpoints(str(experiment))   # c and d are not in the state: Tune does not know them
    tune_state(experiment, {"a": "checkpoint_000010", "b": None, "c": "checkpoint_000002", "d": "checkpoint_000001"},
               stamp="2026-01-02_00-00-00")
    message = one_line(lambda: check_resume_checkpoints(str(experiment)))
    assert message.startswith(f"{FIELD}: {bad} is not a readable checkpoint") and "1 more" in message
    assert {k: v for k, v in listing(str(experiment)).items() if k in before} == before

    os.remove(newest)
    assert "(missing)" in one_line(lambda: check_resume_checkpoints(str(experiment)))


def test_a_half_copied_checkpoint_tune_never_recorded_is_not_in_the_way(tmp_path):
    """A driver killed while a worker copied checkpoint N+1 into the trial folder: Tune's
    state still names N, restores from it and writes N+1 again."""
    experiment = tmp_path / "exp"
    recorded = trial_checkpoint(experiment, "a", 3)
    good = open(recorded, "rb").read()
    trial_checkpoint(experiment, "a", 4, good[:1000])
    tune_state(experiment, {"a": "checkpoint_000003"})
    check_resume_checkpoints(str(experiment))
    # a state file Tune can no longer read: the newest folder of every trial is checked
    (experiment / "tune" / "experiment_state-2026-01-03_00-00-00.json").write_text('{"trial_data": [["{')
    assert "checkpoint_000004" in one_line(lambda: check_resume_checkpoints(str(experiment)))


@pytest.mark.slow
def test_resume_from_a_garbage_checkpoint_is_one_line_before_ray(tmp_path):
    storage = str(tmp_path / "exp")
    args = ["platform.sweep", "dml_smoke", "--trials", "1", "--storage", storage,
            "--set", "train.epochs=1", "--set", "data.train_limit=200"]
    run = cli(*args)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (experiment,) = [os.path.dirname(p) for p in glob.glob(os.path.join(storage, "*", "experiment.yaml"))]
    (latest,) = latest_checkpoints(experiment)
    assert restore_checkpoints(experiment) == [latest]    # read off Tune's own experiment state
    path = os.path.join(latest, CHECKPOINT_FILE)
    assert checkpoint_problem(path) is None
    with open(path, "wb") as fh:
        fh.write(b"\x00garbage, not a checkpoint\n" * 64)
    before = listing(experiment)

    resumed = cli(*args, "--resume")
    assert resumed.returncode == 2, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    lines = resumed.stderr.strip().splitlines()
    assert len(lines) == 1, resumed.stderr
    assert lines[0].startswith(f"python -m platform.sweep: error: {FIELD}: {path} is not a readable checkpoint")
    assert "Traceback" not in resumed.stderr + resumed.stdout
    assert "experiment:" not in resumed.stdout      # launch() never ran: no Ray
    assert listing(experiment) == before
