"""What a discriminator sees of a network (TADML Table 3). Each builder maps a
network's feature taps (and the labels) to one flat vector per image.

Peers may differ in width (WRN-10-4 vs WRN-28-10), yet one discriminator judges
both, so feature maps are average-pooled to a fixed size over channels too
(``POOLED_CHANNELS``): parameter-free, so no peer gets a learnable shortcut."""
from typing import Optional

import torch
import torch.nn.functional as F

from distill.losses.kl_divergence import upcast
from distill.registry import Registry

DISC_INPUTS: Registry = Registry("method.disc_input")
POOLED_CHANNELS = 64
CONV4_GRID = 2      # conv4 keeps a 2x2 spatial layout, so it differs from the pooled embedding


def _pool_channels(x: torch.Tensor) -> torch.Tensor:
    """(B, C, ...) -> (B, POOLED_CHANNELS, ...) by averaging groups of channels (identity for 64)."""
    if x.shape[1] == POOLED_CHANNELS:
        return x
    flat = x.flatten(2).transpose(1, 2) if x.dim() > 2 else x.unsqueeze(1)
    pooled = F.adaptive_avg_pool1d(flat, POOLED_CHANNELS)
    return pooled.transpose(1, 2).reshape(x.shape[0], POOLED_CHANNELS, *x.shape[2:]) if x.dim() > 2 else pooled.squeeze(1)


def conv4_vector(features: dict) -> torch.Tensor:
    conv4 = F.adaptive_avg_pool2d(upcast(features["conv4"]), CONV4_GRID)
    return _pool_channels(conv4).flatten(1)


@DISC_INPUTS.register("fc")
def fc_input(features, labels, num_classes, dae=None):
    return upcast(features["logits"])


@DISC_INPUTS.register("conv4")
def conv4_input(features, labels, num_classes, dae=None):
    return conv4_vector(features)


@DISC_INPUTS.register("conv4+fc")
def conv4_fc_input(features, labels, num_classes, dae=None):
    return torch.cat([conv4_vector(features), upcast(features["logits"])], dim=1)


@DISC_INPUTS.register("fc+label")
def fc_label_input(features, labels, num_classes, dae=None):
    logits = upcast(features["logits"])
    return torch.cat([logits, F.one_hot(labels, num_classes).to(logits.dtype)], dim=1)


@DISC_INPUTS.register("fc+avgfc")
def fc_avgfc_input(features, labels, num_classes, dae=None):
    return torch.cat([upcast(features["logits"]), _pool_channels(upcast(features["embedding"]))], dim=1)


@DISC_INPUTS.register("fc+dae")
def fc_dae_input(features, labels, num_classes, dae=None):
    logits = upcast(features["logits"])
    return torch.cat([logits, dae.code(logits)], dim=1)


def input_size(kind: str, num_classes: int, dae_hidden: int) -> int:
    sizes = {
        "fc": num_classes,
        "conv4": POOLED_CHANNELS * CONV4_GRID ** 2,
        "conv4+fc": POOLED_CHANNELS * CONV4_GRID ** 2 + num_classes,
        "fc+label": 2 * num_classes,
        "fc+avgfc": num_classes + POOLED_CHANNELS,
        "fc+dae": num_classes + dae_hidden,
    }
    return sizes[kind]


def needs_features(kind: str) -> bool:
    return kind in ("conv4", "conv4+fc", "fc+avgfc")


def build_input(kind: str, features: dict, labels: torch.Tensor, num_classes: int, dae: Optional[torch.nn.Module]):
    return DISC_INPUTS.get(kind)(features, labels, num_classes, dae)
