"""platform.report on experiment folders built here (a real Optuna journal
study and a real trials.parquet, no Ray): importances and plots for a search,
the paper table for an ablation, export of each ablation row's best config."""
import json
import os

import optuna
import pytest
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from distill.config import config_from_dict, config_to_dict
from platform.export import export_ablation_rows
from platform.report import report_experiment
from platform.search_plots import pareto_front
from platform.trial_records import write_rows
from search_spaces import load_sweep
from sweep_runner import cli, cli_in_process

PNG = b"\x89PNG"


def smoke_config(**method):
    spec = load_sweep("tadml_disc")
    raw = dict(spec.base)
    raw["data"] = {"name": "digits", "batch_size": 64}
    raw["networks"] = [{"name": "net0", "arch": "resnet8"}, {"name": "net1", "arch": "resnet8"}]
    raw["method"] = {**raw["method"], **method}
    return config_to_dict(config_from_dict(raw))


def write_meta(folder, **meta):
    base = {"kind": "sweep", "sweep": "tadml_disc", "preset": "smoke", "metric": "val_acc.net0", "mode": "max",
            "base": smoke_config()}
    base.update(meta)
    with open(os.path.join(folder, "experiment.yaml"), "w") as fh:
        yaml.safe_dump(base, fh)


def test_search_report_has_importances_and_four_plots(tmp_path):
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "optuna.journal")))
    study = optuna.create_study(study_name="tadml_disc", storage=storage, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=3))
    rows = []
    for i in range(30):
        trial = study.ask()
        depth = trial.suggest_int("search.disc_depth", 1, 4)
        width = trial.suggest_int("search.disc_width_1", 64, 512, log=True)
        value = 80.0 + 3.0 * depth        # only the depth matters
        for epoch in (1, 2, 3):
            trial.report(value - 3 + epoch, epoch)
        study.tell(trial, value)
        rows.append({"trial_id": f"t{i}", "status": "ok", "error": "", "epochs": 3, "wall_seconds": 1.0, "seed": 0,
                     "param.disc_depth": depth, "param.disc_width_1": width, "val_acc.net0": value,
                     "test_acc.net0": value - 1, "config_json": json.dumps(smoke_config())})
        folder = tmp_path / "tune" / f"trial_t{i}"   # what Tune writes: one result line per epoch
        folder.mkdir(parents=True)
        (folder / "result.json").write_text("".join(json.dumps({"epoch": e, "val_acc.net0": value - 3 + e}) + "\n"
                                                    for e in (1, 2, 3)))
    write_rows(str(tmp_path / "trials.parquet"), rows)
    write_meta(str(tmp_path))
    text, written = report_experiment(str(tmp_path))
    assert "parameter importance" in text and "from 30 trials" in text
    ranked = text.split("parameter importance")[1].splitlines()[1:3]
    assert ranked[0].split()[0] == "search.disc_depth", ranked     # depth drives the value, it ranks first
    assert float(ranked[0].split()[1]) > float(ranked[1].split()[1])
    pngs = [p for p in written if p.endswith(".png")]
    assert {os.path.basename(p) for p in pngs} == {"optimization_history.png", "learning_curves.png",
                                                    "param_importance.png", "metric_vs_params.png"}
    for path in pngs:
        with open(path, "rb") as fh:
            assert fh.read(4) == PNG


def ablation_rows():
    rows = []
    for structure, accs in {"256fc-256fc": [90.0, 91.0], "128fc-256fc-128fc": [95.0, 95.5]}.items():
        for seed, acc in enumerate(accs):
            rows.append({"trial_id": f"{structure}-{seed}", "status": "ok", "error": "", "epochs": 3,
                         "wall_seconds": 1.0, "seed": seed, "param.method.disc_structure": structure,
                         "val_acc.net0": acc, "test_acc.net0": acc - 0.5,
                         "config_json": json.dumps({**smoke_config(disc_structure=structure), "seed": seed})})
    return rows


def test_ablation_report_and_row_export(tmp_path):
    write_rows(str(tmp_path / "trials.parquet"), ablation_rows())
    write_meta(str(tmp_path), kind="ablation", seeds=[0, 1])
    text, written = report_experiment(str(tmp_path), latex=True)
    table = open(os.path.join(tmp_path, "report", "table.md")).read()
    assert "72.51" in table and "71.57" in table                        # the paper column
    assert "94.75 ± 0.35" in table                                      # test accuracy, mean ± std over seeds
    assert any(p.endswith("table.tex") for p in written) and any(p.endswith("table.png") for p in written)
    exported, metric = export_ablation_rows(str(tmp_path), str(tmp_path / "out"))
    assert metric == "val_acc.net0" and len(exported) == 2
    for path, row_label, _, _ in exported:
        config = yaml.safe_load(open(path))
        assert config["method"]["disc_structure"] == row_label and config["seed"] == 0
        config_from_dict(config)                                       # distill.train accepts it as is


def test_pareto_front_keeps_only_non_dominated_rows():
    rows = [{"status": "ok", "acc": a, "size": s, "trial_id": str(i)}
            for i, (a, s) in enumerate([(90, 1.0), (92, 2.0), (91, 3.0), (95, 4.0), (89, 0.5)])]
    front = pareto_front(rows, ["acc", "size"], ["max", "min"])
    assert sorted(r["trial_id"] for r in front) == ["0", "1", "3", "4"]


def test_report_cli_bad_folder(tmp_path):
    run = cli("platform.report", str(tmp_path), timeout=120)
    assert run.returncode == 2 and "EXPERIMENT" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("args, field", [(["tadml_disc", "--seeds", "0"], "--seeds"),
                                         (["dml_smoke"], "sweep"), (["kd_temperature"], "sweep")])
def test_ablate_bad_input(tmp_path, args, field):
    run = cli_in_process("platform.ablate", *args, "--storage", str(tmp_path / "exp"))
    assert run.returncode == 2, run.stdout[-1000:] + run.stderr[-1000:]
    assert field in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "exp").exists() or not os.listdir(tmp_path / "exp")


def test_search_plots_label_trials_by_id_use_whole_epochs_and_caution_on_few_trials(tmp_path, monkeypatch):
    from platform import search_plots

    figures = {}
    real_save = search_plots._save
    monkeypatch.setattr(search_plots, "_save", lambda fig, path: figures.setdefault(os.path.basename(path), fig)
                        and real_save(fig, path))
    curves = {"a1b2c_00000": {1: 80.0, 2: 82.0, 3: 83.0}, "a1b2c_00001": {1: 70.0, 2: 75.0, 3: 76.0}}
    search_plots.plot_learning_curves(curves, "val_acc.net0", str(tmp_path / "curves.png"))
    search_plots.plot_importance({"lr": 0.9, "alpha": 0.1}, str(tmp_path / "importance.png"), "val_acc.net0", 8)
    ax = figures["curves.png"].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(curves)
    assert all(float(t).is_integer() for t in ax.get_xticks() if 1 <= t <= 3)
    title = figures["importance.png"].axes[0].get_title()
    assert "8 trials" in title and "too few" in title
