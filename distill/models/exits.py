"""Auxiliary exits for self-distillation (BYOT's design): after each stage but
the last, a bottleneck block (1x1 conv to the stage's width, 3x3 conv at stride
2, 1x1 conv to the network's embedding width, each followed by BN and ReLU),
global average pooling and an FC classifier. The exit's pooled feature has the
network's embedding width, so it can be regressed onto the deepest feature
(BYOT's hint). The deepest exit is the network's own head.

Exits are modules a method trains with its network (``Method.train_with``);
they read ``features["stage_outputs"]`` (what each stage hands to the next: BYOT's
code feeds each ``layerN`` output to its exit), so any model meeting the feature
contract with two or more stages can carry them."""
from typing import List, Sequence, Tuple

import torch
from torch import nn


class ExitHead(nn.Module):
    def __init__(self, in_channels: int, embedding_dim: int, num_classes: int):
        super().__init__()
        width = in_channels
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, embedding_dim, 1, bias=False), nn.BatchNorm2d(embedding_dim), nn.ReLU(inplace=True))
        self.fc = nn.Linear(embedding_dim, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, stage_map: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """-> (pooled feature (B, embedding_dim), logits)."""
        embedding = torch.flatten(nn.functional.adaptive_avg_pool2d(self.block(stage_map), 1), 1)
        return embedding, self.fc(embedding)


def build_exits(stage_channels: Sequence[int], embedding_dim: int, num_classes: int) -> nn.ModuleList:
    """One exit after every stage but the last (whose exit is the network's head)."""
    return nn.ModuleList(ExitHead(c, embedding_dim, num_classes) for c in list(stage_channels)[:-1])


def exit_outputs(exits: nn.ModuleList, features: dict) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
    """(embeddings, logits) of every exit, shallowest first; the last pair is the network's own."""
    embeddings, logits = [], []
    for head, stage_map in zip(exits, features["stage_outputs"]):
        embedding, out = head(stage_map)
        embeddings.append(embedding)
        logits.append(out)
    return embeddings + [features["embedding"]], logits + [features["logits"]]
