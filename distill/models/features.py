"""The feature contract every registered model meets, so a feature loss means
the same thing on every architecture.

``model(x)`` returns logits. ``model.features(x)`` returns a dict:

- ``logits`` (B, classes).
- ``embedding`` (B, D): the globally average-pooled penultimate feature, the
  classifier's input (for pre-activation nets: after the final BN-ReLU).
- ``stem`` (B, C0, H, W): the map that enters the first stage (FSP's first input).
- ``stages_pre``: one map per resolution stage, the stage's last residual sum
  *before* any activation. This is the tap of Attention Transfer's reference
  code (WRN group outputs) and of RepDistiller's ``preact=True``.
- ``stages``: one map per stage, **post-activation**: ``relu(stages_pre[i])``.
  For post-activation ResNets this is exactly the stage's output; for
  pre-activation nets (WRN, ResNet-164) the ReLU is applied for the tap only.
  This is RepDistiller's default ``is_feat`` tap (FitNet, SP, FSP).
- ``conv4``: ``stages[-1]`` (TADML's name for the last stage's map).

Model attributes: ``stage_channels`` (channels of each stage, in order),
``stem_channels`` and ``embedding_dim``; they size adapters and exit heads
without running the model."""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

FEATURE_KEYS = ("logits", "embedding", "stem", "stages_pre", "stages", "conv4")


def feature_dict(logits: torch.Tensor, embedding: torch.Tensor, stem: torch.Tensor,
                 stages_pre: Sequence[torch.Tensor], stages: Sequence[torch.Tensor] = None) -> dict:
    stages = [F.relu(s) for s in stages_pre] if stages is None else list(stages)
    return {"logits": logits, "embedding": embedding, "stem": stem, "stages_pre": list(stages_pre),
            "stages": stages, "conv4": stages[-1]}


def run_stage(stage: nn.Sequential, x: torch.Tensor):
    """Run one stage of residual blocks; returns (output, pre-activation sum of its last block).
    Each block has ``residual_sum(x)`` and ``activation`` (ReLU for post-activation blocks,
    identity for pre-activation ones), so ``block(x) == block.activation(block.residual_sum(x))``."""
    blocks: List[nn.Module] = list(stage)
    for block in blocks[:-1]:
        x = block(x)
    pre = blocks[-1].residual_sum(x)
    return blocks[-1].activation(pre), pre
