from torch import nn

from distill.registry import Registry

MODELS: Registry = Registry("model")


def build_model(arch: str, num_classes: int, in_channels: int = 3, field: str = "arch") -> nn.Module:
    return MODELS.get(arch, field)(num_classes=num_classes, in_channels=in_channels)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
