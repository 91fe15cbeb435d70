"""``python -m platform.evidence [FAMILY ...] [--size smoke|full] [--storage DIR] [--resume]``

Evidence that each method family works, on real data, produced by the platform on itself.
For every family (``platform/evidence_families.py``; all when none is named):

1. **tune**: the family sweep's ``evidence_tune`` preset, an equal-budget random search per
   table row (the method's own weight and temperature, and the learning rate; the baseline
   the learning rate alone) at a shortened schedule, selected on the validation split;
2. **select**: each row's best draw by its validation metric (never the test split), written
   as ``table_sweep.yaml``: the sweep with those values merged into the ``evidence`` preset's
   rows (``selected.yaml`` lists them);
3. **table**: that sweep's ``evidence`` preset as an ablation over the seeds;
4. **report**: ``evidence.md`` per family (mean, std and 95% interval per row, the difference
   from the baseline with its interval, Holm-corrected marks, what the papers claim and the
   measured verdicts) and ``STORAGE/evidence.md`` for all families.

Every step is a normal experiment folder under ``STORAGE/<family>/``; ``--resume`` continues
whichever step a killed run left. All configs are validated before any Ray work."""
import argparse
import copy
import json
import math
import os
import sys
import time
from collections import defaultdict
from types import SimpleNamespace
from typing import Dict

from distill.atomic_write import atomic_write, write_yaml
from distill.cli_errors import exit_on_config_error
from distill.errors import ConfigError, unknown_name
from platform.evidence_families import FAMILIES, SIZES, TABLE_PRESET, TUNE_PRESET
from platform.ray_session import driver_environment

PROG = "python -m platform.evidence"
TUNE_RECIPE_NAME, TUNE_NAME, TABLE_NAME = "tune-recipe", "tune", "table"
TUNE_RECIPE_SWEEP, TUNE_SWEEP, TABLE_SWEEP = "tune_recipe_sweep.yaml", "tune_sweep.yaml", "table_sweep.yaml"
SELECTED, TIMING = "selected.yaml", "timing.json"


def step_args(args, family_dir: str, sweep: str, preset: str, name: str, resume: bool):
    """What ``prepare``/``launch`` read from a command line, for one step of one family."""
    return SimpleNamespace(
        name=sweep, preset=preset, resume=resume, experiment_name=name, address=args.address,
        storage=family_dir, set=list(SIZES[args.size].set) + ([f"data.root={args.data_root}"] if args.data_root else []),
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial, optuna_storage=None, max_failures=0, retry_failed=False,
        num_cpus=args.num_cpus, teacher_store=os.path.join(os.path.abspath(args.storage), "teachers"), trials=None)


def tune_sweep(family, size: str) -> dict:
    """The family sweep with the size's draws per row."""
    from search_spaces.sweep_spec import merged_sweep

    merged = merged_sweep(family.sweep)
    draws = SIZES[size].draws
    if draws:
        merged["presets"][family.tune_preset]["row_search"]["draws"] = draws
    return merged


def validate(args, families) -> None:
    """Every family's tuning and (untuned) table configs through the engine's validation."""
    from platform.experiment_run import validated_base
    from search_spaces.sweep_spec import SweepSpec
    from distill.typed_dict import from_dict

    for family in families:
        spec = from_dict(SweepSpec, tune_sweep(family, args.size))
        for preset, seeds in ((family.tune_preset, None), (family.table_preset, [0])):
            if preset not in spec.presets:
                raise ConfigError("FAMILY", f"sweep {family.sweep} has no {preset} preset (family {family.name})")
        search = spec.preset(family.tune_preset).row_search
        if search is None or search.recipe_row is None:
            raise ConfigError(f"presets.{family.tune_preset}.row_search.recipe_row",
                              f"sweep {family.sweep} must name the row that tunes the recipe (its baseline)")
        for preset, seeds in ((family.tune_preset, None), (family.table_preset, [0])):
            validated_base(step_args(args, args.storage, family.sweep, preset, "", False), spec, seeds)


def run_step(args, family_dir: str, sweep_file: str, preset: str, name: str, seeds=None) -> str:
    """Run (or resume) one experiment of a family; -> its folder."""
    from platform.experiment_dir import META_FILE
    from platform.experiment_run import launch, prepare

    folder = os.path.join(family_dir, name)
    resume = os.path.isfile(os.path.join(folder, META_FILE))
    if resume and not args.resume:
        raise ConfigError("--resume", f"{folder} exists; add --resume to continue it")
    step = step_args(args, family_dir, sweep_file, preset, name, resume)
    spec, experiment_dir, meta = prepare(step, kind="sweep" if seeds is None else "ablation", seeds=seeds)
    launch(step, spec, experiment_dir, meta)
    return experiment_dir


