"""ImageNet's folder layouts (written here as users have them: real JPEG files, the devkit's
MATLAB synset table and ground truth, the Kaggle CSV): each gives the same classes and
labels, and every missing or inconsistent label file is one line naming data.root."""
import os

import numpy as np
import pytest
from PIL import Image

from distill.data.imagenet_folder import DEVKIT, GROUND_TRUTH, KAGGLE, META, imagenet_listing
from distill.errors import ConfigError

WNIDS = ["n01440764", "n01443537", "n01484850"]   # sorted: the class order
IDS = {"n01440764": 449, "n01443537": 450, "n01484850": 442}   # the devkit's ILSVRC2012_IDs of those synsets
VAL = [("ILSVRC2012_val_00000001.JPEG", "n01443537"), ("ILSVRC2012_val_00000002.JPEG", "n01440764"),
       ("ILSVRC2012_val_00000003.JPEG", "n01484850"), ("ILSVRC2012_val_00000004.JPEG", "n01443537")]


def jpeg(path, seed):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG")


def write_train(root):
    for c, wnid in enumerate(WNIDS):
        for i in range(2):
            jpeg(os.path.join(root, "train", wnid, f"{wnid}_{i}.JPEG"), 10 * c + i)


def write_meta(path, extra_nonleaf=True):
    from scipy.io import savemat

    rows = [(IDS[w], w, 0) for w in WNIDS] + ([(1001, "n00001740", 2)] if extra_nonleaf else [])
    synsets = np.array([tuple(np.array(v) for v in row) for row in rows],
                       dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("num_children", "O")])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    savemat(path, {"synsets": synsets})


def make(root, layout):
    write_train(root)
    for i, (name, wnid) in enumerate(VAL):
        folder = os.path.join(root, "val", wnid) if layout == "sorted" else os.path.join(root, "val")
        jpeg(os.path.join(folder, name), 100 + i)
    if layout == "devkit":
        write_meta(os.path.join(root, DEVKIT, META))
        with open(os.path.join(root, DEVKIT, GROUND_TRUTH), "w") as fh:
            fh.write("".join(f"{IDS[w]}\n" for _, w in VAL))
    if layout == "kaggle":
        with open(os.path.join(root, KAGGLE), "w") as fh:
            fh.write("ImageId,PredictionString\n")
            for name, wnid in reversed(VAL):   # any row order
                fh.write(f"{name[:-5]},{wnid} 1 2 10 11 {wnid} 0 0 5 5\n")
    return str(root)


def labelled(listing):
    return sorted((os.path.basename(path), label) for path, label in listing)


@pytest.mark.parametrize("layout", ["sorted", "devkit", "kaggle"])
def test_every_val_layout_gives_the_same_classes_and_labels(tmp_path, layout):
    wnids, train, test = imagenet_listing(make(tmp_path, layout))
    assert wnids == WNIDS
    assert labelled(train) == sorted((f"{w}_{i}.JPEG", c) for c, w in enumerate(WNIDS) for i in range(2))
    assert labelled(test) == sorted((name, WNIDS.index(w)) for name, w in VAL)
    assert all(os.path.isfile(path) for path, _ in train + test)


def one_line(root, *needles):
    with pytest.raises(ConfigError) as err:
        imagenet_listing(str(root))
    assert err.value.field == "data.root" and "\n" not in str(err.value)
    for needle in needles:
        assert needle in str(err.value), str(err.value)


def test_a_flat_val_without_a_label_file_is_one_line(tmp_path):
    make(tmp_path, "flat")
    one_line(tmp_path, "no label file", GROUND_TRUTH, KAGGLE)


def test_the_devkit_ground_truth_without_its_synset_table_is_one_line(tmp_path):
    make(tmp_path, "devkit")
    os.remove(os.path.join(tmp_path, DEVKIT, META))
    one_line(tmp_path, META)


def test_a_ground_truth_with_a_line_short_is_one_line(tmp_path):
    make(tmp_path, "devkit")
    path = tmp_path / DEVKIT / GROUND_TRUTH
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    one_line(tmp_path, GROUND_TRUTH, "3 labels for the 4 images")


def test_a_ground_truth_id_outside_the_leaf_synsets_is_one_line(tmp_path):
    make(tmp_path, "devkit")
    (tmp_path / DEVKIT / GROUND_TRUTH).write_text("449\n1001\n442\n450\n")   # 1001: a synset with children, not a class
    one_line(tmp_path, "line 2", "'1001'")


def test_a_kaggle_row_for_an_image_val_lacks_is_one_line(tmp_path):
    make(tmp_path, "kaggle")
    with open(os.path.join(tmp_path, KAGGLE), "a") as fh:
        fh.write("ILSVRC2012_val_00000009,n01440764 1 2 3 4\n")
    one_line(tmp_path, KAGGLE, "ILSVRC2012_val_00000009")


def test_a_val_image_the_kaggle_file_does_not_label_is_one_line(tmp_path):
    make(tmp_path, "kaggle")
    jpeg(os.path.join(tmp_path, "val", "ILSVRC2012_val_00000005.JPEG"), 7)
    one_line(tmp_path, "ILSVRC2012_val_00000005.JPEG", "no label")


def test_a_label_naming_a_class_train_lacks_is_one_line(tmp_path):
    make(tmp_path, "kaggle")
    path = tmp_path / KAGGLE
    path.write_text(path.read_text().replace("n01484850 1 2", "n09999999 1 2"))
    one_line(tmp_path, "n09999999", "not a class of train/")


def test_a_sorted_val_folder_train_lacks_is_one_line(tmp_path):
    make(tmp_path, "sorted")
    jpeg(os.path.join(tmp_path, "val", "n09999999", "x.JPEG"), 3)
    one_line(tmp_path, "n09999999", "not a class of train/")


def test_an_incomplete_folder_is_one_line(tmp_path):
    os.makedirs(tmp_path / "train" / "n01440764")
    os.makedirs(tmp_path / "val")
    one_line(tmp_path, "holds no images")
