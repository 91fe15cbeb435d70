"""Ablation tables: Welch test, aggregation of trials.parquet rows, renderers, plot."""
import csv
import io
import json
import math
import os

import pytest

from platform.ablation_plot import plot_table
from platform.ablation_table import build_table
from platform.table_render import to_csv, to_latex, to_markdown
from platform.welch_test import welch_t_test
from search_spaces.sweep_spec import TableSpec, load_sweep

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "welch_values.json")


# --- Welch test ---------------------------------------------------------------------------

def _welch_cases():
    with open(FIXTURE) as fh:
        data = json.load(fh)
    return [(case, data["tolerance"]) for case in data["cases"]]


@pytest.mark.parametrize("case,tol", _welch_cases(), ids=lambda c: c["name"] if isinstance(c, dict) else "")
def test_welch_matches_stored_values(case, tol):
    t, df, p = welch_t_test(case["a"], case["b"])
    for got, want in ((t, case["t"]), (df, case["df"]), (p, case["p"])):
        assert got == pytest.approx(want, rel=tol, abs=tol)
    assert p == pytest.approx(case["scipy_p"], rel=tol, abs=tol)


@pytest.mark.parametrize("a,b", [([1.0], [1.0, 2.0]), ([1.0, 2.0], []), ([3.0, 3.0, 3.0], [3.0, 3.0]),
                                 ([1.0, 1.0], [2.0, 2.0])])
def test_welch_untestable_is_nan(a, b):
    assert all(math.isnan(x) for x in welch_t_test(a, b))


# --- aggregation --------------------------------------------------------------------------

LOSS_SPEC = TableSpec(rows="loss", columns="dataset", baseline="LS")
LOSS_PAPER = {"source": "Table 1", "values": {
    "LS": {"CIFAR10": 92.90, "CIFAR100": 70.47},
    "LS+LJS": {"CIFAR10": 93.18, "CIFAR100": 71.70},
    "LS+L1+Ladv": {"CIFAR10": 93.04, "CIFAR100": 71.97},   # never run
    "LS+LJS+Ladv": {"CIFAR10": 93.52, "CIFAR100": 72.75},
}}
# (loss, dataset) -> one value per seed 0, 1, 2; hand values: mean, std (ddof 1), significant vs LS
LOSS_VALUES = {
    ("LS", "CIFAR10"): [92.0, 92.5, 93.0],            # 92.50 ± 0.50
    ("LS", "CIFAR100"): [70.0, 71.0, 72.0],           # 71.00 ± 1.00
    ("LS+LJS", "CIFAR10"): [92.0, 92.5, 93.0],        # identical to the baseline: p = 1
    ("LS+LJS", "CIFAR100"): [70.5, 71.0, 71.5],       # 71.00 ± 0.50, p = 1
    ("LS+LJS+Ladv", "CIFAR10"): [95.0, 95.2, 95.4],   # 95.20 ± 0.20, clearly better
    ("LS+LJS+Ladv", "CIFAR100"): [75.0, 76.0, 77.0],  # 76.00 ± 1.00, t = 6.12, df = 4
}
HAND = {("LS", "CIFAR10"): (92.5, 0.5), ("LS", "CIFAR100"): (71.0, 1.0),
        ("LS+LJS", "CIFAR10"): (92.5, 0.5), ("LS+LJS", "CIFAR100"): (71.0, 0.5),
        ("LS+LJS+Ladv", "CIFAR10"): (95.2, 0.2), ("LS+LJS+Ladv", "CIFAR100"): (76.0, 1.0)}
SIGNIFICANT = {("LS+LJS+Ladv", "CIFAR10"), ("LS+LJS+Ladv", "CIFAR100")}


def _row(trial, loss, dataset, seed, value, status="ok", **extra):
    return {"trial_id": trial, "status": status, "param.loss": loss, "param.dataset": dataset,
            "seed": seed, "test_acc.net0": value, "val_acc.net0": value, "config_json": "{}", **extra}


