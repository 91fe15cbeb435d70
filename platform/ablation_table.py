"""An ablation table from ``trials.parquet`` rows: ours (mean ± std over seeds)
beside the paper's number, each cell Welch-tested against the baseline: the
baseline row's cell in the same column, or, when the baseline labels a column
(tadml_pairs: ``independent``), the baseline column's cell in the same row; always
the same network.

Layout comes from the sweep's ``table: {rows, columns, baseline}``; a row or
column key names a searched parameter or a variant axis, read from the
``param.<key>`` column of the rows (``param.search.<key>`` first: trial_records
keeps an axis label under its full name when a config key of the same name
exists). Cells are keyed ``(row, column)`` and hold one ``CellStats`` per network
metric (a list of length 1 for a one-metric table), so a two-network table such
as Table 5 keeps its pairs together.
"""
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from platform.evidence_stats import holm, mean_interval
from platform.welch_test import welch_t_test

SIGNIFICANCE = 0.05
MIN_SEEDS = 3   # below this no cell is tested: two values do not estimate a spread
COUNTED_STATUSES = ("ok",)   # trial_records.STATUS_OK; not imported, that module imports Ray


@dataclass
class CellStats:
    values: List[float]            # one per seed (repeats of a seed averaged)
    seeds: List[Any]
    n: int
    mean: float                    # nan when n == 0
    std: float                     # sample std (ddof 1); 0.0 when n == 1, nan when n == 0
    paper: Optional[float] = None
    p_value: Optional[float] = None   # vs the baseline's cell; None for the baseline itself or when untestable
    significant: bool = False         # Holm-adjusted p < alpha over the table's comparisons
    low: float = math.nan             # the 95% t interval of the mean over seeds (nan below 2 seeds)
    high: float = math.nan
    p_adjusted: Optional[float] = None


@dataclass
class Gain:
    """One row's mean gain over a group of rows (``table.gains``)."""
    group: str
    of: str
    ours: Optional[float]          # None when no column has both rows run
    paper: Optional[float]
    columns: List[str]             # the columns the mean is over


@dataclass
class AblationTable:
    title: str
    row_key: str
    column_key: Optional[str]      # None: a single column labelled with the metric
    row_labels: List[str]
    column_labels: List[str]
    metrics: List[str]             # one per network; cells[(r, c)][i] is metrics[i]
    cells: Dict[Tuple[str, str], List[CellStats]]
    baseline: Optional[str]
    baseline_axis: Optional[str] = None   # "row", "column", or None: no baseline among the labels
    alpha: float = SIGNIFICANCE
    source: str = ""
    not_run: Dict[str, str] = field(default_factory=dict)      # row -> why the platform does not run it
    row_values: Dict[str, float] = field(default_factory=dict)  # row -> e.g. parameters (M) of our model
    row_values_label: str = ""
    row_values_paper: Dict[str, float] = field(default_factory=dict)   # the paper's own column (``paper.params_m``)
    # row -> (arch run, alternative arch, the alternative's parameters in M) (``table.size_alternatives``)
    row_values_alternative: Dict[str, Tuple[str, str, float]] = field(default_factory=dict)
    row_values_bits: Dict[str, int] = field(default_factory=dict)   # row -> bits per weight of a quantized model
    gains: List[Gain] = field(default_factory=list)
    # whether the run's data set and networks are the paper's: only then does a paper number share a cell
    comparable: bool = True
    comparisons: int = 0           # cells tested against the baseline (the Holm family)
    untested: int = 0              # cells not tested for having fewer than MIN_SEEDS seeds (or the baseline)

    @property
    def network_labels(self) -> List[str]:
        """``test_acc.net0`` -> ``net0``: how renderers name a network's sub-column."""
        return [m.rsplit(".", 1)[-1] for m in self.metrics]

    def cell(self, row: str, column: Optional[str] = None, network: int = 0) -> CellStats:
        column = self.column_labels[0] if column is None else column
        return self.cells[(row, column)][network]

    def seed_counts(self) -> List[int]:
        return sorted({s.n for stats in self.cells.values() for s in stats if s.n})


