"""Quantized students: a transform any network takes (``networks[i].quantize``), so a quantized
student is a config value, not a separate model. The full-precision ("shadow") weights stay the
parameters the optimizer updates; every forward (training, evaluation, the exported weights) uses
their quantized values, through ``torch.nn.utils.parametrize``.

- ``binaryconnect`` (Courbariaux, Bengio and David 2015; their ``binary_connect.py``): deterministic
  binarisation ``w_b = +1 if w >= 0 else -1`` (their ``round(hard_sigmoid(w))`` with H = 1), the
  gradient passed straight through to ``w``, and ``w`` clipped to [-1, 1] after each update (here:
  before each forward, which is the same for every forward that follows an update). Every
  convolution and fully connected layer is binarised, as in their ``cifar10.py``; biases and
  BatchNorm stay full precision. 1 bit per weight.
- ``ttq`` (Zhu, Han, Mao and Dally 2017; ``tw_ternarize`` of their ``ternarynet`` code): per layer,
  ``w_t = +Wp if w > t max|w|, -Wn if w < -t max|w|, else 0`` with t = 0.05 (the threshold is not
  differentiated), Wp and Wn trainable scalars of the layer (initialised to 1). Gradients: to the
  shadow weight ``Wp * g`` where positive, ``g`` where zero, ``Wn * g`` where negative; to Wp the sum
  of ``g`` over the positive weights, to Wn minus the sum over the negative ones. The first
  convolution and the last fully connected layer stay full precision (the paper). 2 bits a weight."""
from typing import Dict, List, Optional

import torch
from torch import nn
from torch.nn.utils import parametrize

TTQ_THRESHOLD = 0.05


class BinaryConnectWeight(nn.Module):
    """The parametrization of a binarised weight: sign in the forward pass, straight through back."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            weight.clamp_(-1.0, 1.0)   # the shadow weights live in [-1, 1]
        binary = torch.where(weight >= 0, torch.ones_like(weight), -torch.ones_like(weight))
        return weight + (binary - weight).detach()


class _Ternarize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, wp, wn, threshold: float):
        limit = threshold * weight.detach().abs().max()
        positive, negative = weight > limit, weight < -limit
        ctx.save_for_backward(positive, negative, wp, wn)
        zero = torch.zeros_like(weight)
        return torch.where(positive, wp.expand_as(weight), torch.where(negative, -wn.expand_as(weight), zero))

    @staticmethod
    def backward(ctx, grad):
        positive, negative, wp, wn = ctx.saved_tensors
        scale = torch.where(positive, wp.expand_as(grad), torch.where(negative, wn.expand_as(grad),
                                                                      torch.ones_like(grad)))
        grad_wp = grad[positive].sum().reshape(wp.shape)
        grad_wn = -grad[negative].sum().reshape(wn.shape)
        return grad * scale, grad_wp, grad_wn, None


class TernaryWeight(nn.Module):
    """The parametrization of a ternary weight, holding the layer's trained scales Wp and Wn."""

    def __init__(self, threshold: float = TTQ_THRESHOLD):
        super().__init__()
        self.threshold = threshold
        self.wp = nn.Parameter(torch.tensor(1.0))
        self.wn = nn.Parameter(torch.tensor(1.0))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return _Ternarize.apply(weight, self.wp.to(weight.dtype), self.wn.to(weight.dtype), self.threshold)


def _layers(model: nn.Module) -> List[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _binaryconnect(model: nn.Module) -> List[nn.Module]:
    return _layers(model)


def _ttq(model: nn.Module) -> List[nn.Module]:
    """Every conv and FC layer but the first convolution and the last FC layer."""
    layers = _layers(model)
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    keep = {id(convs[0])} if convs else set()
    keep |= {id(linears[-1])} if linears else set()
    return [m for m in layers if id(m) not in keep]


QUANTIZERS: Dict[str, tuple] = {
    # name -> (the layers it quantizes, a parametrization per layer, bits per quantized weight)
    "binaryconnect": (_binaryconnect, BinaryConnectWeight, 1),
    "ttq": (_ttq, TernaryWeight, 2),
}


def quantize_model(model: nn.Module, kind: Optional[str]) -> nn.Module:
    """Register ``kind``'s parametrization on the weights it quantizes; returns ``model``."""
    if not kind:
        return model
    choose, make, _ = QUANTIZERS[kind]
    for layer in choose(model):
        parametrize.register_parametrization(layer, "weight", make())
    model.quantize = kind
    return model


def weight_bits(kind: Optional[str]) -> int:
    """Bits per weight of the quantized layers (32: full precision)."""
    return QUANTIZERS[kind][2] if kind else 32


def quantized_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The weights as the network uses them (the quantized values under the plain ``weight`` names),
    for an exported checkpoint that any copy of the architecture loads.

    Read off the live modules, never by removing the parametrizations from a copy: torch removes
    the ``weight`` property from the parametrized class, which a deep copy shares with the model,
    so the model itself would lose its weight (it did: every epoch after the first checkpoint)."""
    layers = {name: m for name, m in model.named_modules() if parametrize.is_parametrized(m, "weight")}
    owned = tuple(f"{name}.parametrizations.weight." if name else "parametrizations.weight." for name in layers)
    out = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith(owned)}
    with torch.no_grad():
        for name, layer in layers.items():
            out[f"{name}.weight" if name else "weight"] = layer.weight.detach().clone()
    return out
