"""Fashion-MNIST from IDX files in the real format (small generated ones): the
classification sets, the class-disjoint retrieval set, where the files are looked
for when data.root is not set, and the one line when they are missing."""
import os

import pytest
import torch

from distill.config import DataConfig
from distill.data import DATA_INFO, load_splits
from distill.data import fashion_mnist
from distill.data.registry import check_data
from distill.errors import ConfigError
from test_mnist_usps import ids_of, make_mnist

NAMES = ("fashion_mnist", "fashion_mnist32", "fashion_mnist32_retrieval")


def make_fashion(root, n_train=200, n_test=100, layout="flat"):
    folder = make_mnist(str(root), n_train=n_train, n_test=n_test)
    if layout == "torchvision":
        target = os.path.join(str(root), "FashionMNIST", "raw")
        os.makedirs(target, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".gz"):
                os.replace(os.path.join(folder, name), os.path.join(target, name))
        return target
    return folder


def cfg(name, root, **kw):
    return DataConfig(name=name, root=str(root) if root is not None else None, **kw)


def test_classification_sets_read_the_files_with_the_published_normalisation(tmp_path):
    make_fashion(tmp_path)
    splits = load_splits(cfg("fashion_mnist", tmp_path))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (180, 20, 100)
    assert splits.mean == (0.2860,) and splits.std == (0.3530,)
    assert sorted(ids_of(splits.train.images) + ids_of(splits.val.images)) == list(range(200))
    big = load_splits(cfg("fashion_mnist32", tmp_path))
    assert tuple(big.train.images.shape[-2:]) == (32, 32)
    info = DATA_INFO.get("fashion_mnist")
    assert info.num_classes == 10 and info.class_names[0] == "T-shirt/top" and info.class_names[9] == "Ankle boot"


def test_retrieval_set_trains_on_classes_0_to_4_and_ranks_unseen_classes_5_to_9(tmp_path):
    make_fashion(tmp_path)   # train label i*3 % 10, test label (i+1) % 10
    splits = load_splits(cfg("fashion_mnist32_retrieval", tmp_path))
    assert set(splits.train.labels.tolist()) <= {0, 1, 2, 3, 4}
    assert DATA_INFO.get("fashion_mnist32_retrieval").task == "retrieval"
    # test: classes 5..9 only, as person ids 6..10; every 10th image of a class (file order) a query
    assert set(splits.test.labels.tolist()) == {6, 7, 8, 9, 10}
    # (the retrieval set is 32x32: resized pixels no longer carry the generated ids)
    assert len(splits.test) == sum((1000 + k + 1) % 10 >= 5 for k in range(100))
    query, camera = splits.test.extras["query"], splits.test.extras["camera"]
    for c in range(6, 11):
        members = (splits.test.labels == c).nonzero().squeeze(1)
        assert query[members].tolist() == [k % 10 == 0 for k in range(len(members))]
    assert torch.equal(camera, (~query).long())
    # validation: held-out training images of the seen classes, disjoint from train, queries in each class
    assert set(splits.val.labels.tolist()) <= {1, 2, 3, 4, 5} and splits.val.extras["query"].any()
    assert len(splits.val) + len(splits.train) == sum(i * 3 % 10 < 5 for i in range(200))


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_default_folders_are_searched_when_data_root_is_not_set(tmp_path, monkeypatch, layout):
    folder = make_fashion(tmp_path / "cache", layout=layout)
    layout_obj = fashion_mnist.LAYOUT
    monkeypatch.setattr(fashion_mnist, "LAYOUT", type(layout_obj)(
        title=layout_obj.title, torchvision=layout_obj.torchvision, provided_by=layout_obj.provided_by,
        default_folders=(str(tmp_path / "absent"), str(tmp_path / "cache"))))
    check_data(cfg("fashion_mnist", None))
    assert len(load_splits(cfg("fashion_mnist", None)).test) == 100
    assert os.path.isdir(folder)


def test_missing_files_are_one_line_naming_the_package(tmp_path, monkeypatch):
    layout_obj = fashion_mnist.LAYOUT
    monkeypatch.setattr(fashion_mnist, "LAYOUT", type(layout_obj)(
        title=layout_obj.title, torchvision=layout_obj.torchvision, provided_by=layout_obj.provided_by,
        default_folders=(str(tmp_path / "nowhere"),)))
    for name in NAMES:
        with pytest.raises(ConfigError) as err:
            check_data(cfg(name, None))
        text = str(err.value)
        assert err.value.field == "data.root" and "\n" not in text
        assert "apt-get install dataset-fashion-mnist" in text and str(tmp_path / "nowhere") in text


def test_a_root_without_the_files_names_what_is_missing(tmp_path):
    folder = make_fashion(tmp_path)
    os.remove(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))
    with pytest.raises(ConfigError) as err:
        check_data(cfg("fashion_mnist", tmp_path))
    assert "t10k-labels-idx1-ubyte" in str(err.value) and "\n" not in str(err.value)


def test_the_debian_folder_is_the_first_place_looked():
    assert fashion_mnist.LAYOUT.default_folders[0] == "/usr/share/datasets/fashion-mnist"
