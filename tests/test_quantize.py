"""Quantized students (networks[i].quantize): the forward quantisation and the gradients of the
shadow weights and of TTQ's Wp/Wn against float64 values derived from the papers' definitions
(tests/fixtures/make_quantize_values.py); which layers are quantized; a training step moves Wp/Wn;
a checkpoint round trip keeps the quantized values; the record says how many bits."""
import json
import os

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from distill.models import build_model
from distill.models.quantize import BinaryConnectWeight, TernaryWeight, quantize_model, quantized_state_dict

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "quantize_values.json")) as fh:
    V = json.load(fh)


def t64(x):
    return torch.tensor(x, dtype=torch.float64)


def conv_with(parametrization):
    from torch.nn.utils import parametrize

    layer = nn.Conv2d(3, 4, 3, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(t64(V["weight"]))
    parametrize.register_parametrization(layer, "weight", parametrization)
    return layer


def test_binaryconnect_forward_and_straight_through_gradient():
    layer = conv_with(BinaryConnectWeight())
    binary = layer.weight
    torch.testing.assert_close(binary, t64(V["binaryconnect"]["forward"]), rtol=0, atol=0)
    (binary * t64(V["grad"])).sum().backward()
    shadow = layer.parametrizations.weight.original
    torch.testing.assert_close(shadow.grad, t64(V["binaryconnect"]["grad_w"]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(shadow.detach(), t64(V["binaryconnect"]["clipped"]), rtol=0, atol=0)


def test_ttq_forward_and_the_gradients_of_the_shadow_weights_and_scales():
    ternary = TernaryWeight().double()
    with torch.no_grad():
        ternary.wp.fill_(V["wp"])
        ternary.wn.fill_(V["wn"])
    layer = conv_with(ternary)
    w = layer.weight
    torch.testing.assert_close(w, t64(V["ttq"]["forward"]), rtol=0, atol=0)
    assert int((w == 0).sum()) == V["ttq"]["zeros"] > 0
    (w * t64(V["grad"])).sum().backward()
    torch.testing.assert_close(layer.parametrizations.weight.original.grad, t64(V["ttq"]["grad_w"]),
                               rtol=1e-12, atol=1e-12)
    assert float(ternary.wp.grad) == pytest.approx(V["ttq"]["grad_wp"], rel=1e-12)
    assert float(ternary.wn.grad) == pytest.approx(V["ttq"]["grad_wn"], rel=1e-12)


def layer_kinds(model):
    from torch.nn.utils import parametrize

    return [parametrize.is_parametrized(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def test_ttq_keeps_the_first_conv_and_the_last_fc_full_precision_binaryconnect_quantizes_all():
    ttq = layer_kinds(quantize_model(build_model("resnet8", 10), "ttq"))
    assert ttq[0] is False and ttq[-1] is False and all(ttq[1:-1])
    assert all(layer_kinds(quantize_model(build_model("resnet8", 10), "binaryconnect")))


def trainer(tmp_path, quantize, epochs=1):
    from distill.config import config_from_dict
    from distill.trainer import Trainer

    return Trainer(config_from_dict({
        "method": {"name": "independent"}, "networks": [{"name": "net0", "arch": "resnet8", "quantize": quantize}],
        "data": {"name": "digits", "batch_size": 32, "train_limit": 64},
        "optim": {"lr": 0.05, "schedule": "cosine"}, "train": {"epochs": epochs, "threads": 1, "device": "cpu"},
        "seed": 1}), output_dir=str(tmp_path))


def test_a_training_step_moves_wp_and_wn_and_the_record_says_two_bits(tmp_path):
    t = trainer(tmp_path, "ttq")
    scales = [m for m in t.networks["net0"].modules() if isinstance(m, TernaryWeight)]
    before = [(s.wp.item(), s.wn.item()) for s in scales]
    history = t.fit()
    after = [(s.wp.item(), s.wn.item()) for s in scales]
    assert all(a != b for a, b in zip(before, after))
    assert history[-1]["bits.net0"] == 2


@pytest.mark.parametrize("quantize", ["ttq", "binaryconnect"])
def test_training_goes_on_after_the_first_checkpoint(tmp_path, quantize):
    """Exporting the quantized weights at a checkpoint leaves the training network whole."""
    t = trainer(tmp_path, quantize, epochs=2)
    history = t.fit()
    assert len(history) == 2 and history[-1]["bits.net0"] == (2 if quantize == "ttq" else 1)
    layer = next(m for m in t.networks["net0"].modules() if parametrize.is_parametrized(m, "weight"))
    assert layer.weight.shape == layer.parametrizations.weight.original.shape


def test_a_checkpoint_round_trip_keeps_the_ternary_values(tmp_path):
    from distill.checkpoint import load_checkpoint

    first = trainer(tmp_path / "a", "ttq")
    first.fit()
    state = load_checkpoint(os.path.join(str(tmp_path / "a"), "checkpoint"))
    exported = state["quantized_networks"]["net0"]
    conv = next(k for k, v in exported.items() if k.endswith("weight") and v.dim() == 4 and k != "conv1.weight")
    assert len(torch.unique(exported[conv])) <= 3   # {-Wn, 0, +Wp}
    second = trainer(tmp_path / "b", "ttq")
    second.resume(os.path.join(str(tmp_path / "a"), "checkpoint"))
    again = quantized_state_dict(second.networks["net0"])
    for key, value in exported.items():
        torch.testing.assert_close(again[key], value, rtol=0, atol=0)
    plain = build_model("resnet8", 10, in_channels=1)   # digits: one channel
    plain.load_state_dict(exported)   # the exported weights load into the plain architecture
