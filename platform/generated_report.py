"""What the DAFL trials of an experiment generate, for its report: per (table row, table
column) group of ``dafl`` trials, the best one by the sweep's metric (lowest seed on a
tie or without the metric) draws a fixed-seed batch (``distill/generated_samples.py``) and
the report gets

- ``generated_grid_<label>.png``: up to 8 images per teacher class, one row per class,
  the class's count in its label;
- ``generated_histogram_<label>.png``: the batch's class histogram, the uniform level marked;
- ``generated_means_<label>.png`` and ``first_conv_<label>.png``: seed 003's figures (the mean
  generated image per class beside the mean real test image, the first convolution's filters of
  teacher and student), drawn by ``dafl_figures.py``;
- ``generated.md``: per trial, the histogram's L1 distance to uniform and the teacher's
  mean confidence.

A trial whose run folder or checkpoint is gone gets one line in ``generated.md``, never a crash.
Plots use a bare ``Figure`` on the Agg canvas, as ``ablation_plot.py`` does."""
import glob
import math
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from distill.errors import ConfigError

DAFL_METHOD = "dafl"
PER_CLASS = 8
REPORT_FILE = "generated.md"
RUN_SUBDIR = "run"   # trainables/distill_trainable.py: the trainer's output_dir inside the trial folder
COUNTED = ("ok", "early-stopped")   # a failed trial may have no usable checkpoint


def uses_dafl(rows: Sequence[Dict[str, Any]]) -> bool:
    return any(r.get("method") == DAFL_METHOD for r in rows)


def _label(value: Any) -> str:
    from platform.ablation_table import label

    return label(value)


def pick_trials(rows: Sequence[Dict[str, Any]], row_key: Optional[str], column_key: Optional[str],
                metric: Optional[str], mode: str = "max") -> List[Tuple[str, Dict[str, Any]]]:
    """(label, row) per (row, column) group of finished DAFL trials, in first-seen order: the group's
    best trial by ``metric`` (``mode``), the lowest seed among equals or when no trial reports it."""
    from platform.ablation_table import axis_value

    groups: Dict[Tuple[str, ...], List[Dict[str, Any]]] = {}
    for record in rows:
        if record.get("method") != DAFL_METHOD or record.get("status") not in COUNTED:
            continue
        values = [axis_value(record, k) for k in (row_key, column_key) if k]
        key = tuple(_label(v) for v in values if v is not None)   # a trial off the table's axes: "dafl"
        groups.setdefault(key or (DAFL_METHOD,), []).append(record)
    sign = -1.0 if mode == "max" else 1.0

    def rank(record):
        value = record.get(metric) if metric else None
        value = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        seed = record.get("seed")
        return (value is None, sign * value if value is not None else 0.0, seed if seed is not None else math.inf,
                str(record.get("trial_id")))

    picked, used = [], set()
    for key, members in groups.items():
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(key)).strip("-") or DAFL_METHOD
        while name in used:   # two labels that differ only in characters a file name drops
            name += "_"
        used.add(name)
        picked.append((name, min(members, key=rank)))
    return picked


def trial_checkpoint(experiment_dir: str, record: Dict[str, Any]) -> Tuple[Optional[dict], Optional[str], str]:
    """(resolved config dict, checkpoint file, "") for a trial, or (None, None, why not).

    Tune persists each epoch's checkpoint as ``tune/trial_<id>/checkpoint_NNNNNN/`` (the newest is
    taken, with the row's resolved config); the trainer's own ``run/`` folder (config.yaml and
    checkpoint/) lies in Ray's session directory, not there, but is read first where it is (a
    trial folder laid out by hand, or a run trained beside the experiment)."""
    import json

    import yaml

    from distill.checkpoint import CHECKPOINT_FILE
    from distill.trainer import CONFIG_FILE
    from platform.experiment_dir import TUNE_NAME
    from platform.trial_records import RESOLVED_CONFIG_FILE

    # platform/tuner_factory.py trial_dirname: "trial_<id>"
    trial_dir = os.path.join(experiment_dir, TUNE_NAME, f"trial_{record.get('trial_id')}")
    run_dir = os.path.join(trial_dir, RUN_SUBDIR)
    own = os.path.join(run_dir, "checkpoint", CHECKPOINT_FILE)
    if os.path.isfile(own) and os.path.isfile(os.path.join(run_dir, CONFIG_FILE)):
        with open(os.path.join(run_dir, CONFIG_FILE)) as fh:
            return yaml.safe_load(fh), own, ""
    persisted = sorted(glob.glob(os.path.join(glob.escape(trial_dir), "checkpoint_*", CHECKPOINT_FILE)))
    if not persisted:
        return None, None, f"no checkpoint in {trial_dir}"
    if record.get("config_json"):
        return json.loads(record["config_json"]), persisted[-1], ""
    resolved = os.path.join(trial_dir, RESOLVED_CONFIG_FILE)
    if os.path.isfile(resolved):
        with open(resolved) as fh:
            return yaml.safe_load(fh), persisted[-1], ""
    return None, None, f"no resolved config for {trial_dir} (config_json or {RESOLVED_CONFIG_FILE})"


