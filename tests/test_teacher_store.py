"""The teacher store: a teacher is keyed by what determines its weights, trained
once as a Ray task, reused by later sweeps under the same storage; files that
are not checkpoints give one line naming the field."""
import glob
import json
import os

import pytest
import torch
import yaml

from distill.config import config_from_dict, config_to_dict
from distill.errors import ConfigError
from distill.models import build_model
from distill.teachers import (FINISHED_FILE, resolve_teacher_checkpoint, teacher_dir, teacher_key,
                              teacher_training_config)
from distill.trainer import Trainer
from distill.validation import validate_run
from platform.experiment_run import check_trial_configs
from platform.teacher_store import needed_teachers, with_store
from trainables.teacher_task import train_teacher
from sweep_runner import cli, cli_in_process


def raw(**changes):
    base = {"method": {"name": "kd"}, "networks": [{"name": "student", "arch": "resnet8"}],
            "teacher": {"arch": "resnet14", "epochs": 3, "store": "/tmp/store"},
            "data": {"name": "digits", "batch_size": 32}, "optim": {"lr": 0.05}, "seed": 0}
    for key, value in changes.items():
        node = base
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {}) if not part.isdigit() else node[int(part)]
        node[int(last) if last.isdigit() else last] = value
    return config_to_dict(config_from_dict(base))


def test_key_depends_on_what_determines_the_teacher_only():
    key = teacher_key(raw())
    assert key == teacher_key(raw())
    for same in ({"networks.0.arch": "resnet14"}, {"method": {"name": "at"}}, {"seed": 7},
                 {"output_dir": "/elsewhere"}, {"data.eval_batch_size": 64}):
        assert teacher_key(raw(**same)) == key, same
    for other in ({"teacher.arch": "resnet20"}, {"teacher.epochs": 4}, {"teacher.seed": 1},
                  {"data.name": "cifar10"}, {"data.val_fraction": 0.2}, {"data.train_limit": 100},
                  {"data.batch_size": 64}, {"optim.lr": 0.1}, {"train.amp": "off"}):
        assert teacher_key(raw(**other)) != key, other


def test_pinned_teacher_recipe_ignores_the_trials_optim():
    pinned = raw(**{"teacher.optim": {"lr": 0.05}})
    assert teacher_key(pinned) == teacher_key(raw(**{"teacher.optim": {"lr": 0.05}, "optim.lr": 0.2}))


def test_untrained_store_entry_is_one_line(tmp_path):
    config = raw(**{"teacher.store": str(tmp_path)})
    with pytest.raises(ConfigError) as err:
        resolve_teacher_checkpoint(config)
    assert err.value.field == "teacher.checkpoint" and "not trained yet" in str(err.value)
    folder = tmp_path / teacher_key(config)
    (folder / "checkpoint").mkdir(parents=True)      # half-trained: a checkpoint, no teacher.yaml
    with pytest.raises(ConfigError):
        resolve_teacher_checkpoint(config)
    (folder / FINISHED_FILE).write_text("key: x\n")
    assert resolve_teacher_checkpoint(config).startswith(str(folder))


def test_distinct_teachers_of_the_variants_once_each():
    variants = [raw(**{"data.batch_size": b, "networks.0.arch": a}) for b in (32, 64) for a in ("resnet8", "resnet14")]
    needed = needed_teachers(variants + [raw(**{"teacher.checkpoint": "/x.pt"})])
    assert sorted(needed) == sorted({teacher_key(v) for v in variants}) and len(needed) == 2


def test_preset_teacher_epochs_and_the_store_go_into_the_base():
    base = with_store({"teacher": {"arch": "resnet14"}, "optim": {"lr": 0.05}}, "rel/teachers", 6)
    assert base["teacher"]["epochs"] == 6 and base["teacher"]["store"] == os.path.abspath("rel/teachers")
    given = with_store({"teacher": {"arch": "resnet14", "checkpoint": "/t.pt"}}, "/s", 6)
    assert given["teacher"].get("epochs") is None                 # a checkpoint wins
    assert with_store({"teacher": {"arch": "resnet14", "epochs": 2}}, "/s", 6)["teacher"]["epochs"] == 2


