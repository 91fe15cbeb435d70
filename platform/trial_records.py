"""``trials.parquet``: one row per finished trial (SPEC section 6), rewritten
atomically (temp file + rename) each time a trial finishes, so a reader never
sees half a file and a killed driver loses nothing already written."""
import json
import math
import os
from typing import Any, Dict, List, Optional

import pyarrow as pa
import pyarrow.parquet as pq
from ray import tune

from distill.atomic_write import atomic_write, write_yaml
from distill.config import set_dotted
from distill.evaluators.retrieval import KINDS as RETRIEVAL_KINDS
from trainables.distill_trainable import TIME_PREFIX
from trainables.trial_config import RECORD_ONLY_PREFIX, resolve_trial_config, searched_params

TRIALS_FILE = "trials.parquet"
RESOLVED_CONFIG_FILE = "resolved_config.yaml"
STATUS_OK, STATUS_FAILED, STATUS_EARLY = "ok", "failed", "early-stopped"
PLACEMENT_KEYS = ("node_id", "cuda_visible_devices", "worker_pid", "started_at", "resumed_from_epoch",
                  "oom_retried_batch_size", "worker_nodes", "rank_pids")
# classification's columns, then every retrieval metric (``val_map.net0``, ``best_val_rank1.concat``, ...)
_SCALAR_PREFIXES = ("val_acc.", "best_val_acc.", "val_loss.", "test_acc.", "params.", "bits.") + tuple(
    f"{split}{kind}." for kind in RETRIEVAL_KINDS + ("agreement",) for split in ("val_", "best_val_", "test_"))
# ``agreement``: DAFL's data-free score (distill/evaluators/data_free.py)


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dotted_value(config: Dict[str, Any], key: str):
    """The value at ``networks.1.arch`` style ``key`` of a resolved config; None where it is absent."""
    node: Any = config
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def what_trained(resolved: Dict[str, Any]) -> Dict[str, str]:
    """The networks, teacher and data of a trial as trained, in plain columns."""
    teacher = resolved.get("teacher")
    return {"networks": ", ".join(f"{n['name']}:{n['arch']}" for n in resolved["networks"]),
            "teacher": teacher["arch"] if teacher else "none",
            "data": resolved["data"]["name"]}


def trial_row(trial_id: str, trial_config: Dict[str, Any], last: Optional[Dict[str, Any]], error: str = "") -> Dict[str, Any]:
    """One row from a trial's config and its last reported result."""
    last = last or {}
    error = error or str(last.get("error") or "")
    resolved = resolve_trial_config(trial_config)
    planned = resolved["train"]["epochs"]
    epochs = int(last.get("epoch", 0) or 0)
    if error:
        status = STATUS_FAILED
    elif epochs < planned:
        status = STATUS_EARLY
    else:
        status = STATUS_OK
    row: Dict[str, Any] = {
        "trial_id": trial_id,
        "status": status,
        "error": error,
        "epochs": epochs,
        "epochs_planned": planned,
        "wall_seconds": float(last.get("time_total_s", 0.0) or 0.0),
        "seed": resolved["seed"],
        "method": resolved["method"]["name"],
        "workers": int((resolved.get("trial") or {}).get("workers", 1)),   # data-parallel processes
    }
    params = searched_params(trial_config)
    for key, value in sorted(params.items()):
        if not key.startswith(RECORD_ONLY_PREFIX):
            # what trained: a later key (a preset's networks.1.arch, a row's null) may have changed the value
            value = dotted_value(resolved, key)
        short = key[len(RECORD_ONLY_PREFIX):] if key.startswith(RECORD_ONLY_PREFIX) else key
        key = key if short != key and short in params else short   # a label never hides a config key
        row[f"param.{key}"] = value if isinstance(value, (int, float, str, bool)) or value is None else json.dumps(value)
    for key, value in last.items():
        if key.startswith("hp.") and f"param.{key[3:]}" in row:
            # a value that changed during the run (PBT): the one its last epoch trained with, not
            # a perturbation decided after it
            row[f"param.{key[3:]}"] = value
            set_dotted(resolved, key[3:], value)
    row.update(what_trained(resolved))
    for key, value in last.items():   # metrics, and the trial process's seconds per phase
        if key.startswith(_SCALAR_PREFIXES + (TIME_PREFIX,)) and isinstance(value, (int, float)):
            row[key] = float(value)
    for key in PLACEMENT_KEYS:
        if key in last:
            row[key] = last[key]
    if "reported_at" in last:
        row["finished_at"] = float(last["reported_at"])
    row["config_json"] = json.dumps(resolved, sort_keys=True)
    return row


def write_rows(path: str, rows: List[Dict[str, Any]]) -> None:
    columns: List[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    atomic_write(path, lambda fh: pq.write_table(table, fh), mode="wb")


def read_rows(path: str) -> List[Dict[str, Any]]:
    if not os.path.exists(path):
        return []
    return pq.read_table(path).to_pylist()


class TrialRecorder(tune.Callback):
    """Appends a row as each trial finishes; rows of a resumed sweep are keyed by
    trial id, so a trial is never counted twice."""

    def __init__(self, experiment_dir: str):
        self.path = os.path.join(experiment_dir, TRIALS_FILE)
        self.rows: Dict[str, Dict[str, Any]] = {r["trial_id"]: r for r in read_rows(self.path)}

    def record(self, trial_id: str, trial_config, last, error: str = "") -> None:
        self.rows[trial_id] = trial_row(trial_id, trial_config, last, error)
        write_rows(self.path, list(self.rows.values()))

    def on_trial_start(self, iteration, trials, trial, **info):
        # beside the trial's results in the experiment storage: a folder, or S3 through Tune's own file system
        resolved = resolve_trial_config(trial.config)
        if os.path.isabs(trial.path):
            write_yaml(os.path.join(trial.path, RESOLVED_CONFIG_FILE), resolved)
        else:
            import yaml

            filesystem = trial.storage.storage_filesystem
            filesystem.create_dir(trial.path, recursive=True)
            with filesystem.open_output_stream(f"{trial.path}/{RESOLVED_CONFIG_FILE}") as out:
                out.write(yaml.safe_dump(resolved, sort_keys=False).encode())

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.record(trial.trial_id, trial.config, trial.last_result)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.record(trial.trial_id, trial.config, trial.last_result, error=error_summary(trial))

    def __getstate__(self):
        # Tune pickles callbacks with the experiment; rows are re-read from disk on resume
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]
        self.rows = {r["trial_id"]: r for r in read_rows(self.path)}


def error_summary(trial) -> str:
    """The last line of the trial's error: the exception type and message."""
    text = ""
    try:
        error = trial.get_error()
        text = str(error) if error is not None else ""
    except Exception:  # noqa: BLE001 - an unreadable error file must not stop the sweep
        pass
    if not text and getattr(trial, "error_file", None) and os.path.exists(trial.error_file):
        with open(trial.error_file) as fh:
            text = fh.read()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else "trial failed"