def label(value: Any) -> str:
    """Labels are strings; a float that is a whole number prints as an int so it
    matches a YAML key such as ``4`` after a round trip through parquet."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _number(value: Any) -> Optional[float]:
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def axis_value(record: Dict[str, Any], key: str) -> Any:
    """A row's label on a table axis (a variant axis or a searched parameter)."""
    value = record.get(f"param.search.{key}")
    return record.get(f"param.{key}") if value is None else value


_param = axis_value


def _teacher_arch(record: Dict[str, Any]) -> str:
    import json

    config = json.loads(record["config_json"]) if record.get("config_json") else {}
    return (config.get("teacher") or {}).get("arch", "teacher")


def _ordered(paper_labels: List[str], seen: List[str], include_missing: bool) -> List[str]:
    first = [x for x in paper_labels if include_missing or x in seen]
    return first + [x for x in seen if x not in first]


def _paper_value(values: Dict[str, Any], row: str, column: str, network: int,
                 has_columns: bool) -> Optional[float]:
    entry = values.get(row)
    if isinstance(entry, dict):
        if not has_columns:
            return None
        entry = entry.get(column)
    elif has_columns:
        return None      # a flat paper table has no value for a column axis
    if isinstance(entry, (list, tuple)):
        entry = entry[network] if network < len(entry) else None
    return _number(entry)


def _stats(by_seed: Dict[Any, List[float]], paper: Optional[float]) -> CellStats:
    # a seed run twice (e.g. TPE proposing the same structure) is a re-run, not a new sample
    seeds = list(by_seed)
    values = [math.fsum(v) / len(v) for v in by_seed.values()]
    n = len(values)
    mean = math.fsum(values) / n if n else math.nan
    if n > 1:
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    else:
        std = 0.0 if n == 1 else math.nan
    interval = mean_interval(values)
    return CellStats(values=values, seeds=seeds, n=n, mean=mean, std=std, paper=paper, low=interval.low,
                     high=interval.high)


