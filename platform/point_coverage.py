"""Which of a search's enqueued points (the paper's configurations, evaluated
first) have no finished trial: a sweep that ends with one unrun, for whatever
reason (a trial budget below the number of points, a failed trial), says which,
in the summary and in the report, instead of leaving a hole in the table."""
import math
from typing import Any, Dict, List, Sequence

RUN_STATUSES = ("ok", "early-stopped")   # trial_records' STATUS_OK / STATUS_EARLY (that module imports Ray)
SEARCH_PREFIX = "search."


def _row_value(row: Dict[str, Any], key: str) -> Any:
    short = key[len(SEARCH_PREFIX):] if key.startswith(SEARCH_PREFIX) else key
    for column in (f"param.{key}", f"param.{short}", f"param.{SEARCH_PREFIX}{short}"):
        if row.get(column) is not None:
            return row[column]
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def matches(point: Dict[str, Any], row: Dict[str, Any]) -> bool:
    return all(_same(_row_value(row, key), value) for key, value in point.items())


def unrun_points(points: Sequence[Dict[str, Any]], rows: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    finished = [r for r in rows if r.get("status") in RUN_STATUSES]
    return [p for p in points if not any(matches(p, r) for r in finished)]


def describe(point: Dict[str, Any]) -> str:
    return ", ".join(f"{k[len(SEARCH_PREFIX):] if k.startswith(SEARCH_PREFIX) else k}={v}" for k, v in point.items())


def unrun_lines(points: Sequence[Dict[str, Any]], rows: Sequence[Dict[str, Any]]) -> List[str]:
    missing = unrun_points(points, rows)
    if not missing:
        return []
    return [f"{len(missing)} of {len(points)} enqueued points have no finished trial:"] + [
        f"  not run: {describe(p)}" for p in missing]