def test_a_column_naming_a_whole_teacher_keeps_the_experiments_store():
    """dafl's CIFAR and CelebA columns replace the teacher mapping; the store stays the experiment's."""
    from trainables.trial_config import BASE_KEY, VARIANT_KEY, resolve_trial_config

    base = with_store({"method": {"name": "kd"}, "networks": [{"name": "net0", "arch": "resnet8"}],
                       "data": {"name": "digits"}, "teacher": {"arch": "resnet8", "epochs": 2}}, "/s", None)
    column = {"teacher": {"name": "teacher", "arch": "resnet14", "epochs": 3}}
    resolved = resolve_trial_config({BASE_KEY: base, VARIANT_KEY: column})
    assert resolved["teacher"]["store"] == "/s" and resolved["teacher"]["arch"] == "resnet14"
    no_teacher = {"teacher": None, "method": {"name": "independent"}}
    assert resolve_trial_config({BASE_KEY: base, VARIANT_KEY: no_teacher}).get("teacher") is None


def test_driver_check_needs_a_checkpoint_or_epochs(tmp_path):
    base = raw(**{"teacher.store": str(tmp_path)})
    check_trial_configs(base, [{}])                      # to be trained by the store: accepted
    base["teacher"]["epochs"] = None
    with pytest.raises(ConfigError) as err:
        check_trial_configs(base, [{}])
    assert err.value.field == "teacher.checkpoint" and "teacher.epochs" in str(err.value)


def test_half_trained_teacher_is_resumed_not_reused(tmp_path):
    config = raw(**{"teacher.store": str(tmp_path), "teacher.epochs": 2, "teacher.arch": "resnet8",
                    "data.train_limit": 128, "train.threads": 1, "train.device": "cpu"})
    folder = teacher_dir(config)

    class Killed(Exception):
        pass

    def kill(metrics, checkpoint_dir):
        raise Killed
    trainer = Trainer(config_from_dict(teacher_training_config(config)), output_dir=folder)
    with pytest.raises(Killed):
        trainer.fit(kill)                                 # the driver dies after epoch 1
    first_epoch = trainer.history[0]
    assert teacher_key(config) in needed_teachers([config]) and not os.path.exists(os.path.join(folder, FINISHED_FILE))
    with pytest.raises(ConfigError):
        resolve_teacher_checkpoint(config)                # a half-trained entry is not a teacher
    entry = train_teacher(config)
    with open(os.path.join(folder, "metrics.jsonl")) as fh:
        history = [json.loads(line) for line in fh]
    assert [m["epoch"] for m in history] == [1, 2] and history[0] == first_epoch   # epoch 1 not redone
    with open(os.path.join(folder, FINISHED_FILE)) as fh:
        assert yaml.safe_load(fh) == entry and entry["epochs"] == 2 and entry["val_acc"] is not None
    validate_run(config_from_dict(config))                # the store's checkpoint fits the teacher


@pytest.mark.parametrize("wrapper", [None, "state_dict", "model"])
def test_a_plain_state_dict_from_outside_is_accepted(tmp_path, wrapper):
    state = build_model("resnet14", 10, in_channels=1).state_dict()
    path = tmp_path / "teacher.pt"
    torch.save(state if wrapper is None else {wrapper: state}, path)
    config = raw(**{"teacher.checkpoint": str(path)})
    validate_run(config_from_dict(config))


def test_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path):
    path = tmp_path / "teacher.pt"
    path.write_text("this is a text file\n")
    with pytest.raises(ConfigError) as err:
        validate_run(config_from_dict(raw(**{"teacher.checkpoint": str(path)})))
    assert err.value.field == "teacher.checkpoint" and str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_sweep_rejects_a_text_teacher_before_ray(tmp_path):
    bad = tmp_path / "x.pt"
    bad.write_text("not a checkpoint")
    result = cli_in_process("platform.sweep", "kd_temperature", "--preset", "smoke", "--trials", "1", "--storage",
                            str(tmp_path / "exp"), "--set", f"teacher.checkpoint={bad}")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "teacher.checkpoint" in lines[0] and str(bad) in lines[0]
    assert "Traceback" not in result.stderr and not os.path.exists(tmp_path / "exp")   # nothing written


def tiny_store_entry(tmp_path):
    """A finished store entry, trained in this process (no Ray): its teacher.yaml records the checkpoint's
    size and hash."""
    config = raw(**{"teacher.store": str(tmp_path / "store"), "teacher.epochs": 1, "data.train_limit": 64,
                    "train.threads": 1, "train.device": "cpu"})
    entry = train_teacher(config)
    return config, entry