def _splits_or_none(config):
    """The run's splits (its normalisation and its real test images), None where the data set
    is not on this machine: the batch is then shown in its own range, with no real means."""
    from distill.data import load_splits

    try:
        return load_splits(config.data)
    except (ConfigError, OSError) as err:
        print(f"generated images: no data set to compare with ({err}); showing each batch's own range")
        return None


def _first_conv_weights(config, checkpoint: str) -> List[Tuple[str, Any]]:
    """(name, first-conv weight) of the frozen teacher and of each trained network."""
    from distill.checkpoint import CHECKPOINT_FILE, read_checkpoint
    from distill.data import DATA_INFO
    from distill.generated_samples import frozen_teacher
    from distill.models import build_model

    from platform.dafl_figures import first_conv_weight

    info = DATA_INFO.get(config.data.name, "data.name")
    state = read_checkpoint(checkpoint if not os.path.isdir(checkpoint)
                            else os.path.join(checkpoint, CHECKPOINT_FILE), "checkpoint")
    models = [(f"teacher {config.teacher.arch}", frozen_teacher(config))]
    for net in config.networks:
        model = build_model(net.arch, info.num_classes, info.in_channels)
        # the full-precision weights a quantized student keeps are its first layer's shadow weights
        model.load_state_dict(state["networks"][net.name], strict=not net.quantize)
        models.append((f"student {net.name} {net.arch}", model))
    return [(name, w) for name, w in ((n, first_conv_weight(m)) for n, m in models) if w is not None]


def dafl_figures(config, checkpoint: str, batch, splits, out_dir: str, name: str, title: str) -> List[str]:
    """Seed 003's figures for one trial: class means (generated beside real) and first-conv filters."""
    from distill.data import DATA_INFO

    from platform.dafl_figures import class_mean_images, plot_class_means, plot_first_conv

    written = []
    if splits is not None:
        names = DATA_INFO.get(config.data.name).class_names or [str(c) for c in range(batch.num_classes)]
        generated = class_mean_images(batch.display_images(), batch.classes, batch.num_classes)
        real = class_mean_images(splits.test.images.float() / 255.0, splits.test.labels, batch.num_classes)
        written.append(plot_class_means(generated, real, names, os.path.join(out_dir, f"generated_means_{name}.png"),
                                        f"{title}\nmean image per class: generated (top), real test (bottom)"))
    weights = _first_conv_weights(config, checkpoint)
    if weights:
        written.append(plot_first_conv(weights, os.path.join(out_dir, f"first_conv_{name}.png"),
                                       f"{title}\nfirst convolution's filters"))
    return written


