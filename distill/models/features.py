"""The feature contract every registered model meets, so a feature loss means
the same thing on every architecture.

``model(x)`` returns logits. ``model.features(x)`` returns a dict:

- ``logits`` (B, classes).
- ``embedding`` (B, D): the globally average-pooled penultimate feature, the
  classifier's input (for pre-activation nets: after the final BN-ReLU).
- ``stem`` (B, C0, H, W): the map that enters the first stage (FSP's first input).
- ``stages_pre``: one map per resolution stage, the stage's last residual sum
  *before* any activation (on post-activation nets: before the block's ReLU).
- ``stages``: one map per stage, **post-activation**: ``relu(stages_pre[i])``.
  For post-activation ResNets this is exactly the stage's output; for
  pre-activation nets (WRN, ResNet-164) the ReLU is applied for the tap only.
- ``conv4``: ``stages[-1]`` (TADML's name for the last stage's map).
- ``stage_outputs``: what each stage hands to the next stage (or to the head):
  ``stages`` on post-activation nets, ``stages_pre`` on pre-activation ones.
  This is what the reference codes read (a group's output: ``relu(o + x)`` in the
  AT authors' ResNets and RepDistiller's ``resnet.py``, the raw residual sum in
  their WRNs), so every stage-reading method reads it (AT, KSANC, HKSANC, SP, FSP,
  FitNet, the exits of BYOT and SCD, SAD, SCD's similarity); a branch that re-runs
  the last stage (ONE) starts from ``stage_outputs[-2]``.

Model attributes: ``stage_channels`` (channels of each stage, in order),
``stem_channels``, ``embedding_dim`` and ``arch`` (the registry name, set by
``build_model``); they size adapters and exit heads without running the model.

Every model with stages is a ``StagedNetwork``: ``stem_forward``, ``stages`` and
``head`` (``head_modules`` name the modules it uses), so ``ModelTail`` can lift the
last stage and head out of a freshly built model as a branch of its own (LeNet-5:
an identity stem, one conv-pool-ReLU block a stage). Stageless MLPs (HintonNet)
return ``logits``, ``embedding`` and empty stage lists only, with
``stage_channels`` ``()``; methods that read stages reject them at validation.
A model built for one image size sets ``input_size`` (H, W); validation rejects a
data set of another size."""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

FEATURE_KEYS = ("logits", "embedding", "stem", "stages_pre", "stages", "conv4", "stage_outputs")


def feature_dict(logits: torch.Tensor, embedding: torch.Tensor, stem: torch.Tensor,
                 stages_pre: Sequence[torch.Tensor], stages: Sequence[torch.Tensor] = None,
                 stage_outputs: Sequence[torch.Tensor] = None) -> dict:
    stages = [F.relu(s) for s in stages_pre] if stages is None else list(stages)
    return {"logits": logits, "embedding": embedding, "stem": stem, "stages_pre": list(stages_pre),
            "stages": stages, "conv4": stages[-1],
            "stage_outputs": list(stages if stage_outputs is None else stage_outputs)}


def run_stage(stage: nn.Sequential, x: torch.Tensor):
    """Run one stage of residual blocks; returns (output, pre-activation sum of its last block).
    Each block has ``residual_sum(x)`` and ``activation`` (ReLU for post-activation blocks,
    identity for pre-activation ones), so ``block(x) == block.activation(block.residual_sum(x))``."""
    blocks: List[nn.Module] = list(stage)
    for block in blocks[:-1]:
        x = block(x)
    pre = blocks[-1].residual_sum(x)
    return blocks[-1].activation(pre), pre


class StagedNetwork(nn.Module):
    """stem -> stages -> head, with the feature contract above. Subclasses set
    ``conv1``..., ``stages`` (a ModuleList), ``post_activation`` (whether a stage's
    output is already activated), and implement ``stem_forward`` and ``head``."""
    post_activation: bool = True
    head_modules: Tuple[str, ...] = ("fc",)

    def stem_forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def head(self, out: torch.Tensor):
        """The last stage's output -> (embedding, logits)."""
        embedding = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
        return embedding, self.fc(embedding)

    def features(self, x):
        stem = out = self.stem_forward(x)
        pres, outs = [], []
        for stage in self.stages:
            out, pre = run_stage(stage, out)
            pres.append(pre)
            outs.append(out)
        embedding, logits = self.head(out)
        return feature_dict(logits, embedding, stem, pres, outs if self.post_activation else None, outs)

    def forward(self, x):
        return self.features(x)["logits"]


class PreActivationNetwork(StagedNetwork):
    """Pre-activation nets (WRN, ResNet-164): a bare conv stem, stages that hand on the
    un-activated residual sum, and a BN-ReLU before pooling in the head."""
    post_activation = False
    head_modules = ("bn", "fc")

    def stem_forward(self, x):
        return self.conv1(x)

    def head(self, out):
        embedding = torch.flatten(F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1), 1)
        return embedding, self.fc(embedding)


class ModelTail(nn.Module):
    """The last stage and the head of ``model`` as a module of its own: a branch that
    starts from ``stage_outputs[-2]`` (ONE's branches, each from a freshly built model so
    branches start from independent initialisations)."""

    def __init__(self, model: StagedNetwork):
        super().__init__()
        self.stage = model.stages[-1]
        for name in model.head_modules:
            setattr(self, name, getattr(model, name))
        self._head = type(model).head   # the model's own head, run over this module's copies

    def forward(self, x: torch.Tensor):
        """-> (embedding, logits)."""
        out, _ = run_stage(self.stage, x)
        return self._head(self, out)
