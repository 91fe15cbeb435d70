"""Population-based training of distillation weights and temperature: the sweep spec, the
driver's refusal of keys a run cannot change, schedules read off the recorded epochs through
the clones, and (slow) a kd_pbt smoke run whose cloned trial, exported as a schedule, re-runs
to the same numbers without Ray."""
import json
import os
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
import yaml

from distill.config import config_from_dict, read_yaml
from distill.errors import ConfigError
from distill.trainer import Trainer
from platform.export import with_schedule
from platform.schedule_records import (SCHEDULES_FILE, ScheduleRecorder, as_schedule, lineage, read_schedule_rows,
                                       schedule_row)
from search_spaces import load_sweep
from sweep_runner import cli, cli_in_process


def rows(trial, values, cloned=None):
    """Schedule rows of ``trial`` for epochs 1.. with ``values`` (alpha per epoch); ``cloned``:
    (donor, epoch it was cloned at)."""
    out = []
    for epoch, alpha in enumerate(values, start=1):
        result = {"epoch": epoch, "hp.method.alpha": alpha, "hp.method.temperature": 4.0}
        if cloned:
            result.update(cloned_from=cloned[0], cloned_at_epoch=cloned[1])
        out.append(schedule_row(trial, result))
    return out


def test_lineage_follows_the_clones_back_to_the_first_epoch(tmp_path):
    a = rows("a", [0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    b = rows("b", [0.9, 0.9, 0.3, 0.3, 0.3, 0.3], cloned=("a", 2))                     # b took a's epoch 2
    c = [r for r in rows("c", [0.5, 0.5, 0.5, 0.5, 0.7, 0.7], cloned=("b", 4))]        # c took b's epoch 4
    recorder = ScheduleRecorder(str(tmp_path))
    results = [(r["trial_id"], {"epoch": r["epoch"], **{k: v for k, v in r.items() if k.startswith("hp.")},
                                **({"cloned_from": r["cloned_from"], "cloned_at_epoch": r["epoch"] - 1}
                                   if r["cloned_from"] else {})}) for r in a + b + c]
    for trial, result in results + results[6:9]:   # b's first epochs reported again (a resumed trial)
        recorder.on_trial_result(0, [], SimpleNamespace(trial_id=trial), result)
    stored = read_schedule_rows(str(tmp_path / SCHEDULES_FILE))
    assert len(stored) == 18   # one row per (trial, epoch)
    keyed = {(r["trial_id"], r["epoch"]): r for r in stored}
    assert keyed[("b", 3)]["cloned_from"] == "a" and keyed[("b", 4)]["cloned_from"] == ""
    path_c = lineage(list(keyed.values()), "c")
    assert [(r["trial_id"], r["epoch"]) for r in path_c] == [("a", 1), ("a", 2), ("b", 3), ("b", 4), ("c", 5),
                                                              ("c", 6)]
    start, schedule = as_schedule(path_c)
    assert start == {"method.alpha": 0.1, "method.temperature": 4.0}
    assert schedule == {"method.alpha": {0: 0.1, 2: 0.3, 4: 0.7}, "method.temperature": {0: 4.0}}
    config = with_schedule({"method": {"name": "kd", "alpha": 0.7, "temperature": 4.0}}, list(keyed.values()), "c")
    assert config["method"]["alpha"] == 0.1 and config["schedule"] == {"method.alpha": {0: 0.1, 2: 0.3, 4: 0.7}}


def test_pbt_sweeps_load_and_bad_pbt_specs_name_the_field(tmp_path):
    for name in ("kd_pbt", "tadml_pbt"):
        spec = load_sweep(name)
        assert spec.sampler == "pbt" and spec.pbt.interval >= 1 and spec.space
    body = {"base": {"method": {"name": "kd"}}, "metric": "val_acc.net0", "sampler": "pbt", "presets": {"smoke": {}},
            "space": {"method.temperature": {"type": "categorical", "choices": [1, 2]}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(body))
    with pytest.raises(ConfigError) as err:
        load_sweep(str(path))
    assert err.value.field == "space.method.temperature" and "type float" in str(err.value)
    body["space"] = {}
    path.write_text(yaml.safe_dump(body))
    with pytest.raises(ConfigError) as err:
        load_sweep(str(path))
    assert err.value.field == "space"


def test_a_key_a_run_cannot_change_is_one_line_before_ray(tmp_path):
    spec = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "..", "search_spaces", "kd_pbt.yaml")))
    spec["space"] = {"optim.momentum": {"type": "float", "low": 0.5, "high": 0.9}}
    path = tmp_path / "bad_pbt.yaml"
    path.write_text(yaml.safe_dump(spec))
    run = cli_in_process("platform.sweep", str(path), "--preset", "smoke", "--storage", str(tmp_path / "exp"))
    assert run.returncode == 2
    assert "space.optim.momentum: sampler pbt cannot change it during a run of method kd" in run.stderr
    assert "allowed: optim.lr, method.temperature, method.alpha" in run.stderr
    assert not (tmp_path / "exp").exists() or not os.listdir(tmp_path / "exp")


