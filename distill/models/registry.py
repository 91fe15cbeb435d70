from torch import nn

from distill.registry import Registry

MODELS: Registry = Registry("model")


def build_model(arch: str, num_classes: int, in_channels: int = 3, field: str = "arch") -> nn.Module:
    model = MODELS.get(arch, field)(num_classes=num_classes, in_channels=in_channels)
    model.arch = arch   # a plain attribute: what a method needs to build a fresh copy (ONE's branches)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
