"""An ``AblationTable`` as Markdown (reports), CSV (machines) and LaTeX (papers).

A cell reads ``ours_mean ± ours_std (paper)`` with a mark where the Welch test
against the baseline is significant. A table with several network metrics
gets one sub-column per (column, network), as the paper's Table 5 prints pairs.
"""
import csv
import io
import math
from typing import List, Optional, Tuple

from platform.ablation_table import AblationTable, CellStats

DASH = "–"
MARK_TEX = r"\textsuperscript{*}"


def _all_columns(table: AblationTable) -> List[Tuple[str, int, str]]:
    multi = len(table.metrics) > 1
    return [(c, i, f"{c} {net}" if multi else c)
            for c in table.column_labels for i, net in enumerate(table.network_labels)]


def _columns(table: AblationTable) -> List[Tuple[str, int, str]]:
    """(column label, network index, header text) of our results, in print order. When the run is
    not comparable with the paper, a column with none of our results (a paper-only data set) is
    left to the paper's own columns."""
    columns = _all_columns(table)
    if table.comparable:
        return columns
    return [(c, i, h) for c, i, h in columns if any(table.cells[(r, c)][i].n for r in table.row_labels)]


def _paper_columns(table: AblationTable) -> List[Tuple[str, int, str]]:
    """The paper's numbers in columns of their own, for a run on another data set or networks."""
    if table.comparable:
        return []
    has = lambda c, i: any(table.cells[(r, c)][i].paper is not None for r in table.row_labels)  # noqa: E731
    single = table.column_labels == table.metrics[:1]
    return [(c, i, "paper" if single and len(table.metrics) == 1 else f"paper: {h}")
            for c, i, h in _all_columns(table) if has(c, i)]


def _seeds_text(table: AblationTable) -> str:
    counts = table.seed_counts()
    if not counts:
        return "no finished trials"
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}{DASH}{counts[-1]}"
    return f"n = {n} seed{'' if counts == [1] else 's'}"


def _tested(table: AblationTable) -> bool:
    return table.baseline_axis is not None and table.comparisons > 0


def _has_paper(table: AblationTable) -> bool:
    return any(s.paper is not None for stats in table.cells.values() for s in stats)


def test_note(table: AblationTable) -> str:
    """The footer line on significance: what was tested, how it was corrected, and what was not."""
    from platform.ablation_table import MIN_SEEDS

    if table.baseline_axis is None:
        return ""
    if not table.comparisons:
        return (f"No significance marks: a test against {table.baseline} needs {MIN_SEEDS} seeds or more in both "
                f"cells ({_seeds_text(table)} here).")
    note = (f"\\* p < {table.alpha:g}, Welch's t-test against {table.baseline}, Holm-corrected over the table's "
            f"{table.comparisons} comparison{'s' if table.comparisons > 1 else ''}, {_seeds_text(table)}")
    if table.untested:
        note += f"; {table.untested} cell(s) with fewer than {MIN_SEEDS} seeds not tested"
    return note + "."


def _interval(cell: CellStats, digits: int) -> str:
    return "" if math.isnan(cell.low) else f" [{cell.low:.{digits}f}, {cell.high:.{digits}f}]"


def _ours(cell: CellStats, digits: int, pm: str) -> str:
    if cell.n == 0:
        return DASH
    # a single seed has no spread: printing ± 0.00 would claim one
    return f"{cell.mean:.{digits}f}" + (f"{pm}{cell.std:.{digits}f}" if cell.n > 1 else "")


def _paper(cell: CellStats, digits: int) -> str:
    return "" if cell.paper is None else f" ({cell.paper:.{digits}f})"


NOT_RUN = "not run"


def _value_header(table: AblationTable) -> List[str]:
    if not table.row_values_label:
        return []
    paper = [f"paper: {table.row_values_label}"] if not table.comparable and table.row_values_paper else []
    return [table.row_values_label] + paper


def _row_value(table: AblationTable, row: str, digits: int) -> List[str]:
    if not table.row_values_label:
        return []
    value, paper = table.row_values.get(row), table.row_values_paper.get(row)
    alternative = table.row_values_alternative.get(row)
    ours = DASH if value is None else f"{value:.{digits}f}"
    if alternative is not None:
        ours += f" / {alternative[2]:.{digits}f}"
    if row in table.row_values_bits and value is not None:
        ours += f" × {table.row_values_bits[row]} bit"
    paper_text = DASH if paper is None else f"{paper:.{digits}f}"
    if not table.comparable:
        return [ours] + ([paper_text] if table.row_values_paper else [])
    return [ours + ("" if paper is None else f" ({paper:.{digits}f})")]


def _cell_text(table: AblationTable, row: str, s: CellStats, digits: int, pm: str) -> str:
    ours = NOT_RUN if row in table.not_run and s.n == 0 else _ours(s, digits, pm) + _interval(s, digits)
    return ours + (_paper(s, digits) if table.comparable else "") + ("*" if s.significant else "")


def _paper_cell(s: CellStats, digits: int) -> str:
    return DASH if s.paper is None else f"{s.paper:.{digits}f}"


