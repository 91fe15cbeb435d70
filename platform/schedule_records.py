"""``schedules.parquet`` beside ``trials.parquet``: per trial and epoch, the value of every
hyperparameter the trial reports as ``hp.<key>`` (a population-based sweep's perturbed keys, a
config's ``schedule:``) and, on the first epoch after a trial continued another trial's
checkpoint, which trial that was (``cloned_from``).

A row is keyed by (trial, epoch): a resumed or re-run epoch replaces its row, never duplicates
it. ``lineage`` follows the clones back to the first epoch, so the values a trial's final
weights were trained under, epoch by epoch, become a ``schedule:`` that ``distill.train`` re-runs."""
import os
from typing import Any, Dict, List, Tuple

import pyarrow as pa
import pyarrow.parquet as pq
from ray import tune

from distill.atomic_write import atomic_write

SCHEDULES_FILE = "schedules.parquet"
HP_PREFIX = "hp."


def read_schedule_rows(path: str) -> List[Dict[str, Any]]:
    return pq.read_table(path).to_pylist() if os.path.isfile(path) else []


def write_schedule_rows(path: str, rows: List[Dict[str, Any]]) -> None:
    rows = sorted(rows, key=lambda r: (r["trial_id"], r["epoch"]))
    keys = sorted({k for r in rows for k in r if k.startswith(HP_PREFIX)})
    table = pa.table({"trial_id": [r["trial_id"] for r in rows], "epoch": [int(r["epoch"]) for r in rows],
                      "cloned_from": [r.get("cloned_from") or "" for r in rows],
                      **{k: [r.get(k) for r in rows] for k in keys}})
    atomic_write(path, lambda fh: pq.write_table(table, fh), mode="wb")


def schedule_row(trial_id: str, result: Dict[str, Any]) -> Dict[str, Any]:
    epoch = int(result["epoch"])
    cloned = result.get("cloned_from") if result.get("cloned_at_epoch") == epoch - 1 else ""
    return {"trial_id": trial_id, "epoch": epoch, "cloned_from": cloned or "",
            **{k: float(v) for k, v in result.items() if k.startswith(HP_PREFIX)}}


class ScheduleRecorder(tune.Callback):
    """Writes a row per reported epoch of every trial that reports hyperparameters."""

    def __init__(self, experiment_dir: str):
        self.path = os.path.join(experiment_dir, SCHEDULES_FILE)
        self.rows = {(r["trial_id"], r["epoch"]): r for r in read_schedule_rows(self.path)}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if "epoch" not in result or not any(k.startswith(HP_PREFIX) for k in result):
            return
        row = schedule_row(trial.trial_id, result)
        self.rows[(row["trial_id"], row["epoch"])] = row
        write_schedule_rows(self.path, list(self.rows.values()))

    def __getstate__(self):
        return {"path": self.path}   # re-read from disk on resume, as TrialRecorder's rows

    def __setstate__(self, state):
        self.__init__(os.path.dirname(state["path"]))


def lineage(rows: List[Dict[str, Any]], trial_id: str) -> List[Dict[str, Any]]:
    """The rows a trial's final weights were trained under, epoch 1 to its last: its own back
    to the epoch it was cloned at, then its donor's (and theirs, recursively)."""
    by_trial: Dict[str, Dict[int, Dict[str, Any]]] = {}
    for row in rows:
        by_trial.setdefault(row["trial_id"], {})[int(row["epoch"])] = row
    if trial_id not in by_trial:
        return []
    current, epoch, out = trial_id, max(by_trial[trial_id]), []
    while epoch >= 1:
        row = by_trial.get(current, {}).get(epoch)
        if row is None:
            raise ValueError(f"{SCHEDULES_FILE} has no epoch {epoch} of trial {current}")
        out.append(row)
        if row.get("cloned_from"):
            current = row["cloned_from"]
        epoch -= 1
    return out[::-1]


def as_schedule(path_rows: List[Dict[str, Any]]) -> Tuple[Dict[str, float], Dict[str, Dict[int, float]]]:
    """(first epoch's values, ``schedule:``): each key's value from the 0-based epoch it first holds."""
    keys = sorted({k for r in path_rows for k in r if k.startswith(HP_PREFIX) and r[k] is not None})
    start = {k[len(HP_PREFIX):]: path_rows[0][k] for k in keys}
    schedule: Dict[str, Dict[int, float]] = {}
    for key in keys:
        steps, last = {}, None
        for index, row in enumerate(path_rows):
            if row[key] != last:
                steps[index] = row[key]
                last = row[key]
        schedule[key[len(HP_PREFIX):]] = steps
    return start, schedule


__all__ = ["SCHEDULES_FILE", "ScheduleRecorder", "as_schedule", "lineage", "read_schedule_rows", "schedule_row",
           "write_schedule_rows"]
