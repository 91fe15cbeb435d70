"""Model registry. Every model's ``forward`` returns logits (plain use is
unchanged); ``features(x)`` returns the taps distillation methods need:
``logits``, ``embedding`` (pooled penultimate feature), ``stages`` (each
resolution stage's output) and ``conv4`` (the last stage's map)."""
from distill.models.registry import MODELS, build_model, count_parameters
from distill.models import resnet_cifar, wide_resnet  # noqa: F401  (registers)

__all__ = ["MODELS", "build_model", "count_parameters"]