@pytest.mark.slow
def test_kd_pbt_smoke_clones_perturbs_and_its_exported_schedule_reruns(tmp_path):
    storage = tmp_path / "exp"
    result = cli("platform.sweep", "kd_pbt", "--preset", "smoke", "--storage", str(storage), timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (experiment,) = [storage / d for d in os.listdir(storage) if d.startswith("kd_pbt")]
    schedule = pq.read_table(str(experiment / "schedules.parquet")).to_pylist()
    trials = {r["trial_id"]: r for r in pq.read_table(str(experiment / "trials.parquet")).to_pylist()}
    assert len(trials) == 4 and all(r["status"] == "ok" for r in trials.values())
    clones = [r for r in schedule if r["cloned_from"]]
    assert clones, "no trial continued another's checkpoint"
    by = {(r["trial_id"], r["epoch"]): r for r in schedule}
    assert len(by) == len(schedule) == 4 * 6   # one row per trial and epoch, none duplicated
    clone = clones[0]
    before = by[(clone["trial_id"], clone["epoch"] - 1)]
    # the values changed at the clone (the donor's, perturbed), and the epochs run on without a gap
    assert (clone["hp.method.alpha"], clone["hp.method.temperature"]) != (before["hp.method.alpha"],
                                                                          before["hp.method.temperature"])
    assert clone["epoch"] - 1 in (2, 4)   # at a perturbation interval of 2 epochs
    # the cloned trial's final weights came through its donor: exported as a schedule, re-run alone
    out = tmp_path / "exported"
    assert cli_in_process("platform.export", str(experiment), "--top", "4", "--out", str(out)).returncode == 0
    (exported,) = [out / f for f in os.listdir(out) if f.endswith(f"{clone['trial_id']}.yaml")]
    config = read_yaml(str(exported))
    assert config["schedule"], "the cloned trial's values changed; its export must carry them"
    history = Trainer(config_from_dict(config), output_dir=str(tmp_path / "rerun")).fit()
    row = trials[clone["trial_id"]]
    assert history[-1]["val_acc.student"] == pytest.approx(row["val_acc.student"], abs=1e-9)
    assert history[-1]["test_acc.student"] == pytest.approx(row["test_acc.student"], abs=1e-9)
    assert json.loads(row["config_json"])["method"]["alpha"] == pytest.approx(by[(clone["trial_id"], 6)]["hp.method.alpha"])
    # the report draws every trial's values by epoch
    from platform.report import report_experiment

    _, written = report_experiment(str(experiment))
    assert str(experiment / "report" / "schedules.png") in written
    # an ablation row re-runs the exported schedule beside fixed values: at the same seed, the same numbers
    sweep = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "..", "search_spaces", "kd_schedule.yaml")))
    rows_of = sweep["variants"]["values"]
    rows_of["PBT schedule (kd_pbt)"]["from_export"]["file"] = str(exported)
    del rows_of["best fixed (kd_temperature)"]
    path = tmp_path / "kd_schedule_test.yaml"
    path.write_text(yaml.safe_dump(sweep))
    ablation = cli("platform.ablate", str(path), "--preset", "smoke", "--seeds", "1", "--storage", str(storage),
                   timeout=900)
    assert ablation.returncode == 0, ablation.stdout[-3000:] + ablation.stderr[-3000:]
    (ablated,) = [storage / d for d in os.listdir(storage) if d.startswith("kd_schedule_test")]
    by_row = {r["param.values"]: r for r in pq.read_table(str(ablated / "trials.parquet")).to_pylist()}
    rerun = by_row["PBT schedule (kd_pbt)"]
    assert json.loads(rerun["config_json"])["schedule"] == json.loads(json.dumps(config["schedule"]))
    assert rerun["val_acc.student"] == pytest.approx(row["val_acc.student"], abs=1e-9)
    assert by_row["T=4, alpha=0.9 (recipe)"]["val_acc.student"] != rerun["val_acc.student"]
    assert "PBT schedule (kd_pbt)" in (ablated / "report" / "table.md").read_text()


@pytest.mark.slow
def test_a_pbt_sweep_killed_after_a_clone_resumes_without_losing_or_doubling_anything(tmp_path):
    import signal

    from sweep_runner import popen
    from test_sweep_faults import experiment_of, wait_for

    storage = str(tmp_path / "exp")
    # 10 epochs: after the first clone (epoch 3) the population has minutes left to be killed in
    args = ("platform.sweep", "kd_pbt", "--preset", "smoke", "--storage", storage, "--set", "train.epochs=10")
    driver = popen(*args)

    def cloned():
        experiment = experiment_of(storage)
        path = os.path.join(experiment, "schedules.parquet") if experiment else ""
        if not path or not os.path.exists(path):
            return None
        return experiment if any(r["cloned_from"] for r in read_schedule_rows(path)) else None

    experiment = wait_for(cloned, driver, seconds=600)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    resumed = cli(*args, "--resume", timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    trials = {r["trial_id"]: r for r in pq.read_table(os.path.join(experiment, "trials.parquet")).to_pylist()}
    assert len(trials) == 4 and all(r["status"] == "ok" and r["epochs"] == 10 for r in trials.values()), \
        [(t, r["status"], r["epochs"], r["error"]) for t, r in trials.items()]
    rows = read_schedule_rows(os.path.join(experiment, SCHEDULES_FILE))
    by = {(r["trial_id"], r["epoch"]): r for r in rows}
    assert len(rows) == len(by) == 4 * 10   # every trial's every epoch, once
    for trial, row in trials.items():
        last = by[(trial, 10)]
        # what trials.parquet says a trial trained with is its last epoch's values
        assert row["param.method.alpha"] == pytest.approx(last["hp.method.alpha"])
        assert row["param.method.temperature"] == pytest.approx(last["hp.method.temperature"])
        assert len(lineage(rows, trial)) == 10
