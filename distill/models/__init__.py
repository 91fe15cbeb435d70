"""Model registry. Every model meets the feature contract stated in
``features.py``: ``logits``, ``embedding``, ``stem``, ``stages_pre``,
``stages`` (post-activation), ``conv4``; and ``stage_channels`` (the stageless
HintonNet MLPs: ``logits``, ``embedding`` and empty stage lists only)."""
from distill.models.registry import MODELS, build_model, count_parameters
from distill.models import resnet_cifar, wide_resnet, resnet_preact_cifar, resnet_wide_stem  # noqa: F401  (registers)
from distill.models import lenet, hintonnet  # noqa: F401  (registers)
from distill.models import mobilenet_v1, inception_v1  # noqa: F401  (registers)
from distill.models import alexnet  # noqa: F401  (registers)

__all__ = ["MODELS", "build_model", "count_parameters"]
