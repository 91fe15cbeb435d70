from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import torch

from distill.errors import ConfigError
from distill.registry import Registry

DATASETS: Registry = Registry("data set")
# Cheap checks that a data set's files are in place, run by a sweep's driver
# before any trial starts; data sets that need no files register none.
DATA_CHECKS: Registry = Registry("data check")
# What validation needs to know of a data set without loading it.
DATA_INFO: Registry = Registry("data set")
# How a data set's validation split is held out of train: name -> fn(train: ImageSet, data_cfg) -> (train, val).
# Data sets without one use ``hold_out`` (random images); retrieval sets hold out whole identities,
# CelebA takes its published validation partition.
VAL_SPLITTERS: Registry = Registry("validation splitter")


@dataclass(frozen=True)
class DataInfo:
    num_classes: int
    in_channels: int
    image_size: Tuple[int, int]      # (H, W) of one image as the networks see it
    task: str = "classification"     # "retrieval": val/test labels are person ids, extras hold camera/query
    class_names: Optional[Tuple[str, ...]] = None   # for reports; None where the classes are numbered
    test_class_names: Optional[Tuple[str, ...]] = None   # a retrieval set's unseen test classes, for reports
    flip: bool = True   # whether a horizontal flip is a symmetry of the data (not of digits)
    # a multi-label set read as one binary task: the attribute names ``data.attribute`` may pick
    # (the loader returns them all, ``load_splits`` makes the chosen one the label); None: none
    attributes: Optional[Tuple[str, ...]] = None


@dataclass
class ImageSet:
    images: torch.Tensor   # uint8, (N, C, H, W)
    labels: torch.Tensor   # int64, (N,)
    # per-image metadata an evaluator may need (e.g. camera ids, query/gallery roles), (N,) each; a
    # loader's (N, A) ``attributes`` table is consumed by ``load_splits`` (``select_attribute``)
    extras: Dict[str, torch.Tensor] = field(default_factory=dict)
    kind = "memory"   # which batchers read it (``distill/data/batches.py``)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> Tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def subset(self, index: torch.Tensor) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index], {k: v[index] for k, v in self.extras.items()})

    def to(self, device) -> "ImageSet":
        return ImageSet(self.images.to(device), self.labels.to(device), {k: v.to(device) for k, v in self.extras.items()})


@dataclass
class Splits:
    train: ImageSet
    val: ImageSet
    test: ImageSet
    num_classes: int
    mean: Tuple[float, ...]          # per channel, in [0, 1] units, from the training split (or the loader's)
    std: Tuple[float, ...]
    crop_padding: int                # pad-and-crop augmentation; 0 disables it
    flip: bool                       # horizontal flips are wrong for digits

    @property
    def in_channels(self) -> int:
        return self.val.image_shape[0]   # not train: a data-free run never touches the training split


