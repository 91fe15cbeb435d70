"""Mini-batches from a device-resident uint8 tensor: the whole split is moved
to the training device once; each step gathers, augments and normalises a
batch there. What a batch holds (views, partners, no data at all) follows the
method's ``DataNeeds`` through the sampler registry (``samplers.py``)."""
from typing import Callable, Iterator, Optional

import torch

from distill.data.augment import random_crop_flip
from distill.data.batch import Batch
from distill.data.registry import ImageSet
from distill.data.samplers import BATCH_SAMPLERS, SamplerArgs, batches_per_epoch
from distill.registry import Registry


class Normalizer:
    def __init__(self, mean, std, device, channels_last: bool):
        shape = (1, len(mean), 1, 1)
        self.scale = (1.0 / (255.0 * torch.tensor(std, dtype=torch.float32))).view(shape).to(device)
        self.shift = (torch.tensor(mean, dtype=torch.float32) / torch.tensor(std, dtype=torch.float32)).view(shape).to(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __call__(self, images_u8: torch.Tensor) -> torch.Tensor:
        x = images_u8.float().mul_(self.scale).sub_(self.shift)
        return x.contiguous(memory_format=self.memory_format)


# how each kind of split (``ImageSet.kind``: "memory"; ``ImageFiles.kind``: "files") is batched
TRAIN_BATCHERS: Registry = Registry("train batcher")
EVAL_BATCHERS: Registry = Registry("eval batcher")


class TrainBatches:
    """One epoch = one pass of the sampler; the last partial batch is dropped when the
    split is larger than a batch (BatchNorm dislikes a batch of 1). With ``data=None``
    (a data-free method) nothing of the training split is held or read."""

    def __init__(self, data: Optional[ImageSet], batch_size: int, normalize: Normalizer, device,
                 crop_padding: int, flip: bool, augment: bool, generator: torch.Generator,
                 sampler: str = "shuffle", classes_per_batch: Optional[int] = None, num_classes: int = 0,
                 views: int = 1, iterations: Optional[int] = None, shard: Optional[Callable] = None,
                 augment_generator: Optional[torch.Generator] = None):
        self.images = data.images.to(device) if data is not None else None
        self.labels = data.labels.to(device) if data is not None else None
        self.batch_size = min(batch_size, len(data)) if data is not None else batch_size
        self.normalize = normalize
        self.crop_padding = crop_padding if augment else 0
        self.flip = flip and augment
        self.generator = generator
        # a data-parallel run: every process draws the same global batches (``generator``), takes
        # its share (``shard``) and augments it with its own generator
        self.shard = shard or (lambda index: index)
        self.augment_generator = augment_generator or generator
        self.views = views
        self.sampler = BATCH_SAMPLERS.get(sampler, "sampler")
        self.args = SamplerArgs(self.labels, self.batch_size, num_classes, generator, classes_per_batch, iterations)

    def __len__(self) -> int:
        return batches_per_epoch(self.args)

    def _augmented(self, index: torch.Tensor) -> torch.Tensor:
        return self.normalize(random_crop_flip(self.images[index], self.crop_padding, self.flip,
                                               self.augment_generator))

    def __iter__(self) -> Iterator[Batch]:
        for draw in self.sampler(self.args):
            if draw.index is None:
                yield Batch(images=None, labels=None)
                continue
            index = self.shard(draw.index)
            views = [self._augmented(index) for _ in range(self.views)]
            batch = Batch(images=views[0], labels=self.labels[index], views=views)
            if draw.partner is not None:
                partner = self.shard(draw.partner)
                batch.partner_images = self._augmented(partner)
                batch.partner_labels = self.labels[partner]
            yield batch


def eval_batches(data: ImageSet, batch_size: int, normalize: Normalizer, device, with_extras: bool = False):
    """(images, labels) in order, or (images, labels, extras) with the per-image metadata."""
    if data.kind != "memory":
        yield from EVAL_BATCHERS.get(data.kind)(data, batch_size, normalize, device, with_extras)
        return
    data = data.to(device)
    for start in range(0, len(data), batch_size):
        part = slice(start, start + batch_size)
        out = (normalize(data.images[part]), data.labels[part])
        yield (*out, {k: v[part] for k, v in data.extras.items()}) if with_extras else out


def _register() -> None:
    from distill.data.file_batches import FileTrainBatches, file_eval_batches

    TRAIN_BATCHERS.register("memory")(TrainBatches)
    TRAIN_BATCHERS.register("files")(FileTrainBatches)
    EVAL_BATCHERS.register("files")(file_eval_batches)


_register()