def _loss_rows():
    rows = []
    # scrambled: the last paper row and the second column come first, an unknown row before all
    rows.append(_row("x0", "extra", "CIFAR100", 0, 50.0))
    for (loss, dataset), values in sorted(LOSS_VALUES.items(), key=lambda kv: (kv[0][1] != "CIFAR100", kv[0][0]),
                                          reverse=True):
        rows += [_row(f"{loss}-{dataset}-{s}", loss, dataset, s, v) for s, v in enumerate(values)]
    # failed / early-stopped trials must not count, whatever they hold
    rows.append(_row("f1", "LS", "CIFAR10", 7, 10.0, status="failed", error="CUDA OOM"))
    rows.append(_row("f2", "LS", "CIFAR10", 8, None, status="failed"))
    rows.append(_row("e1", "LS+LJS+Ladv", "CIFAR100", 9, 1.0, status="early-stopped"))
    rows.append(_row("f3", "LS+L1+Ladv", "CIFAR10", 0, 0.0, status="failed"))
    return rows


@pytest.fixture
def loss_table():
    return build_table(_loss_rows(), LOSS_SPEC, "test_acc.net0", LOSS_PAPER)


def test_mean_std_by_hand(loss_table):
    for (loss, dataset), (mean, std) in HAND.items():
        cell = loss_table.cell(loss, dataset)
        assert cell.n == 3 and cell.seeds == [0, 1, 2]
        assert cell.mean == pytest.approx(mean, abs=1e-12)
        assert cell.std == pytest.approx(std, abs=1e-12)
        assert cell.paper == LOSS_PAPER["values"][loss][dataset]


def test_order_follows_paper_then_first_seen(loss_table):
    assert loss_table.row_labels == ["LS", "LS+LJS", "LS+LJS+Ladv", "extra"]
    assert loss_table.column_labels == ["CIFAR10", "CIFAR100"]
    assert loss_table.cell("extra", "CIFAR100").paper is None
    assert loss_table.cell("extra", "CIFAR10").n == 0


def test_paper_only_labels_kept_on_request():
    table = build_table(_loss_rows(), LOSS_SPEC, "test_acc.net0", LOSS_PAPER, include_missing=True)
    assert table.row_labels == ["LS", "LS+LJS", "LS+L1+Ladv", "LS+LJS+Ladv", "extra"]
    cell = table.cell("LS+L1+Ladv", "CIFAR10")   # only a failed trial: nothing counted
    assert cell.n == 0 and math.isnan(cell.mean) and cell.paper == 93.04 and cell.p_value is None


def test_failed_and_early_stopped_ignored(loss_table):
    assert loss_table.cell("LS", "CIFAR10").values == LOSS_VALUES[("LS", "CIFAR10")]
    assert loss_table.cell("LS+LJS+Ladv", "CIFAR100").n == 3
    with_early = build_table(_loss_rows(), LOSS_SPEC, "test_acc.net0", LOSS_PAPER, statuses=("ok", "early-stopped"))
    assert with_early.cell("LS+LJS+Ladv", "CIFAR100").n == 4


def test_significance_exactly_where_expected(loss_table):
    for row in loss_table.row_labels[:3]:
        for column in loss_table.column_labels:
            cell = loss_table.cell(row, column)
            assert cell.significant == ((row, column) in SIGNIFICANT), (row, column)
            if row == "LS":
                assert cell.p_value is None
    assert loss_table.cell("LS+LJS", "CIFAR10").p_value == pytest.approx(1.0)
    expected = welch_t_test([75.0, 76.0, 77.0], [70.0, 71.0, 72.0])[2]
    assert loss_table.cell("LS+LJS+Ladv", "CIFAR100").p_value == pytest.approx(expected)
    assert loss_table.cell("extra", "CIFAR100").p_value is None   # one seed: not testable


def test_repeated_seed_is_one_sample():
    rows = [_row("a", "LS", "C", 0, 90.0), _row("b", "LS", "C", 0, 92.0), _row("c", "LS", "C", 1, 95.0)]
    cell = build_table(rows, LOSS_SPEC, "test_acc.net0", None).cell("LS", "C")
    assert cell.n == 2 and cell.values == [91.0, 95.0]


def test_axis_label_kept_beside_a_config_key_of_its_name():
    rows = [{"trial_id": f"{m}{s}", "status": "ok", "seed": s, "param.search.method": m,
             "param.method": json.dumps({"name": m.lower()}), "test_acc.net0": 70.0 + s + (m == "DML")}
            for m in ("independent", "DML") for s in range(2)]
    table = build_table(rows, TableSpec(rows="method", baseline="independent"), "test_acc.net0", None)
    assert table.row_labels == ["independent", "DML"] and table.cell("DML").mean == 71.5