def build_table(rows: Sequence[Dict[str, Any]], table_spec, metric: str, paper: Optional[Dict[str, Any]],
                network_metrics: Optional[Sequence[str]] = None, *, title: Optional[str] = None,
                alpha: float = SIGNIFICANCE, statuses: Sequence[str] = COUNTED_STATUSES,
                include_missing: bool = False, comparable: bool = True) -> AblationTable:
    """Aggregate ``rows`` into the layout of ``table_spec``.

    ``metric`` is the value of a one-network table (``test_acc.net0``); with
    ``network_metrics`` each cell holds one ``CellStats`` per listed metric and the
    paper's ``[a, b]`` gives network i its i-th number (``metric`` then only names the
    table). Only rows whose status is in ``statuses`` count: failed trials have no
    result and early-stopped ones were cut short, so their accuracies are not
    comparable with finished runs. Rows and columns come in the paper's order, then
    labels the paper lacks in first-seen order; paper labels with no trials are left
    out unless ``include_missing`` (then their cells have n == 0).
    """
    paper = paper or {}
    values = paper.get("values") or {}
    metrics = list(network_metrics or [metric])
    row_key, column_key = table_spec.rows, table_spec.columns
    has_columns = column_key is not None
    # a paper-layout table keeps every row and column the paper prints, run or not
    include_missing = include_missing or bool(getattr(table_spec, "paper_layout", False))

    grouped: Dict[Tuple[str, str], List[Dict[Any, List[float]]]] = {}
    seen_rows: List[str] = []
    seen_columns: List[str] = []
    for record in rows:
        row_value = _param(record, row_key)
        column_value = _param(record, column_key) if has_columns else metric
        if record.get("status") not in statuses or row_value is None or column_value is None:
            continue
        row, column = label(row_value), label(column_value)
        seen_rows += [row] if row not in seen_rows else []
        seen_columns += [column] if column not in seen_columns else []
        seed = record.get("seed")
        seed = ("trial", record.get("trial_id")) if seed is None else seed
        per_network = grouped.setdefault((row, column), [{} for _ in metrics])
        for i, name in enumerate(metrics):
            value = _number(record.get(name))
            if value is not None:
                per_network[i].setdefault(seed, []).append(value)

    # rows read off another row's trials through another metric (the frozen teacher of the DAFL rows)
    for ref_label, ref in (getattr(table_spec, "reference_rows", None) or {}).items():
        ref_label = label(ref_label)
        for record in rows:
            row_value = _param(record, row_key)
            column_value = _param(record, column_key) if has_columns else metric
            value = _number(record.get(ref.metric))
            if (record.get("status") not in statuses or row_value is None or label(row_value) != label(ref.row)
                    or column_value is None or value is None):
                continue
            seen_rows += [ref_label] if ref_label not in seen_rows else []
            seed = record.get("seed")
            seed = ("trial", record.get("trial_id")) if seed is None else seed
            per_network = grouped.setdefault((ref_label, label(column_value)), [{} for _ in metrics])
            per_network[0].setdefault(seed, []).append(value)

    # the frozen teacher(s) the trials distilled, one row per teacher arch, first: a reader must see
    # what the students were taught by (a teacher below its student explains a table)
    teacher_labels: List[str] = []
    teacher_metric = metric.rsplit(".", 1)[0] + ".teacher"
    if len(metrics) == 1 and not any(str(r.metric).endswith(".teacher")
                                     for r in (getattr(table_spec, "reference_rows", None) or {}).values()):
        for record in rows:
            value = _number(record.get(teacher_metric))
            column_value = _param(record, column_key) if has_columns else metric
            if record.get("status") not in statuses or value is None or column_value is None:
                continue
            arch = record.get("teacher") or _teacher_arch(record)
            teacher_label = f"Teacher ({arch})"
            teacher_labels += [teacher_label] if teacher_label not in teacher_labels else []
            seed = record.get("seed")
            per_network = grouped.setdefault((teacher_label, label(column_value)), [{}])
            per_network[0].setdefault(("trial", record.get("trial_id")) if seed is None else seed, []).append(value)
    seen_rows = teacher_labels + [r for r in seen_rows if r not in teacher_labels]

    paper_rows = [label(r) for r in values]
    paper_columns: List[str] = []
    if has_columns:
        for entry in values.values():
            if isinstance(entry, dict):
                paper_columns += [label(c) for c in entry if label(c) not in paper_columns]
    row_labels = _ordered(paper_rows, seen_rows, include_missing)
    row_labels = teacher_labels + [r for r in row_labels if r not in teacher_labels]
    # a run that is not the paper's setting shows the paper's columns beside ours, in columns of their own
    column_labels = _ordered(paper_columns, seen_columns, include_missing or not comparable) if has_columns \
        else [metric]
    only_rows, only_columns = getattr(table_spec, "only_rows", None), getattr(table_spec, "only_columns", None)
    if only_rows is not None:   # one of a sweep's several tables: its own rows, in its own order
        row_labels = [label(r) for r in only_rows if include_missing or label(r) in row_labels]
    if only_columns is not None and has_columns:
        # a column the paper lacks (a smoke run's stand-in data set) stays beside the paper's
        wanted = [label(c) for c in only_columns]
        column_labels = [c for c in column_labels if c in wanted or c not in paper_columns]

    labelled_values = {label(r): ({label(c): v for c, v in e.items()} if isinstance(e, dict) else e)
                       for r, e in values.items()}
    cells: Dict[Tuple[str, str], List[CellStats]] = {}
    for row in row_labels:
        for column in column_labels:
            per_network = grouped.get((row, column), [{} for _ in metrics])
            cells[(row, column)] = [
                _stats(by_seed, _paper_value(labelled_values, row, column, i, has_columns))
                for i, by_seed in enumerate(per_network)]

    baseline = None if table_spec.baseline is None else label(table_spec.baseline)
    # the baseline names a row (tadml_loss: LS) or a column (tadml_pairs: independent)
    baseline_axis = "row" if baseline in row_labels else "column" if baseline in column_labels else None
    tested: Dict[Tuple[str, str, int], CellStats] = {}
    untested = 0
    references = set(teacher_labels) | {label(r) for r in (getattr(table_spec, "reference_rows", None) or {})}
    for (row, column), stats in cells.items():
        if baseline_axis is None or (row if baseline_axis == "row" else column) == baseline or row in references:
            continue
        reference = cells[(baseline, column) if baseline_axis == "row" else (row, baseline)]
        for i, (cell, base) in enumerate(zip(stats, reference)):
            if not cell.n or not base.n:
                continue
            if cell.n < MIN_SEEDS or base.n < MIN_SEEDS:
                untested += 1
                continue
            _, _, p = welch_t_test(cell.values, base.values)
            cell.p_value = None if math.isnan(p) else p
            if cell.p_value is not None:
                tested[(row, column, i)] = cell
    adjusted = holm({key: cell.p_value for key, cell in tested.items()})
    for key, cell in tested.items():
        cell.p_adjusted = adjusted[key]
        cell.significant = cell.p_adjusted < alpha

    not_run = {label(r): str(why) for r, why in (getattr(table_spec, "not_run", None) or {}).items()}
    for row in not_run:
        if row not in row_labels:
            row_labels.append(row)
            for column in column_labels:
                cells[(row, column)] = [_stats({}, _paper_value(labelled_values, row, column, i, has_columns))
                                        for i in range(len(metrics))]
    row_values: Dict[str, float] = {}
    row_values_alternative: Dict[str, Tuple[str, str, float]] = {}
    row_values_bits: Dict[str, int] = {}
    value_metric = getattr(table_spec, "row_value", None)
    alternatives = getattr(table_spec, "size_alternatives", None) or {}
    if value_metric:
        for record in rows:
            row_value, value = _param(record, row_key), _number(record.get(value_metric))
            if row_value is not None and value is not None and label(row_value) not in row_values:
                row_values[label(row_value)] = value
                bits = _number(record.get("bits." + value_metric.split(".", 1)[-1]))
                if bits is not None and bits < 32:
                    row_values_bits[label(row_value)] = int(bits)
                alternative = size_alternative(record, value_metric, alternatives)
                if alternative is not None:
                    row_values_alternative[label(row_value)] = alternative

    gains = mean_gains(cells, column_labels, getattr(table_spec, "gains", None), paper.get("gains") or {})
    if title is None:
        title = paper.get("source") or f"{metric} by {row_key}" + (f" x {column_key}" if has_columns else "")
    return AblationTable(title=title, row_key=row_key, column_key=column_key, row_labels=row_labels,
                         column_labels=column_labels, metrics=metrics, cells=cells, baseline=baseline,
                         baseline_axis=baseline_axis, alpha=alpha, source=paper.get("source", ""), not_run=not_run,
                         row_values=row_values, row_values_label=value_metric or "",
                         row_values_paper={label(r): float(v) for r, v in (paper.get("params_m") or {}).items()},
                         row_values_alternative=row_values_alternative, gains=gains, comparisons=len(tested),
                         untested=untested, comparable=comparable, row_values_bits=row_values_bits)


