"""Identity-disjoint validation for re-identification: whole identities are
held out of the training split, so validation measures retrieval of people the
networks never trained on, as the test split does.

The training ImageSet must carry ``extras["person_id"]`` and ``extras["camera"]``
(its labels are class indices). A fixed set of round(val_fraction x identities)
identities, drawn with ``data.split_seed`` only (so every trial seed of a sweep
sees the same split), becomes the validation split; of each held-out identity,
one image per camera is a query and the others are gallery. Validation labels
are the raw person ids with extras ``camera`` and ``query``, like the test split.
The held-out identities' classifier rows are simply never trained: the class
count stays that of the whole training folder."""
from typing import Tuple

import torch

from distill.data.registry import ImageSet
from distill.errors import ConfigError


def query_mask(person: torch.Tensor, camera: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """True for one randomly chosen image of every (person, camera) pair."""
    _, group = torch.unique(torch.stack([person, camera], dim=1), dim=0, return_inverse=True)
    order = torch.randperm(len(group), generator=generator)
    order = order[torch.sort(group[order], stable=True).indices]      # grouped, random within a group
    first = torch.ones(len(order), dtype=torch.bool)
    first[1:] = group[order][1:] != group[order][:-1]
    mask = torch.zeros(len(order), dtype=torch.bool)
    mask[order[first]] = True
    return mask


def identity_disjoint_split(train: ImageSet, data_cfg) -> Tuple[ImageSet, ImageSet]:
    classes = torch.unique(train.labels)
    if len(classes) < 2:
        raise ConfigError("data.name", f"{data_cfg.name}: an identity-disjoint validation split needs at least "
                                       f"2 training identities, found {len(classes)}")
    n_val = min(len(classes) - 1, max(1, int(round(data_cfg.val_fraction * len(classes)))))
    generator = torch.Generator().manual_seed(data_cfg.split_seed)
    held = classes[torch.randperm(len(classes), generator=generator)[:n_val]]
    is_val = torch.isin(train.labels, held)
    val_index, train_index = is_val.nonzero().squeeze(1), (~is_val).nonzero().squeeze(1)
    person, camera = train.extras["person_id"][val_index], train.extras["camera"][val_index]
    val = ImageSet(train.images[val_index], person.clone(),
                   {"camera": camera.clone(), "query": query_mask(person, camera, generator)})
    return train.subset(train_index), val
