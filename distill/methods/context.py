"""What a method is given and what it declares. A method receives one
``MethodContext`` (so a new input never changes every method's signature) and
declares, as class attributes, what it ``Needs`` from the networks and which
``DataNeeds`` its batches have."""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from distill.data.batch import Batch  # noqa: F401  (part of the method contract)

LOGITS_ONLY = ("logits",)


@dataclass(frozen=True)
class Needs:
    """What the method reads. ``taps`` and ``teacher_taps`` name keys of the feature
    contract (``distill/models/features.py``); reading only ``logits`` runs the plain
    forward, anything else runs ``features``. ``teacher_grad``: the teacher runs with
    autograd on (its weights stay frozen), e.g. a generator trained through it;
    otherwise it runs under ``torch.inference_mode``."""
    taps: Tuple[str, ...] = LOGITS_ONLY
    teacher: bool = False
    teacher_taps: Tuple[str, ...] = LOGITS_ONLY
    teacher_grad: bool = False
    min_networks: int = 1
    max_networks: Optional[int] = None


@dataclass(frozen=True)
class DataNeeds:
    """What each training batch must hold; served by the sampler registry
    (``distill/data/samplers.py``), not by branches in the batch code.

    ``views``: independently augmented copies of every image (2 for DDGSD).
    ``pairs``: a partner per sample drawn by a named rule (``same_class`` for CS-KD).
    ``real_data``: false for data-free methods: no training image is ever read and
    each batch is empty (the method makes its own inputs).
    ``iterations_per_epoch``: steps per epoch when there is no real data to count.
    ``labels``: whether a term reads the batch's labels (a cross-entropy); a method that
    learns from a teacher alone says no, and may then train on a transfer set."""
    views: int = 1
    pairs: Optional[str] = None
    real_data: bool = True
    iterations_per_epoch: Optional[int] = None
    labels: bool = True


@dataclass
class MethodContext:
    networks: Dict[str, nn.Module]                 # the trained networks, by config name
    teacher: Optional[nn.Module]                   # frozen; never a submodule of the method
    num_classes: int
    input_shape: Tuple[int, int, int]              # (C, H, W) of one normalised image
    stage_channels: Dict[str, Tuple[int, ...]]     # per network name, and "teacher"
    embedding_dims: Dict[str, int]
    train_size: int                                # images in the training split
    epochs: int
    steps_per_epoch: int
    device: torch.device = torch.device("cpu")
    batch_size: int = 0                            # images per training batch (data.batch_size)
    seed: int = 0                                  # the run's seed: a method's own random stream (a generator's noise)
    # the networks' layout (channels_last by default): images a method makes itself should match it
    memory_format: torch.memory_format = torch.contiguous_format
    # the data set's normalisation (per channel, [0, 1] units): images a method makes in pixel
    # space are normalised with it before any network sees them
    input_mean: Tuple[float, ...] = ()
    input_std: Tuple[float, ...] = ()
    # the teacher's weights file, where the files recorded beside it are (its activation statistics)
    teacher_checkpoint: Optional[str] = None

    @property
    def network_names(self) -> List[str]:
        return list(self.networks)


def context_for(networks: Dict[str, nn.Module], num_classes: int, teacher: Optional[nn.Module] = None,
                input_shape: Tuple[int, int, int] = (3, 32, 32), train_size: int = 0, epochs: int = 1,
                steps_per_epoch: int = 1, device: Optional[torch.device] = None, batch_size: int = 0,
                seed: int = 0) -> MethodContext:
    """A context read off built modules (for code that builds a method outside the
    trainer: tests, notebooks); the trainer fills the same fields from the run."""
    nets = dict(networks)
    members = {**nets, **({"teacher": teacher} if teacher is not None else {})}
    return MethodContext(
        networks=nets, teacher=teacher, num_classes=num_classes, input_shape=input_shape,
        stage_channels={k: tuple(getattr(m, "stage_channels", ())) for k, m in members.items()},
        embedding_dims={k: int(getattr(m, "embedding_dim", 0)) for k, m in members.items()},
        train_size=train_size, epochs=epochs, steps_per_epoch=steps_per_epoch, device=device or torch.device("cpu"),
        batch_size=batch_size, seed=seed)
