"""Batches of a split read from image files (``ImageFiles``): the batch sampler's draws
(the run's generator, as for in-memory splits) become plans (files plus the random numbers
of their crops and flips), and DataLoader worker processes read and decode them, pinned
for the copy to a GPU.

``data.decode``: ``cpu`` decodes and crops in the workers (``data.loader_workers`` of them
per training process); ``device`` has the workers only read the files' bytes and decodes
the batch on the training device (nvJPEG through ``torchvision.io.decode_jpeg`` on CUDA),
crops and flips there: the CPU then only reads files. On a CPU device ``device`` decodes in
the training process (the same code path, for tests)."""
from typing import Iterator, List, Optional

import torch
from torch.utils.data import DataLoader, Dataset

from distill.data.batch import Batch
from distill.data.image_files import ImageFiles, Plan, decode, plan_batch, read_bytes, transform
from distill.data.samplers import BATCH_SAMPLERS, SamplerArgs, batches_per_epoch


class PlanReader(Dataset):
    """``reader[plan]``: the plan's images, decoded and transformed (``cpu``), or their bytes."""

    def __init__(self, files: ImageFiles, on_device: bool, views: int):
        self.files, self.on_device, self.views = files, on_device, views

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, plan: Plan):
        data = [read_bytes(self.files.paths[i]) for i in plan.index]
        if self.on_device:   # one tensor, not one per file: each shared tensor costs a file descriptor
            return torch.cat(data), torch.tensor([len(d) for d in data])
        images = decode(data, torch.device("cpu"))
        return [transform(images, self.files, plan, v) for v in range(self.views)]


def _as_is(item):
    return item


def _loader(reader: PlanReader, plans: List[Plan], workers: int, device: torch.device) -> DataLoader:
    # batch_size=None: each plan is one batch; the plans are the "indices" the reader is given
    return DataLoader(reader, batch_size=None, sampler=plans, num_workers=workers,
                      pin_memory=device.type == "cuda", collate_fn=_as_is)


def _on_device(out, files: ImageFiles, plan: Plan, views: int, device: torch.device, from_bytes: bool):
    """The plan's views as uint8 batches on ``device``."""
    if from_bytes:
        flat, lengths = out
        images = decode(list(torch.split(flat, lengths.tolist())), device)
        return [transform(images, files, plan, v) for v in range(views)]
    return [v.to(device, non_blocking=True) for v in out]


class FileTrainBatches:
    """The ``TrainBatches`` contract over files: same sampler, same sharding of a global batch
    between data-parallel processes, same ``Batch`` out."""

    def __init__(self, data: ImageFiles, batch_size: int, normalize, device, crop_padding: int, flip: bool,
                 augment: bool, generator: torch.Generator, sampler: str = "shuffle",
                 classes_per_batch: Optional[int] = None, num_classes: int = 0, views: int = 1,
                 iterations: Optional[int] = None, shard=None, augment_generator: Optional[torch.Generator] = None):
        self.files = data
        self.labels = data.labels
        self.batch_size = min(batch_size, len(data))
        self.normalize, self.device = normalize, torch.device(device)
        self.flip, self.augment, self.views = flip, augment, views
        self.generator = generator
        self.shard = shard or (lambda index: index)
        self.augment_generator = augment_generator or generator
        self.sampler = BATCH_SAMPLERS.get(sampler, "sampler")
        self.args = SamplerArgs(self.labels, self.batch_size, num_classes, generator, classes_per_batch, iterations)
        self.from_bytes = data.decode == "device"
        self.workers = data.loader_workers

    def __len__(self) -> int:
        return batches_per_epoch(self.args)

    def _plan(self, index: torch.Tensor, views: int) -> Plan:
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=self.augment_generator))
        return plan_batch(index.tolist(), seed, views, self.augment, self.flip)

    def __iter__(self) -> Iterator[Batch]:
        draws = list(self.sampler(self.args))   # the epoch's batches, drawn up front for the workers
        plans, partners = [], []
        for draw in draws:
            index = self.shard(draw.index).cpu()
            plans.append(self._plan(index, self.views))
            partners.append(self._plan(self.shard(draw.partner).cpu(), 1) if draw.partner is not None else None)
        reader = PlanReader(self.files, self.from_bytes, self.views)
        paired = [p for p in partners if p is not None]
        partner_out = iter(_loader(PlanReader(self.files, self.from_bytes, 1), paired, self.workers, self.device)) \
            if paired else None
        for plan, partner, out in zip(plans, partners, _loader(reader, plans, self.workers, self.device)):
            views = [self.normalize(v) for v in _on_device(out, self.files, plan, self.views, self.device,
                                                           self.from_bytes)]
            labels = self.labels[plan.index].to(self.device)
            batch = Batch(images=views[0], labels=labels, views=views)
            if partner is not None:
                batch.partner_images = self.normalize(_on_device(next(partner_out), self.files, partner, 1,
                                                                 self.device, self.from_bytes)[0])
                batch.partner_labels = self.labels[partner.index].to(self.device)
            yield batch


def file_eval_batches(data: ImageFiles, batch_size: int, normalize, device, with_extras: bool = False):
    """(images, labels[, extras]) in order, with the evaluation crops."""
    device = torch.device(device)
    workers, from_bytes = data.loader_workers, data.decode == "device"
    plans = [Plan(list(range(start, min(start + batch_size, len(data)))), None, None)
             for start in range(0, len(data), batch_size)]
    for plan, out in zip(plans, _loader(PlanReader(data, from_bytes, 1), plans, workers, device)):
        images = normalize(_on_device(out, data, plan, 1, device, from_bytes)[0])
        labels = data.labels[plan.index].to(device)
        extras = {k: v[plan.index].to(device) for k, v in data.extras.items()}
        yield (images, labels, extras) if with_extras else (images, labels)