def plot_grid(batch, path: str, title: str, per_class: int = PER_CLASS) -> str:
    """One row per teacher class: its first ``per_class`` images in draw order, its count beside it."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = batch.display_images().numpy()   # (N, C, H, W) in [0, 1]
    n, channels, height, width = images.shape
    counts = batch.histogram().tolist()
    gap = 2
    mosaic = np.ones((batch.num_classes * (height + gap) - gap, per_class * (width + gap) - gap, 3))
    classes = batch.classes.numpy()
    for c in range(batch.num_classes):
        for k, index in enumerate(np.flatnonzero(classes == c)[:per_class]):
            tile = images[index].transpose(1, 2, 0)
            tile = np.repeat(tile, 3, axis=2) if channels == 1 else tile[:, :, :3]
            y, x = c * (height + gap), k * (width + gap)
            mosaic[y:y + height, x:x + width] = tile
    fig = Figure(figsize=(1.5 + 0.5 * per_class, 1.0 + 0.5 * batch.num_classes), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_yticks([c * (height + gap) + height / 2 for c in range(batch.num_classes)])
    ax.set_yticklabels([f"{c} ({counts[c]})" for c in range(batch.num_classes)], fontsize=7)
    ax.set_xticks([])
    ax.set_ylabel("teacher's class (images of the batch)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def plot_histogram(batch, path: str, title: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = batch.histogram().tolist()
    uniform = len(batch.classes) / batch.num_classes
    fig = Figure(figsize=(max(5.0, 0.12 * batch.num_classes + 2), 3.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(range(batch.num_classes), counts, color="C0")
    ax.axhline(uniform, color="black", linestyle="--", linewidth=1, label=f"uniform ({uniform:.1f})")
    ax.set_xlabel("teacher's class")
    ax.set_ylabel("images")
    if batch.num_classes <= 20:
        ax.set_xticks(range(batch.num_classes))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def generated_report(experiment_dir: str, rows: Sequence[Dict[str, Any]], out_dir: str,
                     row_key: Optional[str] = None, column_key: Optional[str] = None,
                     metric: Optional[str] = None, mode: str = "max", samples: Optional[int] = None,
                     seed: Optional[int] = None, device: str = "auto",
                     report_file: Optional[str] = REPORT_FILE) -> Tuple[str, List[str]]:
    """Write the grids, histograms and ``report_file`` (None: the caller places the markdown, e.g.
    under the paper table in ``table.md``) into ``out_dir``; returns (markdown, paths).
    ``device`` ``auto``: a GPU when the reporting machine has one (a CIFAR teacher on 512 images
    per group is slow on a few CPU cores)."""
    from distill.atomic_write import atomic_write
    from distill.config import config_from_dict
    from distill.generated_samples import DEFAULT_SAMPLES, DEFAULT_SEED, generated_batch

    samples = DEFAULT_SAMPLES if samples is None else samples
    seed = DEFAULT_SEED if seed is None else seed
    os.makedirs(out_dir, exist_ok=True)
    lines = [f"# What the DAFL generators make ({samples} images each, noise seed {seed}, eval mode)", "",
             "Best trial per group" + (f" by {metric} ({mode})" if metric else "") + "; classes are the teacher's "
             "argmax. L1 to uniform: sum over classes of |share - 1/K| (0 is balanced).", "",
             "| group | trial | seed | inputs | L1 to uniform | teacher's mean confidence | classes hit | images |",
             "|---|---|---|---|---|---|---|---|"]
    skipped, written = [], []
    for name, record in pick_trials(rows, row_key, column_key, metric, mode):
        trial = record.get("trial_id")
        raw, checkpoint, why = trial_checkpoint(experiment_dir, record)
        if raw is None:
            skipped.append(f"- {name} (trial {trial}): skipped, {why}")
            continue
        try:
            config = config_from_dict(raw)
            splits = _splits_or_none(config)
            stats = None if splits is None else (tuple(splits.mean), tuple(splits.std))
            batch = generated_batch(config, checkpoint, samples, seed, device, stats)
            figures = dafl_figures(config, checkpoint, batch, splits, out_dir, name,
                                   f"{name} (trial {trial}, seed {record.get('seed')})")
        except (ConfigError, OSError, KeyError, RuntimeError, ValueError) as err:   # a stale or foreign checkpoint
            skipped.append(f"- {name} (trial {trial}): skipped, {type(err).__name__}: {str(err).splitlines()[0]}")
            continue
        l1, confidence = batch.l1_to_uniform(), batch.mean_confidence()
        hit = int((batch.histogram() > 0).sum())
        title = f"{name} (trial {trial}, seed {record.get('seed')}): L1 to uniform {l1:.3f}, confidence {confidence:.3f}"
        grid = plot_grid(batch, os.path.join(out_dir, f"generated_grid_{name}.png"), title)
        histogram = plot_histogram(batch, os.path.join(out_dir, f"generated_histogram_{name}.png"), title)
        written += [grid, histogram] + figures
        links = [f"[{kind}]({os.path.basename(path)})" for kind, path in
                 zip(("grid", "histogram"), (grid, histogram))]
        links += [f"[{'class means' if 'means' in os.path.basename(p) else 'first conv'}]({os.path.basename(p)})"
                  for p in figures]
        lines.append(f"| {name} | {trial} | {record.get('seed')} | {config.method.params.inputs} | {l1:.3f} | "
                     f"{confidence:.3f} | {hit}/{batch.num_classes} | {', '.join(links)} |")
    if skipped:
        lines += ["", *skipped]
    text = "\n".join(lines) + "\n"
    for line in skipped:
        print(f"generated images: {line[2:]}")
    if report_file is None:
        return text, written
    path = os.path.join(out_dir, report_file)
    atomic_write(path, lambda fh: fh.write(text))
    return text, [path] + written


__all__ = ["generated_report", "pick_trials", "plot_grid", "plot_histogram", "trial_checkpoint", "uses_dafl"]