def hold_out(train: ImageSet, fraction: float, seed: int) -> Tuple[ImageSet, ImageSet]:
    """A validation split held out of the training set, the same for every seed of a sweep."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(train), generator=gen)
    n_val = max(1, int(round(fraction * len(train))))
    return train.subset(order[n_val:].sort().values), train.subset(order[:n_val].sort().values)


def stratified_subset(labels: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """Indices of ``size`` images, as equal a share of every class as the class sizes allow
    (classes take ``size // classes`` each, the remainder going to the first classes), drawn
    with ``seed``; sorted, so the subset keeps the split's order."""
    generator = torch.Generator().manual_seed(seed)
    classes = torch.unique(labels)
    share, extra = divmod(min(size, len(labels)), len(classes))
    picked = []
    for i, c in enumerate(classes):
        members = (labels == c).nonzero().squeeze(1)
        take = min(len(members), share + (1 if i < extra else 0))
        picked.append(members[torch.randperm(len(members), generator=generator)[:take]])
    return torch.sort(torch.cat(picked)).values


def channel_stats(images: torch.Tensor):
    x = images.double() / 255.0
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(mean.tolist()), tuple(std.tolist())


def check_attribute(data_cfg) -> None:
    """``data.attribute`` names one of the data set's attributes (``DataInfo.attributes``); static,
    so a misspelt name is one line before any file is read."""
    attribute = getattr(data_cfg, "attribute", None)
    if attribute is None:
        return
    names = DATA_INFO.get(data_cfg.name, "data.name").attributes
    if not names:
        having = [n for n in DATA_INFO.names() if DATA_INFO.get(n).attributes]
        raise ConfigError("data.attribute", f"data set {data_cfg.name} has no attributes; allowed: unset, or a "
                                            f"data set with attributes ({', '.join(having) or 'none registered'})")
    if attribute not in names:
        raise ConfigError("data.attribute", f"{attribute!r} is not an attribute of {data_cfg.name}; "
                                            f"allowed: {', '.join(names)}")


def select_attribute(sets: Tuple[ImageSet, ...], names, data_cfg) -> Tuple[ImageSet, ...]:
    """An attribute set's loader labels by its default attribute and carries every attribute in
    ``extras["attributes"]`` (N, A) bool, columns named by its meta ``attributes``: relabel by
    ``data.attribute`` when set, and drop the matrix, which no evaluator reads."""
    attribute = getattr(data_cfg, "attribute", None)
    if names is None:
        check_attribute(data_cfg)   # a set without attributes: data.attribute must be unset
        return sets
    if attribute is not None and attribute not in names:
        raise ConfigError("data.attribute", f"{attribute!r} is not an attribute of {data_cfg.name} (its attribute "
                                            f"file); allowed: {', '.join(names)}")
    out = []
    for part in sets:
        extras = dict(part.extras)
        table = extras.pop("attributes")
        labels = part.labels if attribute is None else table[:, list(names).index(attribute)].long()
        out.append(ImageSet(part.images, labels, extras))
    return tuple(out)


def local_root(root):
    """``data.root`` as the loaders read it: an S3 prefix (``s3://bucket/datasets/cifar100``) is
    copied to this node's disk once (``distill/remote_files.py``) and the copy is read; the
    loaders' own caches are written beside it. A folder path is returned as it is."""
    import os

    from distill.remote_files import exists, is_remote, local_copy_path, stage

    if not is_remote(root):
        return root
    if os.path.isdir(local_copy_path(root, "datasets")):   # staged before: no listing of the prefix per trial
        return local_copy_path(root, "datasets")
    try:
        if not exists(root):
            raise ConfigError("data.root", f"{root} holds no files; expected the data set's folder layout under it")
        return stage(root, "datasets")[0]
    except OSError as err:   # no credentials, no such bucket, no network: pyarrow's own one-line reason
        raise ConfigError("data.root", f"{root} cannot be read: {str(err).splitlines()[0]}") from None


def load_splits(data_cfg) -> Splits:
    """Load ``data_cfg.name`` and split it; each data set's loader returns (train, test, meta).
    Normalisation comes from the training split, unless the loader's meta fixes ``mean`` and ``std``
    (the published constants of a reference pipeline, e.g. MNIST's 0.1307 / 0.3081). An attribute
    set (meta ``attributes``) is labelled by ``data.attribute`` first, so subsets stratify by it."""
    loader = DATASETS.get(data_cfg.name, "data.name")
    train, test, meta = loader(local_root(data_cfg.root))
    meta = dict(meta)
    fixed = meta.pop("mean", None), meta.pop("std", None)
    train, test = select_attribute((train, test), meta.pop("attributes", None), data_cfg)
    if data_cfg.name in VAL_SPLITTERS:
        train, val = VAL_SPLITTERS.get(data_cfg.name)(train, data_cfg)
    else:
        train, val = hold_out(train, data_cfg.val_fraction, data_cfg.split_seed)
    if data_cfg.train_subset is not None:
        train = train.subset(stratified_subset(train.labels, data_cfg.train_subset, data_cfg.subset_seed))
    if data_cfg.val_subset is not None:
        val = val.subset(stratified_subset(val.labels, data_cfg.val_subset, data_cfg.subset_seed + 1))
    if data_cfg.train_limit is not None:
        train = train.subset(torch.arange(min(data_cfg.train_limit, len(train))))
    # a split read from files (ImageNet) takes how the run reads them: decode where, with how many workers
    train, val, test = (part.read_with(data_cfg) if hasattr(part, "read_with") else part for part in (train, val, test))
    mean, std = (tuple(fixed[0]), tuple(fixed[1])) if fixed[0] is not None else channel_stats(train.images)
    return Splits(train=train, val=val, test=test, mean=mean, std=std, **meta)


def check_data(data_cfg) -> None:
    DATASETS.get(data_cfg.name, "data.name")
    check_attribute(data_cfg)
    for name in (data_cfg.name, getattr(data_cfg, "transfer", None)):
        if name and name in DATA_CHECKS:
            DATA_CHECKS.get(name)(local_root(data_cfg.root))


_READ: set = set()   # (name, root) pairs this process has read whole


def check_contents(data_cfg) -> None:
    """Read the data set (and its transfer set) once with its own loader, in the process that
    calls this (the sweep driver, before any Ray work): a truncated or mislabelled file, an
    unreadable image or a bad annotation is then one ``ConfigError`` line here, not a remote
    traceback in every trial; image folders are decoded into their uint8 cache now, so trials
    only read it. Each (data set, root) is read once per process."""
    check_data(data_cfg)
    for name in (data_cfg.name, getattr(data_cfg, "transfer", None)):
        key = (name, data_cfg.root)
        if name and key not in _READ:
            DATASETS.get(name, "data.name")(local_root(data_cfg.root))
            _READ.add(key)