def test_identical_constant_rows_not_significant():
    rows = [_row(f"{l}{s}", l, "C", s, 80.0) for l in ("LS", "same") for s in range(3)]
    cell = build_table(rows, LOSS_SPEC, "test_acc.net0", None).cell("same", "C")
    assert cell.std == 0.0 and cell.p_value is None and not cell.significant


# --- rendering ----------------------------------------------------------------------------

def _markdown_rows(text):
    return {line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")[1:]]
            for line in text.splitlines() if line.startswith("| ") and "---" not in line}


def test_markdown(loss_table):
    text = to_markdown(loss_table)
    rows = _markdown_rows(text)
    assert list(rows) == ["loss", "LS", "LS+LJS", "LS+LJS+Ladv", "extra"]
    assert rows["loss"] == ["CIFAR10", "CIFAR100"]
    # mean ± std [95% t interval over seeds] (paper), * where significant after Holm's correction
    cells = {(r, i): c for r in ("LS", "LS+LJS", "LS+LJS+Ladv") for i, c in enumerate(rows[r])}
    for (r, i), text_ in cells.items():
        cell = loss_table.cell(r, loss_table.column_labels[i])
        assert text_.startswith(f"{cell.mean:.2f} ± {cell.std:.2f} [{cell.low:.2f}, {cell.high:.2f}] ({cell.paper:.2f})")
    assert rows["LS"][0].startswith("92.50 ± 0.50 [") and rows["LS+LJS+Ladv"][1].startswith("76.00 ± 1.00 [")
    assert [c.endswith("*") for c in rows["LS+LJS+Ladv"]] == [True, True]
    assert not any(c.endswith("*") for c in rows["LS"] + rows["LS+LJS"])
    assert rows["extra"] == ["–", "50.00"]
    assert sum(line.startswith("| LS |") for line in text.splitlines()) == 1
    assert ("* p < 0.05, Welch's t-test against LS, Holm-corrected over the table's 4 comparisons, n = 1–3 seeds"
            in text)


def test_csv_parses(loss_table):
    records = list(csv.DictReader(io.StringIO(to_csv(loss_table))))
    assert len(records) == 4 * 2
    assert [r["row"] for r in records[::2]] == loss_table.row_labels
    by_cell = {(r["row"], r["column"]): r for r in records}
    assert {k for k, r in by_cell.items() if r["significant"] == "true"} == SIGNIFICANT
    first = by_cell[("LS", "CIFAR10")]
    assert (first["network"], first["n"], float(first["mean"]), float(first["paper"]), first["p_value"]) == \
        ("net0", "3", 92.5, 92.9, "")
    assert float(by_cell[("LS+LJS", "CIFAR10")]["p_value"]) == pytest.approx(1.0)
    assert by_cell[("extra", "CIFAR10")]["mean"] == ""


def test_latex(loss_table):
    text = to_latex(loss_table)
    assert text.startswith(r"\begin{tabular}{lcc}") and text.rstrip().endswith(r"\end{tabular}")
    assert r"$92.50 \pm 0.50$ (92.90)" in text
    body = [line for line in text.splitlines() if line.startswith("LS+LJS+Ladv &")]
    assert len(body) == 1 and body[0].count(r"\textsuperscript{*}") == 2
    assert text.count(r"\textsuperscript{*}") == 2 + 1   # the two cells and the footnote


def test_plot_writes_png(loss_table, tmp_path):
    path = plot_table(loss_table, str(tmp_path / "sub" / "table.png"))
    with open(path, "rb") as fh:
        data = fh.read()
    assert data.startswith(b"\x89PNG") and len(data) > 1000


# --- shipped sweeps: a flat paper table and a two-network table ------------------------------

