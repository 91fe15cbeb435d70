"""After a sweep: ``trials.parquet`` rebuilt from the experiment's own results
(the source of truth, also after a resume), the ranking, the terminal table and
``best_config.yaml``."""
import json
import math
import os
from typing import Any, Dict, List, Optional

from distill.atomic_write import write_yaml
from platform.experiment_dir import BEST_CONFIG_FILE
from platform.trial_records import STATUS_FAILED, TRIALS_FILE, read_rows, trial_row, write_rows
from platform.tuner_factory import trial_id_from_path


def rows_from_results(result_grid, experiment_dir: str) -> List[Dict[str, Any]]:
    rows = {r["trial_id"]: r for r in read_rows(os.path.join(experiment_dir, TRIALS_FILE))}
    for result in result_grid:
        trial_id = trial_id_from_path(result.path)
        error = ""
        if result.error is not None:
            lines = [line for line in str(result.error).strip().splitlines() if line.strip()]
            error = (lines[-1] if lines else type(result.error).__name__)[:500]
        rows[trial_id] = trial_row(trial_id, result.config, result.metrics, error)
    ordered = sorted(rows.values(), key=lambda r: r["trial_id"])
    write_rows(os.path.join(experiment_dir, TRIALS_FILE), ordered)
    return ordered


def _value(row, metric) -> Optional[float]:
    value = row.get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def ranked(rows: List[Dict[str, Any]], metric: str, mode: str) -> List[Dict[str, Any]]:
    """Finished trials with a value for ``metric``, best first (failed trials excluded)."""
    usable = [r for r in rows if r["status"] != STATUS_FAILED and _value(r, metric) is not None]
    return sorted(usable, key=lambda r: _value(r, metric), reverse=(mode == "max"))


def _test_prefixes():
    """The test columns of the summary: every task's primary metric (``test_acc.``, ``test_map.``)."""
    from distill.evaluators.tasks import TASKS

    return tuple(f"test_{TASKS.get(name).primary}." for name in TASKS.names())


def format_table(rows: List[Dict[str, Any]], metric: str, mode: str) -> str:
    params = sorted({k for r in rows for k in r if k.startswith("param.")})
    tests = sorted({k for r in rows for k in r if k.startswith(_test_prefixes())})
    header = ["trial", "status", *[p[len("param."):] for p in params], metric, *tests, "epochs", "seconds"]
    order = ranked(rows, metric, mode) + [r for r in rows if r not in ranked(rows, metric, mode)]
    lines = [header]
    for r in order:
        cells = [r["trial_id"], r["status"]]
        for key in params + [metric] + tests:
            value = r.get(key)
            if isinstance(value, float):
                cells.append("-" if math.isnan(value) else f"{value:.4g}")
            else:
                cells.append("-" if value is None else str(value))
        cells += [str(r["epochs"]), f"{r['wall_seconds']:.1f}"]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    failed = [r for r in rows if r["status"] == STATUS_FAILED]
    text += [f"failed {r['trial_id']}: {r['error']}" for r in failed]
    return "\n".join(text)


def write_best_config(rows, metric: str, mode: str, experiment_dir: str) -> Optional[Dict[str, Any]]:
    best = ranked(rows, metric, mode)
    if not best:
        return None
    config = json.loads(best[0]["config_json"])
    config["output_dir"] = os.path.join("runs", os.path.basename(experiment_dir), "best")
    write_yaml(os.path.join(experiment_dir, BEST_CONFIG_FILE), config)
    return best[0]