def test_a_stored_teacher_records_its_checkpoint_and_a_changed_file_is_one_line(tmp_path):
    config, entry = tiny_store_entry(tmp_path)
    assert entry["checkpoint_size"] == os.path.getsize(entry["checkpoint"]) and len(entry["checkpoint_sha256"]) == 64
    assert resolve_teacher_checkpoint(config) == entry["checkpoint"]
    with open(entry["checkpoint"], "r+b") as fh:   # cut short, as a killed copy leaves it
        fh.truncate(os.path.getsize(entry["checkpoint"]) // 2)
    with pytest.raises(ConfigError) as err:
        resolve_teacher_checkpoint(config)
    text = str(err.value)
    assert err.value.field == "teacher.checkpoint" and "changed since" in text and "delete" in text
    assert teacher_dir(config) in text and "\n" not in text


def test_a_corrupt_teacher_is_refused_on_resume_before_ray(tmp_path):
    """--resume validates the stored teachers (and the data) again, as a fresh run does."""
    config, entry = tiny_store_entry(tmp_path)
    storage = tmp_path / "exp"
    folder = storage / "kd_temperature-smoke-20260101-000000"
    folder.mkdir(parents=True)
    meta = {"kind": "sweep", "sweep": "kd_temperature", "preset": "smoke", "trials": 1, "seeds": None,
            "metric": "val_acc.student", "mode": "max", "overrides": [], "fixed": ["method.temperature",
                                                                                   "method.alpha"],
            "base": config}
    with open(folder / "experiment.yaml", "w") as fh:
        yaml.safe_dump(meta, fh)
    with open(entry["checkpoint"], "r+b") as fh:
        fh.truncate(100)
    result = cli_in_process("platform.sweep", "kd_temperature", "--preset", "smoke", "--resume",
                            "--storage", str(storage))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "teacher.checkpoint" in lines[0] and "changed since" in lines[0]


def test_a_second_driver_waits_for_the_claimed_teacher_and_reuses_it(tmp_path, capsys):
    """Deterministic: this process holds the claim (as a first driver would); a second driver's
    ensure_teachers waits, reports it, and reuses the teacher once it is finished."""
    import threading

    from platform import teacher_claim
    from platform.teacher_store import ensure_teachers

    config = raw(**{"teacher.store": str(tmp_path / "store"), "teacher.epochs": 1, "data.train_limit": 64,
                    "train.threads": 1, "train.device": "cpu"})
    folder = teacher_dir(config)
    assert teacher_claim.try_claim(folder) and not teacher_claim.try_claim(folder)
    finisher = threading.Timer(1.0, lambda: (train_teacher(config), teacher_claim.release(folder)))
    finisher.start()
    ensure_teachers([config], cpus=1, gpus=0)   # the second driver
    finisher.join()
    out = capsys.readouterr().out
    assert "waiting for teacher resnet14" in out and "trained by another driver" in out
    assert "as a Ray task" not in out


def test_a_stale_claim_is_taken_over(tmp_path, monkeypatch):
    from platform import teacher_claim

    folder = str(tmp_path / "entry")
    assert teacher_claim.try_claim(folder)
    owner = teacher_claim.read_claim(folder)
    assert not teacher_claim.is_stale(owner)
    assert teacher_claim.is_stale(owner, now=owner["refreshed"] + teacher_claim.STALE_SECONDS + 1)
    with open(teacher_claim.claim_path(folder), "w") as fh:   # a dead owner on this host
        json.dump({"host": __import__("socket").gethostname(), "pid": 2 ** 22 + 7, "started": 0}, fh)
    assert teacher_claim.is_stale(teacher_claim.read_claim(folder)) and teacher_claim.take_over(folder)


@pytest.mark.slow
def test_two_drivers_on_one_store_train_the_teacher_once(tmp_path):
    """The second driver starts once the first has claimed the teacher: it waits and reuses it."""
    import time

    from sweep_runner import popen

    store = str(tmp_path / "teachers")
    args = ("platform.sweep", "kd_temperature", "--preset", "smoke", "--trials", "1", "--teacher-store", store,
            "--set", "train.epochs=1", "--set", "data.train_limit=200", "--set", "teacher.epochs=2")
    first = popen(*args, "--storage", str(tmp_path / "a"))
    deadline = time.time() + 300
    while not glob.glob(os.path.join(store, "*", "claim.json")):
        assert first.poll() is None and time.time() < deadline, first.stdout.read()[-2000:]
        time.sleep(0.2)
    second = cli(*args, "--storage", str(tmp_path / "b"))
    first_out = first.communicate(timeout=600)[0]
    assert first.returncode == 0 and second.returncode == 0, first_out[-2000:] + second.stdout[-2000:]
    outs = first_out + second.stdout
    # trained once; the second driver waited for it or, when the first had already finished, reused it
    # (the waiting path itself: test_a_second_driver_waits_for_the_claimed_teacher_and_reuses_it)
    assert outs.count("as a Ray task") == 1 and "reusing teacher resnet14" in second.stdout
    (entry,) = glob.glob(os.path.join(store, "*", FINISHED_FILE))
    assert not glob.glob(os.path.join(store, "*", "claim.json"))   # released
