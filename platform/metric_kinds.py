"""Metric names by split and kind (``val_map.net0``: split ``val_``, kind ``map``, network
``net0``), and the further kinds of a paper table: each kind in ``table.also_kinds`` gets a
table of the main one's layout under it, e.g. rank-1 under seed 000 Table 6's mAP. The
paper's numbers belong to the main table's kind, so those tables show ours only (rows and
columns keep the paper's order)."""
import os
from typing import Any, Dict, List, Sequence, Tuple

from distill.atomic_write import atomic_write

SPLITS = ("best_val_", "val_", "test_")


def on_test_split(metric: str) -> str:
    """What a table reports for a selection metric: ``val_<kind>.`` -> ``test_<kind>.``
    (``val_acc.net0`` -> ``test_acc.net0``, ``val_map.net0`` -> ``test_map.net0``)."""
    return "test_" + metric[len("val_"):] if metric.startswith("val_") else metric


def with_kind(metric: str, kind: str) -> str:
    """``test_map.net0`` -> ``test_rank1.net0``: the same split and network, another kind."""
    head, dot, rest = metric.partition(".")
    split = next((s for s in SPLITS if head.startswith(s)), "")
    return f"{split}{kind}{dot}{rest}"


def blank_paper(paper: Dict[str, Any]) -> Dict[str, Any]:
    """The paper's rows and columns (their order) without its numbers."""
    values = (paper or {}).get("values") or {}
    blank = {row: ({column: None for column in entry} if isinstance(entry, dict) else None)
             for row, entry in values.items()}
    return {"source": (paper or {}).get("source", ""), "values": blank}


def kind_tables(rows: Sequence[Dict[str, Any]], spec, metrics: List[str], title: str, out_dir: str,
                latex: bool) -> Tuple[str, List[str]]:
    """Markdown of every ``table.also_kinds`` table (to go under the main table) and the files
    written (``table_<kind>.csv``, with ``latex`` also ``.tex``)."""
    from platform.ablation_table import build_table
    from platform.table_render import to_csv, to_latex, to_markdown

    def write_text(path: str, text: str) -> str:
        atomic_write(path, lambda fh: fh.write(text))
        return path

    texts, written = [], []
    for kind in spec.table.also_kinds:
        named = [with_kind(m, kind) for m in metrics]
        table = build_table(rows, spec.table, named[0], blank_paper(spec.paper), named if len(named) > 1 else None,
                            title=f"{title}: {kind}, ours only (the paper's numbers are the table above's)")
        texts.append("\n" + to_markdown(table).replace("; the paper's value in parentheses.", "."))
        written.append(write_text(os.path.join(out_dir, f"table_{kind}.csv"), to_csv(table)))
        if latex:
            written.append(write_text(os.path.join(out_dir, f"table_{kind}.tex"), to_latex(table)))
    return "".join(texts), written