def test_flat_paper_table_from_tadml_disc(tmp_path):
    spec = load_sweep("tadml_disc")
    structures = {"256fc-256fc": [71.0, 71.2, 71.4], "128fc-256fc-128fc": [73.0, 73.1, 73.2],
                  "96fc-200fc": [72.0, 72.5, 73.0]}
    rows = [{"trial_id": f"{k}{s}", "status": "ok", "param.method.disc_structure": k, "seed": s,
             "param.search.disc_depth": k.count("-") + 1, "test_acc.net0": v}
            for k, values in structures.items() for s, v in enumerate(values)]
    table = build_table(rows, spec.table, "test_acc.net0", spec.paper)
    assert table.column_labels == ["test_acc.net0"]
    assert table.row_labels == ["256fc-256fc", "128fc-256fc-128fc", "96fc-200fc"]
    assert table.cell("128fc-256fc-128fc").paper == 72.51 and table.cell("96fc-200fc").paper is None
    assert table.cell("128fc-256fc-128fc").significant and table.cell("96fc-200fc").significant
    assert len(_markdown_rows(to_markdown(table))) == 4
    assert plot_table(table, str(tmp_path / "disc.png"))


def test_two_network_table_from_tadml_pairs(tmp_path):
    spec = load_sweep("tadml_pairs")
    # (pair, method) -> per seed (net0, net1); TADML lifts net0 only, R32-R110's net1 is ResNet-110
    cells = {("R32-R32", "independent"): [(70.0, 70.1), (70.4, 70.5), (70.8, 70.3)],
             ("R32-R32", "TADML"): [(73.0, 70.1), (73.2, 70.5), (73.4, 70.3)],
             ("R32-R110", "independent"): [(70.2, 73.0), (70.6, 73.4), (70.4, 73.2)],
             ("R32-R110", "TADML"): [(70.3, 73.1), (70.5, 73.3), (70.4, 73.2)]}
    row_col, column_col = f"param.{spec.table.rows}", f"param.{spec.table.columns}"
    rows = [{"trial_id": f"{p}{m}{s}", "status": "ok", row_col: p, column_col: m, "seed": s,
             "param.method": json.dumps({"name": "tadml"}), "test_acc.net0": a, "test_acc.net1": b}
            for (p, m), seeds in cells.items() for s, (a, b) in enumerate(seeds)]
    rows.append({"trial_id": "bad", "status": "failed", row_col: "R32-R32", column_col: "TADML",
                 "seed": 5, "test_acc.net0": None, "test_acc.net1": None})
    table = build_table(rows, spec.table, "test_acc", spec.paper,
                        network_metrics=["test_acc.net0", "test_acc.net1"])
    assert table.row_labels == ["R32-R32", "R32-R110"]
    assert table.column_labels == ["independent", "TADML"]
    assert table.network_labels == ["net0", "net1"]
    net0, net1 = table.cells[("R32-R110", "independent")]
    assert (net0.paper, net1.paper) == (70.47, 73.12)
    assert net1.mean == pytest.approx(73.2) and net1.std == pytest.approx(0.2)
    assert table.baseline_axis == "column"   # "independent" labels a column of Table 5
    assert all(s.p_value is None for s in table.cells[("R32-R32", "independent")])
    assert [s.significant for s in table.cells[("R32-R32", "TADML")]] == [True, False]
    assert [s.significant for s in table.cells[("R32-R110", "TADML")]] == [False, False]

    rows_md = _markdown_rows(to_markdown(table))
    assert rows_md[spec.table.rows] == ["independent net0", "independent net1", "TADML net0", "TADML net1"]
    assert rows_md["R32-R32"][2].startswith("73.20 ± 0.20 [") and rows_md["R32-R32"][2].endswith(" (73.07)*")
    assert not rows_md["R32-R32"][3].endswith("*")
    records = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert len(records) == 2 * 2 * 2 and {r["network"] for r in records} == {"net0", "net1"}
    assert to_latex(table).count(r"\textsuperscript{*}") == 2
    path = plot_table(table, str(tmp_path / "pairs.png"))
    assert open(path, "rb").read(4) == b"\x89PNG"


# --- paper layout: rows not run, columns without trials, a computed parameter column -----------