def best_draws(records, axis: str, metric: str, mode: str) -> Dict[str, dict]:
    """Row label -> {draw, validation, metric}: the draw of the row with the best mean ``metric``
    over its finished trials (failed ones never count)."""
    from platform.ablation_table import axis_value
    from search_spaces.grid import DRAW_LABEL, LABEL_PREFIX

    sign = 1.0 if mode == "max" else -1.0
    scores = defaultdict(list)
    for row in records:
        value = row.get(metric)
        label, draw = axis_value(row, axis), axis_value(row, DRAW_LABEL[len(LABEL_PREFIX):])
        if row["status"] == "ok" and value is not None and not math.isnan(value) and label is not None:
            scores[(str(label), int(draw))].append(float(value))
    chosen: Dict[str, dict] = {}
    for (label, draw), values in sorted(scores.items()):
        mean = sum(values) / len(values)
        if label not in chosen or sign * mean > sign * chosen[label]["validation"]:
            chosen[label] = {"draw": draw, "validation": mean, "metric": metric}
    return chosen


def select_rows(tune_dir: str) -> Dict[str, dict]:
    """Per row run in the tuning experiment: its best draw by the validation metric, with the
    values that draw set."""
    from platform.experiment_dir import read_meta
    from platform.trial_records import TRIALS_FILE, read_rows
    from search_spaces import load_sweep
    from search_spaces.grid import row_draws

    meta = read_meta(tune_dir)
    spec = load_sweep(meta["sweep_file"])
    search = spec.preset(meta["preset"]).row_search
    chosen = best_draws(read_rows(os.path.join(tune_dir, TRIALS_FILE)), search.axis, meta["metric"], meta["mode"])
    for label, pick in chosen.items():
        pick["values"] = row_draws(search, label, spec.seed, meta.get("fixed") or [])[pick["draw"]]
    rows = [str(r) for r in spec.variants_for(meta["preset"])[search.axis]]
    missing = [r for r in rows if r not in chosen]
    if missing:
        raise ConfigError("tune", f"{tune_dir}: no finished tuning trial for row(s) {', '.join(missing)}; "
                                  "rerun with --resume (failed trials are listed in its trials.parquet)")
    return {"axis": search.axis, "rows": chosen}


def restricted(merged: dict, axis: str, rows, set_values=None, common=True, tune_preset: str = TUNE_PRESET) -> dict:
    """The tuning sweep with only ``rows`` on ``axis``, ``set_values`` added to the preset's ``set``
    and, with ``common=False``, the shared space dropped (rows search their own spaces only)."""
    from distill.typed_dict import from_dict
    from search_spaces.sweep_spec import SweepSpec

    out = copy.deepcopy(merged)
    axes = from_dict(SweepSpec, copy.deepcopy(merged)).variants_for(tune_preset)
    preset = out["presets"][tune_preset]
    preset["variants"] = {name: ({r: v for r, v in rows_.items() if str(r) in rows} if name == axis else rows_)
                          for name, rows_ in axes.items()}
    preset.pop("variant_overrides", None)   # already merged into the rows above
    preset["set"] = {**(preset.get("set") or {}), **(set_values or {})}
    search = preset["row_search"]
    search["rows"] = {r: v for r, v in (search.get("rows") or {}).items() if str(r) in rows}
    search["inherit"] = {}                          # inheriting rows are not run while tuning
    if str(search.get("recipe_row")) not in rows:
        search["recipe_row"] = None
    if not common:
        search["common"] = {}
    return out


def table_sweep(tuned: dict, selected: dict, table_preset: str = TABLE_PRESET) -> dict:
    """The sweep the table runs: the ``evidence`` preset with the recipe row's selected values for
    every row (``set``) and each row's own selected values; a row that inherits another's selection
    keeps the keys it sets itself (an ablation's zero weights)."""
    from distill.typed_dict import from_dict
    from search_spaces.sweep_spec import SweepSpec

    merged = copy.deepcopy(tuned)
    own = from_dict(SweepSpec, copy.deepcopy(merged)).variants_for(table_preset)[selected["axis"]]
    preset = merged["presets"][table_preset]
    preset["set"] = {**(preset.get("set") or {}), **selected.get("recipe", {}).get("values", {})}
    overrides = preset.setdefault("variant_overrides", {}).setdefault(selected["axis"], {})
    for label, pick in selected["rows"].items():
        values = pick.get("values") or {}
        if "inherits" in pick:
            values = {k: v for k, v in values.items() if k not in (own.get(label) or {})}
        if values:
            overrides[label] = {**(overrides.get(label) or {}), **values}
    return merged


def add_time(family_dir: str, step: str, seconds: float) -> Dict[str, float]:
    path = os.path.join(family_dir, TIMING)
    timing = json.load(open(path)) if os.path.isfile(path) else {}
    timing[step] = timing.get(step, 0.0) + seconds
    atomic_write(path, lambda fh: fh.write(json.dumps(timing, indent=1)))
    return timing


