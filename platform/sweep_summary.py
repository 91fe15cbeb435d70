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


WIDTH = 120      # the summary fits a terminal this wide; trials.parquet has every column
CELL = 24        # a longer value (a JSON config block) is cut to this many characters


def _cell(value) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    if value is None:
        return "-"
    text = str(value)
    if text.startswith("{"):
        try:   # a whole block of config (a row's method): its name says which
            text = str(json.loads(text).get("name", text))
        except (ValueError, AttributeError):
            pass
    return text if len(text) <= CELL else text[:CELL - 1] + "…"


def format_table(rows: List[Dict[str, Any]], metric: str, mode: str, width: int = WIDTH) -> str:
    # only what tells trials apart: a parameter every trial has the same value of is noise here
    params = [k for k in {k for r in rows for k in r if k.startswith("param.")}
              if len({json.dumps(r.get(k), default=str) for r in rows}) > 1]
    # labels and numbers first; whole config blocks (JSON) are the first left out when it is too wide
    block = lambda k: any(isinstance(r.get(k), str) and r[k].startswith(("{", "[")) for r in rows)  # noqa: E731
    numeric = lambda k: all(isinstance(r.get(k), (int, float)) for r in rows)  # noqa: E731
    params.sort(key=lambda k: (block(k), numeric(k), k))   # row labels, then numbers, then blocks
    tests = sorted({k for r in rows for k in r if k.startswith(_test_prefixes())})
    order = ranked(rows, metric, mode) + [r for r in rows if r not in ranked(rows, metric, mode)]

    def layout(shown):
        header = ["trial", "status", *[p[len("param."):] for p in shown], metric, *tests, "epochs", "seconds"]
        lines = [header] + [[r["trial_id"], r["status"], *[_cell(r.get(k)) for k in shown + [metric] + tests],
                             str(r["epochs"]), f"{r['wall_seconds']:.1f}"] for r in order]
        widths = [min(CELL, max(len(line[i]) for line in lines)) for i in range(len(header))]
        return lines, widths

    shown = list(params)
    lines, widths = layout(shown)
    while shown and sum(widths) + 2 * (len(widths) - 1) > width:
        shown.pop()
        lines, widths = layout(shown)
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    left_out = [p[len("param."):] for p in params if p not in shown]
    if left_out:
        import textwrap

        text += textwrap.wrap(f"(not shown, to fit {width} columns: {', '.join(left_out)}; all in trials.parquet)",
                              width)
    failed = [r for r in rows if r["status"] == STATUS_FAILED]
    text += [f"failed {r['trial_id']}: {r['error']}"[:width] for r in failed]
    return "\n".join(text)


def write_best_config(rows, metric: str, mode: str, experiment_dir: str) -> Optional[Dict[str, Any]]:
    best = ranked(rows, metric, mode)
    if not best:
        return None
    config = json.loads(best[0]["config_json"])
    config["output_dir"] = os.path.join("runs", os.path.basename(experiment_dir), "best")
    write_yaml(os.path.join(experiment_dir, BEST_CONFIG_FILE), config)
    return best[0]
