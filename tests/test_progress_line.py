"""The progress line: "best" is a finished trial's final value (what the summary ranks), and a
line comes at least every 30 seconds while trials run; teachers report their epoch while training."""
import json
import types

import pytest

from platform import progress_line
from platform.progress_line import ProgressLine
from platform.teacher_store import teacher_progress


def trial(trial_id, status, last):
    return types.SimpleNamespace(trial_id=trial_id, status=status, last_result=last)


def test_best_is_a_finished_trials_final_value(capsys):
    line = ProgressLine("val_acc.net0", "max", 2)
    running = trial("a", "RUNNING", {"val_acc.net0": 99.0})
    line.on_trial_result(0, [running], running, {"val_acc.net0": 99.0})   # a running trial's best epoch
    assert line.best is None
    done = trial("b", "RUNNING", {"val_acc.net0": 80.0})
    line.on_trial_complete(0, [running, done], done)
    assert line.best == 80.0
    out = capsys.readouterr().out
    assert "best finished val_acc.net0 = 80.00" in out and "99" not in out


def test_a_line_at_least_every_thirty_seconds(capsys, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(progress_line.time, "time", lambda: now[0])
    line = ProgressLine("val_acc.net0", "max", 1)
    running = trial("a", "RUNNING", {})
    line.on_trial_result(0, [running], running, {})
    capsys.readouterr()
    now[0] += 10
    line.on_step_end(0, [running])
    assert capsys.readouterr().out == ""
    now[0] += 25
    line.on_step_end(0, [running])
    assert "1 running" in capsys.readouterr().out


@pytest.mark.parametrize("lines, expected", [([], "starting"),
                                              ([{"epoch": 5, "epochs_planned": 30, "val_acc.teacher": 80.1,
                                                 "val_loss.teacher": 0.5}], "epoch 5/30, val_acc.teacher 80.10")])
def test_teacher_progress_reads_its_metrics(tmp_path, lines, expected):
    if lines:
        (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert teacher_progress(str(tmp_path)) == expected
