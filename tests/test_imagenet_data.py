"""``imagenet`` read from its folder as it trains: every val layout through the registered
data set (the official val set is the test split, the validation split is held out of
train), the standard transforms (random-resized crop and flip for training, resize 256 and
centre crop 224 for evaluation, ImageNet's mean and std), the same batches from the same
seed whichever process or device decodes them, each data-parallel rank its own half."""
import dataclasses

import pytest
import torch

from distill.config import config_from_dict
from distill.data import load_splits
from distill.data import imagenet as imagenet_module
from distill.data.batches import Normalizer, eval_batches
from distill.data.file_batches import FileTrainBatches
from distill.data.image_files import TRIES, crop_box, plan_batch
from distill.data_parallel import ParallelGroup
from distill.errors import ConfigError
from test_imagenet_folder import WNIDS, make


def data_cfg(root, **extra):
    return config_from_dict({"method": {"name": "independent"},
                             "networks": [{"name": "net0", "arch": "resnet18_imagenet"}],
                             "data": {"name": "imagenet", "root": str(root), "val_fraction": 0.34,
                                      "loader_workers": 0, **extra}}).data


@pytest.fixture
def three_classes(monkeypatch):
    monkeypatch.setattr(imagenet_module, "CLASSES", len(WNIDS))   # the generated folders hold 3 wnids


@pytest.mark.parametrize("layout", ["sorted", "devkit", "kaggle"])
def test_every_val_layout_loads_as_the_test_split(tmp_path, three_classes, layout):
    splits = load_splits(data_cfg(make(tmp_path, layout)))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (4, 2, 4)   # val held out of train
    assert sorted(splits.test.labels.tolist()) == [0, 1, 1, 2]
    assert splits.mean == (0.485, 0.456, 0.406) and splits.std == (0.229, 0.224, 0.225)
    assert splits.val.image_shape == (3, 224, 224) and splits.in_channels == 3
    normalize = Normalizer(splits.mean, splits.std, "cpu", channels_last=False)
    images, labels = next(eval_batches(splits.test, 8, normalize, "cpu"))
    assert images.shape == (4, 3, 224, 224) and labels.tolist() == splits.test.labels.tolist()


def test_a_folder_without_the_thousand_classes_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"data.root: .*has 3 <wnid>/ class folders; ILSVRC-2012 has 1000"):
        load_splits(data_cfg(make(tmp_path, "sorted")))


def test_the_evaluation_crop_is_torchvisions_resize_256_centre_224(tmp_path, three_classes):
    from PIL import Image
    from torchvision import transforms

    splits = load_splits(data_cfg(make(tmp_path, "sorted")))
    identity = Normalizer((0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255), "cpu", channels_last=False)
    ours, _ = next(eval_batches(splits.test, 1, identity, "cpu"))
    reference = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.PILToTensor()])
    theirs = reference(Image.open(splits.test.paths[0]).convert("RGB"))
    # PIL's and torch's antialiased bilinear resizes differ by rounding only
    assert (ours[0].round() - theirs.float()).abs().mean() < 2.0


def test_a_crop_box_keeps_torchvisions_ranges():
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        top, left, h, w = crop_box(375, 500, torch.rand(TRIES, 4, generator=generator, dtype=torch.float64))
        assert 0 <= top <= 375 - h and 0 <= left <= 500 - w
        assert 0.08 * 0.99 <= h * w / (375 * 500) <= 1.0 and 3 / 4 * 0.97 <= w / h <= 4 / 3 * 1.03
    # no try fits a 1x50 strip: the centre crop of the nearest allowed aspect
    assert crop_box(1, 50, torch.ones(TRIES, 4, dtype=torch.float64)) == (0, 24, 1, 1)


def batches(splits, decode="cpu", shard=None, seed=0):
    files = dataclasses.replace(splits.train, decode=decode)
    normalize = Normalizer(splits.mean, splits.std, "cpu", channels_last=False)
    return list(FileTrainBatches(files, 2, normalize, "cpu", 0, True, True, torch.Generator().manual_seed(seed),
                                 shard=shard))


def test_the_same_seed_gives_the_same_batches_on_either_decode_path(tmp_path, three_classes):
    splits = load_splits(data_cfg(make(tmp_path, "kaggle")))
    first, again, device = batches(splits), batches(splits), batches(splits, decode="device")
    assert len(first) == 2 and first[0].images.shape == (2, 3, 224, 224)
    for a, b, c in zip(first, again, device):
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
        assert torch.equal(a.images, c.images)   # crops drawn before decoding: the same boxes
    assert not torch.equal(first[0].images, batches(splits, seed=1)[0].images)


def test_data_parallel_ranks_read_their_own_half_of_each_global_batch(tmp_path, three_classes):
    splits = load_splits(data_cfg(make(tmp_path, "sorted")))
    whole = batches(splits)
    halves = [batches(splits, shard=ParallelGroup(rank, 2).shard) for rank in range(2)]
    for step, batch in enumerate(whole):
        assert torch.equal(torch.cat([halves[0][step].labels, halves[1][step].labels]), batch.labels)
        assert all(h[step].images.shape[0] == 1 for h in halves)


def test_an_unaugmented_plan_draws_nothing():
    assert plan_batch([0, 1], seed=3, views=1, augment=False).draws is None
