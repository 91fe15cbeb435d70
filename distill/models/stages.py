"""Three resolution stages of residual blocks, shared by the CIFAR ResNets and
the Wide ResNets: the first block of stages 2 and 3 halves the resolution."""
from typing import Callable, Sequence, Tuple

from torch import nn


def build_stages(block: Callable[[int, int, int], nn.Module], in_channels: int, widths: Sequence[int],
                 blocks_per_stage: int) -> Tuple[nn.ModuleList, int]:
    """Returns the stages and the channel count after the last one."""
    stages, channels = [], in_channels
    for i, width in enumerate(widths):
        layers = []
        for b in range(blocks_per_stage):
            layers.append(block(channels, width, 2 if (b == 0 and i > 0) else 1))
            channels = width
        stages.append(nn.Sequential(*layers))
    return nn.ModuleList(stages), channels