def test_paper_layout_keeps_unrun_rows_and_columns_and_shows_parameters():
    from types import SimpleNamespace

    spec = SimpleNamespace(rows="algorithm", columns="dataset", baseline="ResNet20", paper_layout=True,
                           row_value="params.student", not_run={"TTQ": "no teacher; not built yet"})
    paper = {"source": "Table 7", "params_m": {"ResNet20": 0.27, "TTQ": 0.27},
             "values": {"ResNet20": {"CIFAR-10": 91.42, "CIFAR-100": 66.63}, "KD": {"CIFAR-10": 91.12},
                        "TTQ": {"CIFAR-10": 91.13}}}
    rows = [{"status": "ok", "seed": s, "param.algorithm": a, "param.dataset": "digits",
             "test_acc.student": v, "params.student": 0.078}
            for s, (a, v) in enumerate([("ResNet20", 90.0), ("ResNet20", 92.0), ("KD", 93.0), ("KD", 95.0)])]
    table = build_table(rows, spec, "test_acc.student", paper)
    assert table.row_labels == ["ResNet20", "KD", "TTQ"]
    assert table.column_labels == ["CIFAR-10", "CIFAR-100", "digits"]
    assert table.cell("KD", "digits").mean == 94.0 and table.cell("KD", "CIFAR-10").n == 0
    assert table.cell("TTQ", "CIFAR-10").paper == 91.13
    md = to_markdown(table)
    ttq = next(line for line in md.splitlines() if line.startswith("| TTQ"))
    assert "not run (91.13)" in ttq and "0.27" in ttq
    assert "TTQ: not run: no teacher; not built yet" in md
    resnet20 = next(line for line in md.splitlines() if line.startswith("| ResNet20"))
    assert "0.08 (0.27)" in resnet20 and "91.00 ± 1.41" in resnet20 and "– (91.42)" in resnet20
    assert "not run" in to_latex(table) and "no teacher" in to_csv(table)


def test_size_column_shows_an_alternative_arch_beside_the_one_run():
    """Table 7's ResNet-164: ours (He et al.'s, 1.70M) and the older builder's (2.54M), which the
    paper's 2.6 matches; only rows that trained the arch named in size_alternatives get it."""
    import json
    from types import SimpleNamespace

    spec = SimpleNamespace(rows="algorithm", columns="dataset", baseline=None, row_value="params.student",
                           size_alternatives={"resnet164": "resnet164_n27"})
    config = lambda arch: json.dumps({"networks": [{"name": "student", "arch": arch}], "data": {"name": "cifar10"}})
    rows = [{"status": "ok", "seed": 0, "param.algorithm": "ResNet164", "param.dataset": "CIFAR-10",
             "test_acc.student": 93.0, "params.student": 1.703258, "config_json": config("resnet164")},
            {"status": "ok", "seed": 0, "param.algorithm": "ResNet20", "param.dataset": "CIFAR-10",
             "test_acc.student": 91.0, "params.student": 0.272474, "config_json": config("resnet20")}]
    table = build_table(rows, spec, "test_acc.student", {"params_m": {"ResNet164": 2.6}})
    assert table.row_values_alternative == {"ResNet164": ("resnet164", "resnet164_n27", 2.537882)}
    md = to_markdown(table)
    line = next(line for line in md.splitlines() if line.startswith("| ResNet164"))
    assert "1.70 / 2.54 (2.60)" in line
    assert "ResNet164: params.student of resnet164 as run / of resnet164_n27" in md
    assert "/" not in next(line for line in md.splitlines() if line.startswith("| ResNet20")).split("|")[2]


def _one_column_rows(values_by_row):
    return [{"status": "ok", "seed": s, "param.algorithm": row, "test_acc.net0": v}
            for row, values in values_by_row.items() for s, v in enumerate(values)]


def test_no_test_and_no_mark_below_three_seeds_and_the_footer_says_why():
    from types import SimpleNamespace

    spec = SimpleNamespace(rows="algorithm", columns=None, baseline="base")
    table = build_table(_one_column_rows({"base": [90.0, 90.1], "better": [95.0, 95.1]}), spec, "test_acc.net0", {})
    cell = table.cell("better")
    assert cell.p_value is None and not cell.significant and table.comparisons == 0
    text = to_markdown(table)
    assert "No significance marks: a test against base needs 3 seeds or more in both cells (n = 2 seeds here)" in text
    assert "*" not in text.replace("**", "") and "paper's value in parentheses" not in text


