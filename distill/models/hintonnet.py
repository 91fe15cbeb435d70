"""HintonNet, the MLPs of DAFL's MNIST experiment (after Hinton et al. 2015): the
teacher 784-1200-1200-classes, the student 784-800-800-classes, ReLU between layers,
on the flattened image (``in_channels * image_size**2`` inputs; 28x28 MNIST: 784).

They have no convolutional stages, so they meet the feature contract
(``distill/models/features.py``) only where it applies: ``features(x)`` holds
``logits``, ``embedding`` (the last hidden layer, the classifier ``fc``'s input) and
empty ``stages_pre`` / ``stages`` / ``stage_outputs``; ``stem`` and ``conv4`` (maps
that do not exist here) are absent. ``stage_channels`` is ``()`` and ``stem_channels``
0, so every method that reads stages rejects these models at validation with one
line naming the network's ``arch``; they are not ``StagedNetwork``s (no last stage
for ONE's branches). ``input_size`` is the image size the first layer is built for;
validation rejects a data set of another size."""
import functools
from typing import Sequence

import torch
from torch import nn

from distill.models.registry import MODELS


class HintonNet(nn.Module):
    stage_channels = ()
    stem_channels = 0

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28,
                 hidden: Sequence[int] = (1200, 1200)):
        super().__init__()
        widths = [in_channels * image_size * image_size] + list(hidden)
        layers = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(nn.Flatten(), *layers)
        self.fc = nn.Linear(widths[-1], num_classes)
        self.embedding_dim = widths[-1]
        self.input_size = (image_size, image_size)

    def features(self, x: torch.Tensor) -> dict:
        embedding = self.body(x)
        return {"logits": self.fc(embedding), "embedding": embedding,
                "stages_pre": [], "stages": [], "stage_outputs": []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


MODELS.register("hintonnet_teacher")(functools.partial(HintonNet, hidden=(1200, 1200)))
MODELS.register("hintonnet_student")(functools.partial(HintonNet, hidden=(800, 800)))
