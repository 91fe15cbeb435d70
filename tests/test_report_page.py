"""report/index.html: one self-contained page per experiment. It loads nothing from the network,
holds the tables and inline plots, shows a config value or an error containing markup as text,
and renders in a real browser (headless Chromium): the screenshot is not blank and the page's own
script counts every table and image as loaded."""
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from platform.report import report_experiment
from platform.trial_records import write_rows

HOSTILE = "<script>alert('x')</script>"


def fabricated_experiment(folder, error=""):
    """A finished tadml_disc ablation's files, 3 seeds x 2 structures, one failed trial."""
    config = {"networks": [{"name": "net0", "arch": "resnet8"}, {"name": "net1", "arch": "resnet8"}],
              "data": {"name": "digits"}, "method": {"name": "adml"}, "seed": 0, "train": {"epochs": 3}}
    rows = []
    for k, structure in enumerate(["128fc-256fc-128fc", "256fc-256fc"]):
        for seed in range(3):
            rows.append({"trial_id": f"t{k}{seed}", "status": "ok", "error": "", "seed": seed, "epochs": 3,
                         "epochs_planned": 3, "wall_seconds": 4.0, "param.method.disc_structure": structure,
                         "val_acc.net0": 90.0 + k + seed, "test_acc.net0": 89.0 + k + 0.5 * seed,
                         "data": "digits", "networks": "net0:resnet8, net1:resnet8", "teacher": "none",
                         "config_json": json.dumps(config), "finished_at": 1000.0 + seed})
    rows.append({"trial_id": "bad", "status": "failed", "error": error or "RuntimeError: boom", "seed": 0,
                 "param.method.disc_structure": "64fc", "config_json": json.dumps(config)})
    write_rows(str(folder / "trials.parquet"), rows)
    meta = {"kind": "ablation", "sweep": "tadml_disc", "preset": "smoke", "metric": "val_acc.net0", "mode": "max",
            "seeds": [0, 1, 2], "overrides": [f"search.note={HOSTILE}"], "fixed": [], "base": config,
            "command": "python -m platform.ablate tadml_disc --preset smoke --seeds 3", "commit": "abc1234",
            "machine": "test machine", "created": "2026-12-07 05:00:00", "started_at": 990.0}
    with open(folder / "experiment.yaml", "w") as fh:
        yaml.safe_dump(meta, fh)
    return folder


@pytest.fixture
def page(tmp_path):
    folder = fabricated_experiment(tmp_path, error=f"ValueError: bad value {HOSTILE}")
    _, written = report_experiment(str(folder))
    path = str(folder / "report" / "index.html")
    assert path in written
    return path


def test_the_page_is_self_contained_with_tables_and_inline_plots(page):
    html = open(page).read()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?://", html)
    assert html.count("<table") >= 3 and "data:image/png;base64," in html
    assert "abc1234" in html and "python -m platform.ablate tadml_disc" in html and "test machine" in html
    assert "python -m distill.train --config" in html and "tensorboard --logdir" in html
    assert "on digits; resnet8" in html   # the table title says what ran
    assert "RuntimeError" not in html and "failed" in html


def test_markup_in_a_config_value_or_an_error_is_shown_as_text(page):
    html = open(page).read()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_page_renders_in_headless_chromium(page, tmp_path):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--allow-file-access-from-files"]
    url = "file://" + os.path.abspath(page)
    dom = subprocess.run([_chromium(), *flags, "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    loaded = re.search(r'data-loaded="tables=(\d+) images=(\d+) of=(\d+)"', dom.stdout)
    assert loaded, dom.stderr[-2000:]
    tables, images, total = map(int, loaded.groups())
    html = open(page).read()
    assert tables == html.count("<table") and images == total == html.count("<img")
    shot = tmp_path / "page.png"
    subprocess.run([_chromium(), *flags, "--window-size=1280,1600", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120)
    from PIL import Image, ImageStat

    image = Image.open(shot).convert("L")
    assert max(ImageStat.Stat(image).stddev) > 10, "the screenshot is blank"


def test_compare_two_experiments_of_one_sweep(tmp_path):
    import pyarrow.parquet as pq

    from sweep_runner import cli_in_process

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    fabricated_experiment(a)
    fabricated_experiment(b)
    rows = pq.read_table(b / "trials.parquet").to_pylist()
    for r in rows:   # B: 2 points worse on the first structure; one seed fewer on the second
        if r.get("param.method.disc_structure") == "128fc-256fc-128fc" and r["status"] == "ok":
            r["test_acc.net0"] -= 2.0 + 0.1 * r["seed"]
    write_rows(str(b / "trials.parquet"), [r for r in rows if r["trial_id"] != "t12"])
    result = cli_in_process("platform.report", "--compare", str(a), str(b))
    assert result.returncode == 0, result.stderr
    lines = {line.split("|")[1].strip(): line.split("|") for line in result.stdout.splitlines()
             if line.startswith("| ")}
    first, second = lines["128fc-256fc-128fc"], lines["256fc-256fc"]
    assert first[6].strip().startswith("+2.10 [") and first[6].strip().endswith("*")   # A − B, significant
    assert "n=2" in second[5] and second[7].strip() == ""   # under 3 seeds: shown, not tested
    assert "1 cell(s) below 3 seeds not tested" in result.stdout
    assert os.path.isfile(a / "report" / "compare-b.md") and os.path.isfile(a / "report" / "compare-b.html")
