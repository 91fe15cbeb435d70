"""Each head of a multi-head network in a paper table's rows: the exits of
self-distillation (``test_acc.net0.exit1`` ..) and ONE's branches, with their
ensemble, as mean ± std over seeds per (row, column), for the rows that have
them. Reported on the test split, like the table it sits under."""
import math
import re
from typing import Any, Dict, List, Sequence, Tuple

from platform.ablation_table import COUNTED_STATUSES, axis_value, label

HEAD = re.compile(r"^(?P<split>test_acc)\.(?P<net>[^.]+)\.(?P<head>(?:exit|branch)(?P<index>\d+)|ensemble)$")


def _order(head: str) -> Tuple[int, int]:
    match = re.match(r"(exit|branch)(\d+)$", head)
    if match is None:
        return (2, 0)   # the ensemble last
    return (0 if match.group(1) == "exit" else 1, int(match.group(2)))


def head_markdown(rows: Sequence[Dict[str, Any]], table_spec, network: str, digits: int = 2) -> str:
    """A Markdown table of every head's test accuracy; empty when no row has heads."""
    cells: Dict[Tuple[str, str], Dict[str, List[float]]] = {}
    heads: List[str] = []
    for record in rows:
        if record.get("status") not in COUNTED_STATUSES:
            continue
        row = axis_value(record, table_spec.rows)
        column = axis_value(record, table_spec.columns) if table_spec.columns else ""
        for key, value in record.items():
            match = HEAD.match(key)
            if match is None or match.group("net") != network or value is None or math.isnan(float(value)):
                continue
            heads += [match.group("head")] if match.group("head") not in heads else []
            cells.setdefault((label(row), label(column)), {}).setdefault(match.group("head"), []).append(float(value))
    if not cells:
        return ""
    heads.sort(key=_order)
    axes = [table_spec.rows] + ([table_spec.columns] if table_spec.columns else [])
    lines = [f"**Every head of {network} (test accuracy, mean ± std over seeds)**", "",
             "| " + " | ".join(axes + heads) + " |", "|" + "---|" * (len(axes) + len(heads))]
    for (row, column), by_head in cells.items():
        values = []
        for head in heads:
            v = by_head.get(head, [])
            mean = math.fsum(v) / len(v) if v else math.nan
            std = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else None
            values.append("–" if not v else f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else ""))
        lines.append("| " + " | ".join([row] + ([column] if table_spec.columns else []) + values) + " |")
    lines += ["", "exitS is the network's own head (the deepest exit); the ensemble is the mean of the exits' logits, "
                  "or ONE's gated sum of its branches."]
    return "\n".join(lines) + "\n"
