"""The batch-sampler registry serves a method's data needs: two views, same-class
partners, and no real data at all (the training split is never read)."""
import pytest
import torch

from distill.data.batches import Normalizer, TrainBatches
from distill.data.registry import ImageSet
from distill.data.samplers import BATCH_SAMPLERS, same_class_partners, sampler_for
from distill.methods.context import DataNeeds


def data(n=40, classes=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=gen)
    return ImageSet(images, torch.arange(n) % classes)


def batches(sampler, views=1, iterations=None, dataset=None, augment=True):
    normalize = Normalizer((0.5,), (0.25,), torch.device("cpu"), channels_last=False)
    return TrainBatches(dataset, 8, normalize, torch.device("cpu"), 1, True, augment, torch.Generator().manual_seed(1),
                        sampler=sampler, num_classes=4, views=views, iterations=iterations)


def test_registry_names():
    assert {"shuffle", "class_balanced", "same_class", "none"} <= set(BATCH_SAMPLERS.names())


@pytest.mark.parametrize("needs, classes_per_batch, expected", [
    (DataNeeds(), None, "shuffle"),
    (DataNeeds(), 4, "class_balanced"),
    (DataNeeds(pairs="same_class"), None, "same_class"),
    (DataNeeds(real_data=False, iterations_per_epoch=3), None, "none"),
])
def test_sampler_for(needs, classes_per_batch, expected):
    from distill.config import DataConfig

    assert sampler_for(needs, DataConfig(name="digits", classes_per_batch=classes_per_batch))[0] == expected


def test_two_views_are_augmented_independently():
    dataset = data()
    out = list(batches("shuffle", views=2, dataset=dataset))
    assert len(out) == 5
    for batch in out:
        assert len(batch.views) == 2 and batch.images is batch.views[0]
        assert batch.views[0].shape == batch.views[1].shape == (8, 1, 4, 4)
    assert any(not torch.equal(b.views[0], b.views[1]) for b in out)


def test_same_class_partner_is_another_image_of_the_class():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    partner = same_class_partners(labels, torch.Generator().manual_seed(0))
    assert torch.equal(labels[partner], labels)
    alone = labels.bincount()[labels] == 1
    assert torch.equal(partner[alone], torch.arange(len(labels))[alone])
    assert (partner[~alone] != torch.arange(len(labels))[~alone]).all()


def test_same_class_batches_carry_partners():
    dataset = data()
    for batch in batches("same_class", dataset=dataset):
        assert batch.partner_images.shape == batch.images.shape
        assert torch.equal(batch.partner_labels, batch.labels)


def test_no_real_data_reads_nothing():
    out = list(batches("none", iterations=3, dataset=None))
    assert len(out) == 3 and all(b.images is None and b.labels is None for b in out)