def timed_step(args, family_dir, merged: dict, file_name: str, preset: str, name: str, seeds=None) -> str:
    path = os.path.join(family_dir, file_name)
    if not os.path.isfile(path):   # a resume runs what was written the first time
        write_yaml(path, merged)
    start = time.time()
    folder = run_step(args, family_dir, path, preset, name, seeds)
    add_time(family_dir, "table_seconds" if seeds is not None else "tune_seconds", time.time() - start)
    return folder


def tune(args, family, family_dir: str):
    """Phase 1, the recipe row's draws over the shared space (its learning rate); phase 2, every
    other row with a space of its own, its draws at the recipe's values. -> (selected, tune folders)."""
    from distill.typed_dict import from_dict
    from search_spaces.sweep_spec import SweepSpec

    merged = tune_sweep(family, args.size)
    spec = from_dict(SweepSpec, copy.deepcopy(merged))
    preset = family.tune_preset
    search = spec.preset(preset).row_search
    rows = [str(r) for r in spec.variants_for(preset)[search.axis]]
    recipe_row = str(search.recipe_row)
    print(f"== {family.name}: tuning the recipe on {recipe_row} ({family.sweep}, preset {preset})", flush=True)
    first = timed_step(args, family_dir, restricted(merged, search.axis, [recipe_row], tune_preset=preset),
                       TUNE_RECIPE_SWEEP, preset, TUNE_RECIPE_NAME)
    recipe = select_rows(first)["rows"][recipe_row]
    searched = [r for r in rows if r != recipe_row and r not in search.inherit and search.rows.get(r)]
    chosen: Dict[str, dict] = {recipe_row: dict(recipe, values={})}
    folders = [first]
    if searched:
        print(f"== {family.name}: tuning {len(searched)} rows at the recipe", flush=True)
        second = timed_step(args, family_dir, restricted(merged, search.axis, searched, recipe["values"], common=False,
                                                         tune_preset=preset), TUNE_SWEEP, preset, TUNE_NAME)
        chosen.update(select_rows(second)["rows"])
        folders.append(second)
    for row in rows:
        if row in search.inherit:
            chosen[row] = {"inherits": search.inherit[row], "values": dict(chosen[search.inherit[row]]["values"])}
        chosen.setdefault(row, {"values": {}})   # nothing of its own to search: the recipe alone
    selected = {"axis": search.axis, "recipe": {"row": recipe_row, "values": recipe["values"]},
                "budget": {"draws": search.draws, "common": sorted(search.common),
                           "rows": {r: sorted(v) for r, v in search.rows.items() if v}, "inherit": dict(search.inherit)},
                "rows": chosen}
    return merged, selected, folders


def run_family(args, family) -> str:
    from platform.evidence_report import family_report

    family_dir = os.path.join(os.path.abspath(args.storage), family.name)
    os.makedirs(family_dir, exist_ok=True)
    merged, selected, tune_dirs = tune(args, family, family_dir)
    write_yaml(os.path.join(family_dir, SELECTED), selected)
    seeds = list(range(SIZES[args.size].seeds))
    print(f"== {family.name}: table ({len(seeds)} seeds, preset {family.table_preset})", flush=True)
    table_dir = timed_step(args, family_dir, table_sweep(merged, selected, family.table_preset), TABLE_SWEEP,
                           family.table_preset, TABLE_NAME, seeds)
    timing = json.load(open(os.path.join(family_dir, TIMING)))
    path = family_report(family, family_dir, tune_dirs, table_dir, selected, timing, args.size)
    print(f"wrote {path}", flush=True)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[2])
    parser.add_argument("families", nargs="*", help=f"any of {', '.join(FAMILIES)} (default: all)")
    parser.add_argument("--size", default="full", help=f"{' or '.join(SIZES)} (default full)")
    parser.add_argument("--storage", default="evidence", help="folder for everything (default ./evidence)")
    parser.add_argument("--resume", action="store_true", help="continue the steps a killed run left")
    parser.add_argument("--data-root", help="the folder of the Fashion-MNIST IDX files (default: Debian's "
                                            "/usr/share/datasets/fashion-mnist, then ~/.cache/distill/FashionMNIST/raw)")
    parser.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray)")
    parser.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    parser.add_argument("--cpus-per-trial", type=float, help="default: the sweep's, else 1")
    parser.add_argument("--gpus-per-trial", type=float, help="default: from the networks' size on a GPU cluster")
    args = parser.parse_args(argv)
    driver_environment(args.address)   # before anything imports Ray
    with exit_on_config_error(PROG):
        if args.size not in SIZES:
            raise unknown_name("--size", args.size, SIZES)
        for name in args.families:
            if name not in FAMILIES:
                raise unknown_name("FAMILY", name, FAMILIES)
        families = [FAMILIES[n] for n in (args.families or FAMILIES)]
        validate(args, families)
        from platform.evidence_report import index_report

        for family in families:
            run_family(args, family)
        print(f"wrote {index_report(os.path.abspath(args.storage), args.size)}")
    sys.exit(0)


if __name__ == "__main__":
    from platform.command_exit import run_then_exit

    run_then_exit(main)
