"""A row's mean gain over groups of rows (seed 002 reports only SCD's gains over
pairs of comparators), computed by hand on a small table, with the paper's
gains beside it; a group with no shared column has no gain; gains name rows."""
import pytest

from distill.errors import ConfigError
from platform.ablation_table import build_table
from platform.table_render import to_markdown
from search_spaces.sweep_spec import GainsSpec, TableSpec, load_sweep

SPEC = TableSpec(rows="algorithm", columns="dataset", baseline="Baseline",
                 gains=GainsSpec(of="SCD", over={"SAD, SP": ["SAD", "SP"], "ONE": ["ONE"]}))
PAPER = {"gains": {"SAD, SP": 1.42, "ONE": 1.13}, "values": {}}


def row(algorithm, dataset, seed, value):
    return {"trial_id": f"{algorithm}-{dataset}-{seed}", "status": "ok", "param.algorithm": algorithm,
            "param.dataset": dataset, "seed": seed, "test_acc.net0": value}


def rows():
    out = []
    means = {("SCD", "A"): (80.0, 82.0), ("SCD", "B"): (60.0, 61.0), ("SAD", "A"): (79.0, 79.0),
             ("SAD", "B"): (58.0, 59.0), ("SP", "A"): (81.5, 82.5), ("Baseline", "A"): (75.0, 76.0)}
    for (algorithm, dataset), values in means.items():
        out += [row(algorithm, dataset, s, v) for s, v in enumerate(values)]
    return out


def test_gains_by_hand():
    table = build_table(rows(), SPEC, "test_acc.net0", PAPER)
    (pair, one) = table.gains
    # SCD means: A 81.0, B 60.5; SAD: A 79.0, B 58.5; SP: A 82.0 (no B run)
    expected = ((81.0 - 79.0) + (60.5 - 58.5) + (81.0 - 82.0)) / 3
    assert pair.group == "SAD, SP" and pair.ours == pytest.approx(expected) and pair.paper == 1.42
    assert pair.columns == ["A", "B"]
    assert one.ours is None and one.columns == [] and one.paper == 1.13   # ONE never ran
    text = to_markdown(table)
    assert f"| SAD, SP | {expected:+.2f} | +1.42 | A, B |" in text and "| ONE | – | +1.13 | – |" in text


def test_gains_name_rows_of_the_axis(tmp_path):
    sweep = tmp_path / "bad_gains.yaml"
    sweep.write_text("""
base: {method: {name: independent}, networks: [{name: net0, arch: resnet8}], data: {name: digits}}
presets: {smoke: {}}
sampler: grid
metric: val_acc.net0
variants: {algorithm: {SCD: {}, SAD: {}}}
table: {rows: algorithm, gains: {of: SCD, over: {"SAD, SP": [SAD, SPKD]}}}
""")
    with pytest.raises(ConfigError) as err:
        load_sweep(str(sweep))
    assert err.value.field == "table.gains.over.SAD, SP" and "SPKD" in str(err.value) and "SCD, SAD" in str(err.value)


def test_self_distill_sweep_carries_the_papers_gains():
    spec = load_sweep("self_distill")
    assert spec.table.gains.of == "SCD"
    assert spec.paper["gains"] == {"SAD, SP": 1.42, "BYOT, ONE": 1.13, "DDGSD, CS-KD": 1.23}
    assert set(spec.variants["algorithm"]) == {"Baseline", "SCD", "SAD", "SP", "BYOT", "ONE", "DDGSD", "CS-KD"}
    assert set(spec.variants["dataset"]) == {"CIFAR-100", "Tiny-ImageNet"}


def test_heads_table_by_hand():
    from platform.head_table import head_markdown

    spec = TableSpec(rows="algorithm", columns="dataset")
    records = [{**row("BYOT", "A", s, 90.0), "test_acc.net0.exit1": e1, "test_acc.net0.exit2": 90.0,
                "test_acc.net0.ensemble": 91.0} for s, e1 in enumerate((60.0, 70.0))]
    records.append({**row("ONE", "A", 0, 92.0), "test_acc.net0.branch1": 92.0, "test_acc.net0.branch2": 93.0,
                    "test_acc.net0.ensemble": 94.0, "test_acc.net1.branch1": 1.0})
    records.append({**row("Baseline", "A", 0, 88.0)})
    records.append({**row("SCD", "A", 0, 50.0), "status": "failed", "test_acc.net0.exit1": 1.0})
    text = head_markdown(records, spec, "net0")
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0] == "| algorithm | dataset | exit1 | exit2 | branch1 | branch2 | ensemble |"
    assert lines[1] == "| BYOT | A | 65.00 ± 7.07 | 90.00 ± 0.00 | – | – | 91.00 ± 0.00 |"
    assert lines[2] == "| ONE | A | – | – | 92.00 | 93.00 | 94.00 |"
    assert len(lines) == 3                                      # no Baseline (no heads), no failed SCD
    assert head_markdown([row("Baseline", "A", 0, 88.0)], spec, "net0") == ""
