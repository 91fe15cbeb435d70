"""Mini-batches from a device-resident uint8 tensor: the whole split is moved
to the training device once; each step gathers, augments and normalises a
batch there. Shuffling uses a CPU generator whose state is checkpointed."""
from typing import Iterator, Optional, Tuple

import torch

from distill.data.augment import random_crop_flip
from distill.data.class_balanced import class_balanced_batches
from distill.data.registry import ImageSet


class Normalizer:
    def __init__(self, mean, std, device, channels_last: bool):
        shape = (1, len(mean), 1, 1)
        self.scale = (1.0 / (255.0 * torch.tensor(std, dtype=torch.float32))).view(shape).to(device)
        self.shift = (torch.tensor(mean, dtype=torch.float32) / torch.tensor(std, dtype=torch.float32)).view(shape).to(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __call__(self, images_u8: torch.Tensor) -> torch.Tensor:
        x = images_u8.float().mul_(self.scale).sub_(self.shift)
        return x.contiguous(memory_format=self.memory_format)


class TrainBatches:
    """One epoch = one pass over a fresh permutation; the last partial batch is dropped
    when the split is larger than a batch (BatchNorm dislikes a batch of 1)."""

    def __init__(self, data: ImageSet, batch_size: int, normalize: Normalizer, device,
                 crop_padding: int, flip: bool, augment: bool, generator: torch.Generator,
                 classes_per_batch: Optional[int] = None, num_classes: int = 0):
        self.images = data.images.to(device)
        self.labels = data.labels.to(device)
        self.batch_size = min(batch_size, len(data))
        self.normalize = normalize
        self.crop_padding = crop_padding if augment else 0
        self.flip = flip and augment
        self.generator = generator
        self.classes_per_batch = classes_per_batch
        self.num_classes = num_classes

    def __len__(self) -> int:
        return len(self.labels) // self.batch_size

    def batch_indices(self) -> Iterator[torch.Tensor]:
        if self.classes_per_batch:
            yield from class_balanced_batches(self.labels, self.batch_size, self.classes_per_batch,
                                              self.num_classes, self.generator)
            return
        order = torch.randperm(len(self.labels), generator=self.generator).to(self.images.device)
        for i in range(len(self)):
            yield order[i * self.batch_size:(i + 1) * self.batch_size]

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        for index in self.batch_indices():
            images = random_crop_flip(self.images[index], self.crop_padding, self.flip, self.generator)
            yield self.normalize(images), self.labels[index]


def eval_batches(data: ImageSet, batch_size: int, normalize: Normalizer, device):
    images, labels = data.images.to(device), data.labels.to(device)
    for start in range(0, len(labels), batch_size):
        yield normalize(images[start:start + batch_size]), labels[start:start + batch_size]
