"""What a DAFL run generates, read back from its folder (distill/generated_samples.py), and
the report's grids, histograms and generated.md (platform/generated_report.py), on a tiny
DAFL run trained here on digits and fake trials tables pointing at it (no Ray)."""
import json
import os

import numpy as np
import pytest
import torch
import yaml

from distill.config import config_from_dict, config_to_dict
from distill.generated_samples import generate_for_run, normalisation_stats, read_config, run_files
from distill.trainer import Trainer
from platform.generated_report import generated_report, pick_trials, uses_dafl
from platform.report import report_experiment
from platform.trial_records import write_rows
from test_dafl_method import dafl_config

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def dafl_experiment(digits_teacher, tmp_path_factory):
    """An experiment folder whose tune/trial_dafl0/run is a finished 1-epoch DAFL run."""
    experiment = tmp_path_factory.mktemp("dafl_experiment")
    raw = dafl_config(digits_teacher)
    raw["train"]["epochs"] = 1
    run = experiment / "tune" / "trial_dafl0" / "run"
    trainer = Trainer(config_from_dict(raw), output_dir=str(run))
    history = trainer.fit()
    return str(experiment), str(run), config_to_dict(trainer.config), history[-1]


def dafl_row(trial_id, config, last, seed=3, **extra):
    return {"trial_id": trial_id, "status": "ok", "error": "", "epochs": 1, "epochs_planned": 1, "wall_seconds": 1.0, "seed": seed,
            "method": "dafl", "val_acc.net0": last["val_acc.net0"], "test_acc.net0": last["test_acc.net0"],
            "config_json": json.dumps(config), **extra}


def png(path):
    with open(path, "rb") as fh:
        return fh.read(4) == PNG and os.path.getsize(path) > 1000


def test_generated_batch_shapes_classes_and_display(dafl_experiment):
    _, run, _, _ = dafl_experiment
    batch = generate_for_run(run, n=300, seed=5)
    assert batch.images.shape == (300, 1, 8, 8) and batch.images.dtype == torch.float32
    assert batch.classes.shape == (300,) and batch.classes.dtype == torch.int64
    assert int(batch.classes.min()) >= 0 and int(batch.classes.max()) < 10 == batch.num_classes
    assert bool(((batch.confidence >= 0.1 - 1e-6) & (batch.confidence <= 1.0)).all())   # argmax of 10 classes
    assert int(batch.histogram().sum()) == 300
    assert 0.0 <= batch.l1_to_uniform() <= 2 * (1 - 1 / 10) + 1e-9
    # de-normalised with the training split's statistics, the same the trainer normalised with
    mean, std = normalisation_stats(read_config(run_files(run)[0]))
    assert (batch.mean, batch.std) == (mean, std)
    expected = (batch.images * std[0] + mean[0]).clamp(0, 1)
    assert torch.allclose(batch.display_images(), expected, atol=1e-6)


def test_same_seed_same_images_other_seed_other_images(dafl_experiment):
    _, run, _, _ = dafl_experiment
    a, b = generate_for_run(run, n=64, seed=1, with_stats=False), generate_for_run(run, n=64, seed=1, with_stats=False)
    c = generate_for_run(run, n=64, seed=2, with_stats=False)
    assert torch.equal(a.images, b.images) and torch.equal(a.classes, b.classes)
    assert torch.equal(a.confidence, b.confidence)
    assert not torch.equal(a.images, c.images)
    assert a.mean is None and float(a.display_images().min()) == 0.0 and float(a.display_images().max()) == 1.0


