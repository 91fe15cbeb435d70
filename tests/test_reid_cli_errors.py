"""Bad re-identification input to the driver, from the command line: a Market-1501 folder
without one of its subfolders, an image named outside the pattern (the line names the file),
a classification metric on re-id data (from --set and from a sweep file), a DarkRank list
longer than the batch allows. One line naming the field, exit code 2, no traceback, nothing
written: the driver stops before any Ray work."""
import os

import pytest

from sweep_runner import cli_in_process
from test_platform_cli_errors import assert_usage_error

MISNAMED = "0001_c1_000151_01.jpg"   # no sequence digit: outside PPPP_cCsS_FFFFFF_BB.jpg


def market(folder, subfolders, image=None):
    root = folder / "market"
    for sub in subfolders:
        (root / sub).mkdir(parents=True)
    if image:
        (root / "query" / image).write_bytes(b"")
    return str(root)


SWEEP_FILE = """description: a re-id sweep that selects on a classification metric
extends: [tadml_recipe, market_recipe]
presets: {smoke: {trials: 1}}
metric: val_acc.net0
"""


def case_args(case, folder):
    """-> (platform.sweep arguments, words the error line must hold)."""
    real = ["--set", "data.name=market1501"]
    if case == "missing subfolder":
        root = market(folder, ["bounding_box_train", "query"])
        return ["tadml_reid", *real, "--set", f"data.root={root}"], ["data.root", "bounding_box_test", "does not exist"]
    if case == "misnamed image":
        root = market(folder, ["bounding_box_train", "query", "bounding_box_test"], MISNAMED)
        return ["tadml_reid", *real, "--set", f"data.root={root}"], ["data.root", MISNAMED, "PPPP_cCsS"]
    if case == "classification metric by --set":   # dml_smoke selects on val_acc.net0
        return ["dml_smoke", "--set", "data.name=market1501_smoke"], ["metric", "val_acc.net0", "val_map.net0"]
    if case == "classification metric in the sweep file":
        path = folder / "reid_acc.yaml"
        path.write_text(SWEEP_FILE)
        return [str(path)], ["metric", "val_acc.net0", "retrieval", "val_map.net0"]
    # darkrank's soft row ranks a list of 4 other samples: a batch of 4 holds only 3
    return ["darkrank", "--set", "data.batch_size=4"], ["method.list_length", "data.batch_size is 4"]


CASES = ["missing subfolder", "misnamed image", "classification metric by --set",
         "classification metric in the sweep file", "darkrank list too long"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every bad-input run, in this process (the same main, argv, streams and exit code; Ray not started)."""
    out = {}
    for n, case in enumerate(CASES):
        folder = tmp_path_factory.mktemp(f"case{n}")
        args, words = case_args(case, folder)
        storage = folder / "exp"
        out[case] = (cli_in_process("platform.sweep", *args, "--preset", "smoke", "--storage", str(storage)),
                     words, storage)
    return out


@pytest.mark.parametrize("case", CASES)
def test_reid_bad_input(results, case):
    run, words, storage = results[case]
    assert_usage_error(run, *words)
    assert "Ray" not in run.stdout and "experiment:" not in run.stdout
    assert not storage.exists() or not os.listdir(storage)
