"""Which data a sweep selected on, said beside its tables: a data-free method can be
selected by validation accuracy on a small held-out real set ("uses real data") or
by its data-free score (the student's agreement with the teacher on generated
images, which needs no real image). When the trials report both, the note gives
how far the two rank the trials apart (Spearman's rank correlation over trials),
so a user knows what selecting without real data costs."""
import math
from typing import Dict, List, Optional, Sequence

# metric kind (``val_<kind>.net0``) -> what selecting on it reads
DATA_FREE_KINDS = {"agreement": "data-free: the student's agreement with the teacher on generated images, "
                                "no real image"}
REAL_DATA = "uses real data: the validation split held out of the training set"


def metric_kind(metric: str) -> str:
    """``val_agreement.net0`` -> ``agreement``; ``best_val_acc.max`` -> ``acc``."""
    head = metric.split(".", 1)[0]
    for prefix in ("best_val_", "val_", "test_"):
        if head.startswith(prefix):
            return head[len(prefix):]
    return head


def selection_label(metric: str) -> str:
    return DATA_FREE_KINDS.get(metric_kind(metric), REAL_DATA)


def _ranks(values: Sequence[float]) -> List[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):   # ties share their mean rank
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    """Spearman's rank correlation (Pearson on mid-ranks); None when undefined."""
    if len(a) < 3:
        return None
    ra, rb = _ranks(a), _ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va, vb = sum((x - ma) ** 2 for x in ra), sum((y - mb) ** 2 for y in rb)
    return None if va == 0 or vb == 0 else cov / math.sqrt(va * vb)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def selection_note(rows: Sequence[Dict], metric: str, statuses=("ok",)) -> str:
    """One paragraph: what ``metric`` selects on, and, for a network that reports both a
    data-free score and validation accuracy, their rank agreement over the finished trials."""
    lines = [f"Selected on `{metric}` ({selection_label(metric)})."]
    network = metric.rsplit(".", 1)[-1]
    free, real = f"val_agreement.{network}", f"val_acc.{network}"
    pairs = [(r[free], r[real]) for r in rows if r.get("status") in statuses
             and _finite(r.get(free)) and _finite(r.get(real))]
    rho = spearman([p[0] for p in pairs], [p[1] for p in pairs])
    if rho is not None:
        other = real if metric_kind(metric) in DATA_FREE_KINDS else free
        lines.append(f"The data-free score `{free}` and the validation accuracy `{real}` rank the {len(pairs)} "
                     f"trials that report both with Spearman rho = {rho:.2f} (1: the same order); "
                     f"`{other}` is the alternative.")
    return " ".join(lines)