def test_trained_generator_weights_are_used(dafl_experiment):
    """The checkpoint's generator, not a fresh one: the images differ from an untrained source's."""
    from distill.generated_samples import draw, frozen_teacher, trained_source

    _, run, _, _ = dafl_experiment
    config = read_config(run_files(run)[0])
    state = torch.load(run_files(run)[1], weights_only=False)
    with pytest.raises(RuntimeError):   # strict loading: a state without the generator is refused
        trained_source(config, {"modules": {}})
    trained = trained_source(config, state["method"])
    weights = {k: v for k, v in state["method"]["modules"].items() if k.startswith("owned.source.")}
    assert weights and all(torch.equal(trained.state_dict()[k[len("owned.source."):]], v) for k, v in weights.items())
    images, _, _ = draw(trained, frozen_teacher(config), 16, 0)
    assert torch.equal(images, generate_for_run(run, n=16, seed=0, with_stats=False).images)


def test_generated_report_writes_grid_histogram_and_markdown(dafl_experiment, tmp_path):
    experiment, _, config, last = dafl_experiment
    rows = [dafl_row("dafl0", config, last), dafl_row("gone1", config, last, seed=4, **{"param.rowkey": "other"}),
            {"trial_id": "kd0", "status": "ok", "method": "kd", "seed": 0}]
    assert uses_dafl(rows) and not uses_dafl(rows[2:])
    text, written = generated_report(experiment, rows, str(tmp_path), row_key="rowkey", metric="val_acc.net0",
                                     samples=128)
    names = sorted(os.path.basename(p) for p in written)
    # seed 003's figures too: class means beside the real test means, and the first conv filters
    assert names == ["first_conv_dafl.png", "generated.md", "generated_grid_dafl.png", "generated_histogram_dafl.png",
                     "generated_means_dafl.png"]
    for path in written:
        assert os.path.getsize(path) > 0
        assert path.endswith(".md") or png(path)
    lines = [line for line in text.splitlines() if line.startswith("| dafl | dafl0 |")]
    assert len(lines) == 1
    l1, confidence = (float(x) for x in lines[0].split("|")[5:7])
    assert 0.0 <= l1 <= 1.8 and 0.1 <= confidence <= 1.0
    assert "- other (trial gone1): skipped, no checkpoint in" in text   # a missing checkpoint: one line
    assert open(os.path.join(str(tmp_path), "generated.md")).read() == text


def test_pick_trials_best_per_group_then_lowest_seed():
    rows = [{"trial_id": "a", "method": "dafl", "status": "ok", "seed": 1, "param.row": "DAFL", "m": 50.0},
            {"trial_id": "b", "method": "dafl", "status": "ok", "seed": 0, "param.row": "DAFL", "m": 70.0},
            {"trial_id": "c", "method": "dafl", "status": "ok", "seed": 2, "param.row": "DAFL", "m": 70.0},
            {"trial_id": "d", "method": "dafl", "status": "failed", "seed": 0, "param.row": "noise"},
            {"trial_id": "e", "method": "dafl", "status": "ok", "seed": 1, "param.row": "normal noise"},
            {"trial_id": "f", "method": "dafl", "status": "ok", "seed": 0, "param.row": "normal noise"},
            {"trial_id": "g", "method": "kd", "status": "ok", "seed": 0, "param.row": "KD", "m": 99.0}]
    picked = [(name, r["trial_id"]) for name, r in pick_trials(rows, "row", None, "m", "max")]
    assert picked == [("DAFL", "b"), ("normal-noise", "f")]
    assert [r["trial_id"] for _, r in pick_trials(rows, "row", None, "m", "min")][0] == "a"


def write_experiment(folder, rows, kind, sweep):
    write_rows(os.path.join(folder, "trials.parquet"), rows)
    with open(os.path.join(folder, "experiment.yaml"), "w") as fh:
        yaml.safe_dump({"kind": kind, "sweep": sweep, "preset": "smoke", "base": json.loads(rows[0]["config_json"])},
                       fh)