def size_alternative(record: Dict[str, Any], value_metric: str, alternatives: Dict[str, str]
                     ) -> Optional[Tuple[str, str, float]]:
    """(arch, alternative arch, the alternative's parameters in M at the record's class count) when
    the network ``value_metric`` (``params.<net>``) measured is an arch with an alternative."""
    if not alternatives or not value_metric.startswith("params.") or not record.get("config_json"):
        return None
    import json

    config = json.loads(record["config_json"])
    name = value_metric[len("params."):]
    arch = next((n.get("arch") for n in config.get("networks", []) if n.get("name") == name), None)
    if arch not in alternatives:
        return None
    import torch

    from distill.data import DATA_INFO
    from distill.models import build_model, count_parameters

    info = DATA_INFO.get(config["data"]["name"])
    with torch.device("meta"):
        model = build_model(alternatives[arch], info.num_classes, info.in_channels)
    return arch, alternatives[arch], count_parameters(model) / 1e6


def mean_gains(cells, column_labels: List[str], spec, paper_gains: Dict[str, Any]) -> List[Gain]:
    """Per group: the mean over columns and over the group's rows of (row ``spec.of`` minus
    that row), over the cells where both have finished trials (first network's metric)."""
    if spec is None:
        return []
    out = []
    of = label(spec.of)
    for group, names in spec.over.items():
        diffs, used = [], []
        for column in column_labels:
            mine = cells.get((of, column))
            for name in names:
                other = cells.get((label(name), column))
                if mine and other and mine[0].n and other[0].n:
                    diffs.append(mine[0].mean - other[0].mean)
                    used += [column] if column not in used else []
        out.append(Gain(group=str(group), of=of, ours=math.fsum(diffs) / len(diffs) if diffs else None,
                        paper=_number(paper_gains.get(group)), columns=used))
    return out
