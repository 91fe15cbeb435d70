"""One experiment folder per sweep run:

    <storage>/<sweep>-<preset>-<timestamp>/
        experiment.yaml   what was asked (sweep, preset, overrides, resolved base) - for --resume
        tune/             the Ray Tune experiment (resumable)
        optuna.journal    the Optuna study (JournalStorage)
        trials.parquet    one row per finished trial
        best_config.yaml  the best trial's fully resolved config
        (teachers live in the shared store <storage>/teachers/, see platform/teacher_store.py)
"""
import glob
import os
import time
from typing import Optional

import yaml

from distill.atomic_write import write_yaml
from distill.errors import ConfigError

META_FILE = "experiment.yaml"
TUNE_NAME = "tune"
OPTUNA_FILE = "optuna.journal"
BEST_CONFIG_FILE = "best_config.yaml"


def new_experiment_dir(storage: str, sweep: str, preset: str, name: Optional[str] = None, kind: str = "sweep") -> str:
    tag = "" if kind == "sweep" else f"-{kind}"
    name = name or f"{sweep}-{preset}{tag}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = os.path.join(os.path.abspath(storage), name)
    if os.path.exists(os.path.join(path, META_FILE)):
        raise ConfigError("--name", f"experiment {path} exists; add --resume to continue it")
    os.makedirs(path, exist_ok=True)
    return path


def find_experiment_dir(storage: str, sweep: str, preset: str, name: Optional[str] = None, kind: str = "sweep") -> str:
    """The named experiment, or the newest one of this sweep, preset and kind (sweep or ablation)."""
    if name:
        path = os.path.join(os.path.abspath(storage), name)
        candidates = [path] if os.path.exists(os.path.join(path, META_FILE)) else []
    else:
        pattern = os.path.join(os.path.abspath(storage), f"{sweep}-{preset}-*", META_FILE)
        candidates = sorted(os.path.dirname(p) for p in glob.glob(pattern))
        candidates = [c for c in candidates if read_meta(c).get("kind", "sweep") == kind]
    if not candidates:
        raise ConfigError("--resume", f"no experiment ({kind}) of sweep {sweep!r} preset {preset!r} under {storage} to resume")
    return candidates[-1]


def write_meta(experiment_dir: str, meta: dict) -> None:
    write_yaml(os.path.join(experiment_dir, META_FILE), meta)


def read_meta(experiment_dir: str) -> dict:
    path = os.path.join(experiment_dir, META_FILE)
    if not os.path.isfile(path):
        raise ConfigError("EXPERIMENT", f"{experiment_dir} is not an experiment folder (no {META_FILE})")
    with open(path) as fh:
        return yaml.safe_load(fh)