@pytest.mark.parametrize("kind", ["ablation", "sweep"])
def test_report_hook_writes_generated_files(dafl_experiment, tmp_path, kind):
    """platform.report on a trials table with one DAFL row pointing at the run (a table report for an
    ablation, a search report for a sweep) writes the generated images into EXPERIMENT/report/. The
    ablation's trial folder is laid out as Tune leaves it (persisted checkpoint_NNNNNN folders, no run/)."""
    import shutil

    experiment, run, config, last = dafl_experiment
    if kind == "ablation":
        for epoch in (0, 1):   # the newest is read: the older one here is not even a checkpoint
            folder = tmp_path / "tune" / "trial_dafl0" / f"checkpoint_00000{epoch}"
            folder.mkdir(parents=True)
            if epoch == 0:
                (folder / "checkpoint.pt").write_bytes(b"not a checkpoint")
            else:
                shutil.copy(os.path.join(run, "checkpoint", "checkpoint.pt"), str(folder / "checkpoint.pt"))
    else:
        shutil.copytree(os.path.join(experiment, "tune"), str(tmp_path / "tune"))
    row = dafl_row("dafl0", config, last, **{"param.method.disc_structure": "128fc-256fc-128fc"})
    write_experiment(str(tmp_path), [row], kind, "tadml_disc")
    text, written = report_experiment(str(tmp_path))
    report = tmp_path / "report"
    label = "128fc-256fc-128fc" if kind == "ablation" else "dafl"
    # a table report holds the section in table.md (the images beside the numbers); a search in generated.md
    markdown = "table.md" if kind == "ablation" else "generated.md"
    assert (kind == "ablation") != (report / "generated.md").exists()
    assert "What the DAFL generators make" in (report / markdown).read_text()
    for name in (markdown, f"generated_grid_{label}.png", f"generated_histogram_{label}.png",
                 f"generated_means_{label}.png", f"first_conv_{label}.png"):
        assert str(report / name) in written
        assert (report / name).stat().st_size > 0
    assert "| dafl0 |" in text and "What the DAFL generators make" in text


def test_class_means_are_the_per_class_averages():
    """Independent of the implementation: numpy's mean over each class's images, None for an empty class."""
    from platform.dafl_figures import class_mean_images

    rng = np.random.default_rng(0)
    images = rng.normal(size=(7, 3, 4, 5))
    classes = np.array([0, 2, 0, 2, 2, 0, 0])
    means = class_mean_images(torch.from_numpy(images), torch.from_numpy(classes), 3)
    assert means[1] is None
    for c in (0, 2):
        by_hand = sum(images[i] for i in range(7) if classes[i] == c) / int((classes == c).sum())
        assert means[c].shape == (4, 5, 3) and np.allclose(means[c], by_hand.transpose(1, 2, 0), atol=0, rtol=1e-12)


def test_first_conv_filters_of_teacher_and_student_are_drawn_from_their_weights(dafl_experiment):
    """The filters come from the checkpoint's student and the frozen teacher, not fresh networks;
    a tile puts weight 0 at grey 0.5 and the filter's largest |weight| at 0 or 1."""
    from distill.generated_samples import frozen_teacher, read_config, run_files
    from platform.dafl_figures import filter_tiles, first_conv_weight
    from platform.generated_report import _first_conv_weights

    _, run, _, _ = dafl_experiment
    config_path, checkpoint = run_files(run)
    config = read_config(config_path)
    weights = dict(_first_conv_weights(config, checkpoint))
    teacher = weights[f"teacher {config.teacher.arch}"]
    assert torch.equal(teacher, first_conv_weight(frozen_teacher(config)))
    student = weights[f"student net0 {config.networks[0].arch}"]
    saved = torch.load(os.path.join(checkpoint, "checkpoint.pt") if os.path.isdir(checkpoint) else checkpoint,
                       weights_only=False)["networks"]["net0"]
    first = next(k for k in saved if k.endswith("weight") and saved[k].dim() == 4)
    assert torch.equal(student, saved[first].float())
    tiles = filter_tiles(student)
    assert len(tiles) == student.shape[0]
    w = student[0].double().numpy().mean(axis=0)
    assert np.allclose(tiles[0][:, :, 0], 0.5 + 0.5 * w / np.abs(w).max())
    assert min(t.min() for t in tiles) >= 0.0 and max(t.max() for t in tiles) <= 1.0
