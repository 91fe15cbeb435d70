"""Which student stage a feature loss pairs with which teacher stage."""
from typing import List, Optional, Sequence, Tuple

from distill.errors import ConfigError


def paired_stages(student_stages: int, teacher_stages: int, chosen: Optional[Sequence[int]] = None,
                  field: str = "method.stages") -> List[Tuple[int, int]]:
    """Stages pair by position counted from the last (the deepest stages always pair),
    so a 3-stage CIFAR ResNet and a 4-stage ResNet-18 pair their last three. ``chosen``
    picks pairs by index into that list (negative counts from the end); None: all."""
    n = min(student_stages, teacher_stages)
    if n == 0:
        raise ConfigError(field, "the networks expose no stages (see distill/models/features.py)")
    pairs = [(student_stages - n + i, teacher_stages - n + i) for i in range(n)]
    if chosen is None:
        return pairs
    out = []
    for index in chosen:
        if not -n <= index < n:
            raise ConfigError(field, f"stage {index} does not exist; allowed: {-n}..{n - 1} ({n} paired stages)")
        out.append(pairs[index])
    return out


def check_stage_pairs(config, shapes, chosen) -> None:
    """``check_config`` of a method pairing stages: every student can pair ``chosen`` with the teacher."""
    for net in shapes.networks.values():
        paired_stages(len(net.stage_channels), len(shapes.teacher.stage_channels), chosen)


def stage_pairs_by_network(ctx, chosen):
    """network name -> its (student stage, teacher stage) pairs."""
    return {name: paired_stages(len(ctx.stage_channels[name]), len(ctx.stage_channels["teacher"]), chosen)
            for name in ctx.network_names}