def test_marks_are_holm_corrected_over_the_tables_comparisons():
    """Two rows whose own p-values are below 0.05 but not after Holm's correction over three."""
    from types import SimpleNamespace

    from platform.evidence_stats import holm
    from platform.welch_test import welch_t_test

    spec = SimpleNamespace(rows="algorithm", columns=None, baseline="base")
    values = {"base": [90.0, 90.6, 89.4], "a": [91.5, 92.1, 90.9], "b": [91.45, 92.05, 90.85],
              "c": [95.0, 95.2, 94.8]}
    table = build_table(_one_column_rows(values), spec, "test_acc.net0", {})
    raw = {r: welch_t_test(values[r], values["base"])[2] for r in ("a", "b", "c")}
    assert raw["a"] < 0.05 and raw["b"] < 0.05
    adjusted = holm(raw)
    assert adjusted["a"] > 0.05 and adjusted["c"] < 0.05
    assert [table.cell(r).significant for r in ("a", "b", "c")] == [False, False, True]
    assert table.cell("a").p_adjusted == pytest.approx(adjusted["a"]) and table.comparisons == 3
    assert "Holm-corrected over the table's 3 comparisons" in to_markdown(table)


def _table_with_teacher(comparable, rows_count=3):
    from types import SimpleNamespace

    spec = SimpleNamespace(rows="algorithm", columns="dataset", baseline="base")
    records = []
    for r in range(rows_count):
        for s in range(3):
            records.append({"status": "ok", "seed": s, "trial_id": f"{r}-{s}", "param.algorithm": "base" if r == 0
                            else f"method{r}", "param.dataset": "digits", "test_acc.student": 90.0 + r + 0.1 * s,
                            "test_acc.teacher": 93.0, "teacher": "resnet14"})
    # a comparable run is on the paper's own data set: its numbers are for the column that ran
    column = "digits" if comparable else "CIFAR-10"
    paper = {"source": "Table 7", "values": {"base": {column: 91.42}, "method1": {column: 92.0}}}
    return build_table(records, spec, "test_acc.student", paper, comparable=comparable, title="t " * 80)


def test_a_teacher_row_shows_what_the_students_were_taught_by():
    table = _table_with_teacher(comparable=False)
    assert table.row_labels[0] == "Teacher (resnet14)"
    cell = table.cell("Teacher (resnet14)", "digits")
    assert cell.mean == 93.0 and cell.n == 3 and cell.p_value is None


def test_a_run_that_is_not_the_papers_setting_puts_the_paper_in_its_own_columns():
    md = to_markdown(_table_with_teacher(comparable=False))
    header = md.splitlines()[2]
    assert header.startswith("| algorithm | digits | paper: CIFAR-10 |") and "(91.42)" not in md
    assert "| base |" in md and "91.42 |" in md and "not comparable with ours" in md
    comparable = to_markdown(_table_with_teacher(comparable=True))
    assert "(91.42)" in comparable and "paper:" not in comparable


def _layout(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return fig.axes[0], fig.bbox, renderer


@pytest.mark.parametrize("comparable", [False, True])
def test_the_bar_chart_starts_at_zero_fits_its_title_and_legends_only_what_it_draws(comparable, tmp_path):
    from platform.ablation_plot import _series, draw

    table = _table_with_teacher(comparable)
    fig = draw(table, table.row_labels, _series(table), str(tmp_path / "t.png"))
    ax, box, renderer = _layout(fig)
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] > 93.0
    title = ax.title.get_window_extent(renderer)
    assert box.x0 <= title.x0 and title.x1 <= box.x1 and title.y1 <= box.y1, "the title is cut off"
    labels = ax.get_legend().get_texts() if ax.get_legend() else []
    drawn = [a.get_label() for a in list(ax.containers) + list(ax.collections) if not a.get_label().startswith("_")]
    assert sorted(t.get_text() for t in labels) == sorted(drawn)
    markers = [c for c in ax.collections if c.get_label().startswith("paper")]
    assert bool(markers) == comparable   # paper diamonds only beside a comparable run


def test_a_table_with_many_rows_is_split_over_readable_figures(tmp_path):
    from platform.ablation_plot import MAX_WIDTH, plot_table_files

    table = _table_with_teacher(comparable=False, rows_count=60)
    paths = plot_table_files(table, str(tmp_path / "table.png"))
    assert len(paths) > 1 and paths[0].endswith("table.png") and all(os.path.isfile(p) for p in paths)
    from PIL import Image

    assert all(Image.open(p).size[0] <= MAX_WIDTH * 110 + 1 for p in paths)
