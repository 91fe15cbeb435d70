"""Defects inside data files are refused by the driver before any Ray work, in one line naming
the file, with no experiment folder written: the data set is read whole by its own loader there
(and image folders decoded into their cache), not first inside a teacher task or a trial."""
import bz2
import os

import pytest

from distill.config import DataConfig
from distill.data.registry import check_contents
from distill.errors import ConfigError
from sweep_runner import cli_in_process
from test_market1501 import cfg as market_cfg
from test_market1501 import save, write_market
from test_mnist_usps import make_mnist
from test_tiny_imagenet import write_tiny


def one_line(call):
    with pytest.raises(ConfigError) as err:
        call()
    assert "\n" not in str(err.value)
    return str(err.value)


def test_a_truncated_idx_file_is_one_line_before_ray_and_writes_nothing(tmp_path):
    folder = make_mnist(str(tmp_path / "mnist"), gz=False)
    path = os.path.join(folder, "train-images-idx3-ubyte")
    os.truncate(path, os.path.getsize(path) - 1000)
    result = cli_in_process("platform.sweep", "kd_temperature", "--preset", "smoke", "--trials", "1",
                            "--set", "data.name=mnist", "--set", f"data.root={folder}",
                            "--storage", str(tmp_path / "exp"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and path in lines[0] and "not a whole IDX images file" in lines[0]
    assert not (tmp_path / "exp").exists()


def test_idx_label_count_differs_from_the_image_count(tmp_path):
    folder = make_mnist(str(tmp_path), gz=False)
    from test_mnist_usps import write_idx
    import numpy as np

    write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), np.zeros(5, np.uint8), 2049, False)
    text = one_line(lambda: check_contents(DataConfig(name="mnist", root=folder)))
    assert "t10k-labels-idx1-ubyte" in text and "labels for the" in text


def test_a_usps_file_that_is_not_bzip2(tmp_path):
    (tmp_path / "usps.bz2").write_bytes(b"plain text, not bzip2")
    (tmp_path / "usps.t.bz2").write_bytes(bz2.compress(b"1 1:0.5\n"))
    text = one_line(lambda: check_contents(DataConfig(name="usps", root=str(tmp_path))))
    assert "usps.bz2" in text and "bzip2" in text


def test_a_tiny_imagenet_annotation_naming_a_missing_image(tmp_path):
    folder = write_tiny(tmp_path)
    (folder / "val" / "images" / "val_b.JPEG").unlink()   # val_annotations.txt still names it
    text = one_line(lambda: check_contents(DataConfig(name="tiny_imagenet", root=str(tmp_path))))
    assert "val_b.JPEG" in text


def test_a_market_jpeg_that_is_not_one_is_found_by_the_driver(tmp_path):
    root = write_market(tmp_path)
    bad = sorted((root / "bounding_box_train").glob("0002_*.jpg"))[0]   # not the junk image (-1), which is skipped
    bad.write_bytes(os.urandom(3000))
    text = one_line(lambda: check_contents(market_cfg(root)))
    assert str(bad) in text and "not a readable image" in text


def test_an_empty_query_folder_is_refused(tmp_path):
    root = write_market(tmp_path)
    for path in (root / "query").glob("*.jpg"):
        path.unlink()
    text = one_line(lambda: check_contents(market_cfg(root)))
    assert "query" in text and "no images" in text


def test_a_camera_outside_one_to_six_is_refused(tmp_path):
    root = write_market(tmp_path)
    save(root / "bounding_box_test", 1, 9, 77777)
    text = one_line(lambda: check_contents(market_cfg(root)))
    assert "camera 9" in text and "1-6" in text


def test_a_query_identity_missing_from_the_gallery_is_a_warning_with_a_count(tmp_path, capsys):
    root = write_market(tmp_path)
    save(root / "query", 42, 2, 88888)
    check_contents(market_cfg(root))
    out = capsys.readouterr().out
    assert "warning: 1 query identity" in out and "0042" in out