def to_markdown(table: AblationTable, digits: int = 2) -> str:
    columns, papers = _columns(table), _paper_columns(table)
    header = [table.row_key] + _value_header(table) + [h for _, _, h in columns] + [h for _, _, h in papers]
    lines = [f"**{table.title}**", "",
             "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for row in table.row_labels:
        cells = [_cell_text(table, row, s, digits, " ± ") for s in (table.cells[(row, c)][i] for c, i, _ in columns)]
        cells += [_paper_cell(table.cells[(row, c)][i], digits) for c, i, _ in papers]
        lines.append("| " + " | ".join([row] + _row_value(table, row, digits) + cells) + " |")
    lines += ["", f"Ours: mean ± std [95% t interval] over {_seeds_text(table)} ({', '.join(table.metrics)})"
                  + ("; the paper's value in parentheses." if _has_paper(table) and table.comparable else ".")]
    if papers or (not table.comparable and table.row_values_paper):
        lines.append(f"The \"paper\" columns are the paper's own numbers ({table.source or 'its setting'}): this run "
                     "used another data set or other networks, so they are not comparable with ours.")
    if table.row_values_label:
        lines.append(f"{table.row_values_label}: computed from our models as run (a smoke preset runs smaller ones).")
    for row, (arch, other, _) in table.row_values_alternative.items():
        lines.append(f"{row}: {table.row_values_label} of {arch} as run / of {other} (not run; "
                     f"`--set` its arch to train it).")
    for row, why in table.not_run.items():
        lines.append(f"{row}: {NOT_RUN}: {why}")
    note = test_note(table)   # its asterisk escaped, so Markdown does not turn the footnote into a bullet
    if note:
        lines.append(note)
    lines += gains_markdown(table, digits)
    return "\n".join(lines) + "\n"


def _signed(value: Optional[float], digits: int) -> str:
    return DASH if value is None else f"{value:+.{digits}f}"


def gains_markdown(table: AblationTable, digits: int = 2) -> List[str]:
    """The mean gains of one row over groups of rows, ours beside the paper's."""
    if not table.gains:
        return []
    lines = ["", f"| {table.gains[0].of} gain over | ours | paper | columns |", "|---|---|---|---|"]
    for gain in table.gains:
        lines.append(f"| {gain.group} | {_signed(gain.ours, digits)} | {_signed(gain.paper, digits)} | "
                     f"{', '.join(gain.columns) or DASH} |")
    lines += ["", f"Gain: the mean over columns and over the group's rows of ({table.gains[0].of} minus that row), "
                  f"{', '.join(table.metrics[:1])}."]
    return lines


def _number(value: Optional[float]) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else repr(float(value))


def to_csv(table: AblationTable) -> str:
    """One line per (row, column, network); empty fields where there is no value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "column", "network", "n", "mean", "std", "ci95_low", "ci95_high", "paper", "p_value",
                     "p_holm", "significant", "not_run", table.row_values_label or "row_value"])
    for row in table.row_labels:
        for column, i, _ in _columns(table):
            s = table.cells[(row, column)][i]
            writer.writerow([row, column, table.network_labels[i], s.n, _number(s.mean), _number(s.std),
                             _number(s.low), _number(s.high), _number(s.paper), _number(s.p_value),
                             _number(s.p_adjusted), str(s.significant).lower(),
                             table.not_run.get(row, ""), _number(table.row_values.get(row))])
    return out.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(table: AblationTable, digits: int = 2) -> str:
    """A plain ``tabular`` (no booktabs needed). Significance is a text-mode superscript
    asterisk: a math one would follow the cell's closing ``$`` as ``$$``."""
    columns, papers = _columns(table), _paper_columns(table)
    extra = _value_header(table)
    width = len(columns) + len(papers) + 1 + len(extra)
    lines = [r"\begin{tabular}{l" + "c" * (len(columns) + len(papers) + len(extra)) + "}", r"\hline",
             " & ".join([_tex(table.row_key)] + [_tex(h) for h in extra]
                        + [_tex(h) for _, _, h in columns + papers]) + r" \\",
             r"\hline"]
    for row in table.row_labels:
        cells = [_tex(v) for v in _row_value(table, row, digits)]
        for column, i, _ in columns:
            s = table.cells[(row, column)][i]
            ours = ("not run" if row in table.not_run else "--") if s.n == 0 else "$" + _ours(s, digits, r" \pm ") + "$"
            cells.append(ours + (_paper(s, digits) if table.comparable else "") + (MARK_TEX if s.significant else ""))
        cells += [_tex(_paper_cell(table.cells[(row, c)][i], digits)) for c, i, _ in papers]
        lines.append(" & ".join([_tex(row)] + cells) + r" \\")
    lines.append(r"\hline")
    seeds = _tex(_seeds_text(table)).replace(DASH, "--")
    note = f"mean $\\pm$ std over {seeds}" + (", paper in parentheses" if _has_paper(table) and table.comparable
                                                else ", paper columns not comparable (another setting)"
                                                if papers else "")
    if _tested(table):
        note += (f"; {MARK_TEX} $p < {table.alpha:g}$, Welch's $t$-test against {_tex(table.baseline)}, "
                 f"Holm-corrected over {table.comparisons} comparisons")
    lines += [rf"\multicolumn{{{width}}}{{l}}{{\footnotesize {note}}} \\", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
