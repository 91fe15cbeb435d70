"""Backbone weights from a state dict file a user gives (``networks[i].pretrained``), e.g.
torchvision's ImageNet GoogLeNet file for ``inception_v1``, loaded as it is.

The file is read with ``torch.load(weights_only=True)``: a plain state dict, or one under a
``state_dict`` or ``model`` key. Every backbone tensor of the model must be in it under its
own name with its own shape. Skipped (and counted in one printed line): the classifier
(``fc.*``, the data set's own), auxiliary-classifier tensors (``aux_family`` of the
architecture) the model lacks or whose shape differs (the class-sized last layers), and
tensors the model has there but the file lacks (they keep their initialisation). Anything
else (a missing file, no backbone tensor in common, a missing or misshapen backbone
tensor, a tensor of neither the backbone nor a head) is one ``ConfigError`` naming the
field and the first offending key. ``distill.validation.validate_run`` checks the file
before any Ray work; the trainer loads it before ``checkpoint`` (which wins)."""
import os
from typing import Callable, Dict, List, Mapping, Tuple

import torch
from torch import nn

from distill.errors import ConfigError

CLASSIFIER = "fc"


def read_state_dict(path: str, field: str) -> Dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise ConfigError(field, f"pretrained weights not found: {path} (a state dict file)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - pickle, zip and torch raise many types for a bad file
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise ConfigError(field, f"{path} is not a PyTorch state dict file ({type(err).__name__}: {reason})") from None
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(field, f"{path} does not hold a state dict (a mapping of names to tensors; "
                                 "a distill checkpoint is networks[i].checkpoint)")
    return state


def _head_of(key: str, heads: Tuple[str, ...]) -> str:
    top = key.split(".", 1)[0]
    return top if top in heads else ""


def match_pretrained(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Size],
                     aux_family: Tuple[str, ...], field: str, path: str) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """-> (the tensors to load, the keys skipped); raises on any backbone mismatch."""
    heads = (CLASSIFIER,) + tuple(aux_family)
    backbone = [k for k in expected if not _head_of(k, heads)]
    if not any(k in state and tuple(state[k].shape) == tuple(expected[k]) for k in backbone):
        raise ConfigError(field, f"{path} holds no backbone tensor of this architecture "
                                 f"(it needs e.g. {backbone[0]}; the file has e.g. {next(iter(state), 'nothing')})")
    for key in backbone:
        if key not in state:
            raise ConfigError(field, f"{path} lacks backbone tensor {key}; a state dict of this architecture is needed")
        if tuple(state[key].shape) != tuple(expected[key]):
            raise ConfigError(field, f"{path}: backbone tensor {key} has shape {tuple(state[key].shape)}, "
                                     f"the model needs {tuple(expected[key])}")
    loaded, skipped = {}, []
    for key, value in state.items():
        if key in expected and not _head_of(key, heads):
            loaded[key] = value
        elif not _head_of(key, heads):
            raise ConfigError(field, f"{path} holds {key}, which is neither in this architecture's backbone nor in "
                                     f"its heads ({', '.join(heads)}); a state dict of this architecture is needed")
        elif key in expected and _head_of(key, heads) != CLASSIFIER and tuple(value.shape) == tuple(expected[key]):
            loaded[key] = value   # an auxiliary head's class-independent layers
        else:
            skipped.append(key)
    return loaded, skipped


def _expected(model: nn.Module) -> Dict[str, torch.Size]:
    return {k: v.shape for k, v in model.state_dict().items()}


def check_pretrained(path: str, arch: str, num_classes: int, in_channels: int, field: str) -> List[str]:
    """Validation without weights (the model is built on the meta device); -> the keys that would be skipped."""
    from distill.models import build_model

    with torch.device("meta"):
        model = build_model(arch, num_classes, in_channels)
    _, skipped = match_pretrained(read_state_dict(path, field), _expected(model),
                                  tuple(getattr(model, "aux_family", ())), field, path)
    return skipped


def load_pretrained(model: nn.Module, path: str, field: str, log: Callable[[str], None] = print) -> List[str]:
    """Load the file's backbone (and fitting auxiliary-head) tensors into ``model``; -> the keys skipped."""
    loaded, skipped = match_pretrained(read_state_dict(path, field), _expected(model),
                                       tuple(getattr(model, "aux_family", ())), field, path)
    model.load_state_dict(loaded, strict=False)
    kept = len(_expected(model)) - len(loaded)
    log(f"{field}: loaded {len(loaded)} tensors from {path}; skipped {len(skipped)} classifier/auxiliary tensors "
        f"of the file; {kept} of the model keep their initialisation")
    return skipped
