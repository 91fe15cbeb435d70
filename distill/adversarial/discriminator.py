"""MLP discriminators given as a structure string: ``"128fc-256fc-128fc"`` means
hidden layers of 128, 256 and 128 units, each followed by LeakyReLU(0.2), then
one output unit (a real/fake logit, trained with BCE-with-logits)."""
import re
from typing import List

from torch import nn

from distill.errors import ConfigError

_LAYER = re.compile(r"^([1-9][0-9]*)fc$")
STRUCTURE_FORM = "hidden widths joined by '-', each '<positive int>fc', e.g. 128fc-256fc-128fc"


def parse_structure(structure: str, field: str = "method.disc_structure") -> List[int]:
    if not isinstance(structure, str) or not structure:
        raise ConfigError(field, f"{structure!r} is malformed; expected {STRUCTURE_FORM}")
    widths = []
    for part in structure.split("-"):
        match = _LAYER.match(part.strip())
        if not match:
            raise ConfigError(field, f"{structure!r} is malformed; expected {STRUCTURE_FORM}")
        widths.append(int(match.group(1)))
    return widths


def structure_string(widths: List[int]) -> str:
    return "-".join(f"{w}fc" for w in widths)


class Discriminator(nn.Module):
    def __init__(self, in_features: int, structure: str):
        super().__init__()
        layers, width = [], in_features
        for hidden in parse_structure(structure):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).squeeze(1)
