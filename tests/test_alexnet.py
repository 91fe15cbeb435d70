"""AlexNet and AlexNet-half of replayed_distillation (DAFL's CelebA networks): exact sizes,
TF 'SAME' padding, the reference's layer order and initialisation. The generic feature
contract runs on them in test_models.py (``CONTRACT_ARCHS``). Shapes at 224 are taken on the
meta device (no memory, no arithmetic); numbers at 64x64."""
import math

import pytest
import torch
import torch.nn.functional as F

from distill.models import build_model, count_parameters
from distill.models.alexnet import SameConvBlock, pad_same, same_padding
from distill.validation import model_shape


def meta_model(arch, classes=2):
    with torch.device("meta"):
        return build_model(arch, classes)


@pytest.fixture(scope="module")
def half():
    torch.manual_seed(0)
    return build_model("alexnet_half", 2).eval()


@pytest.mark.parametrize("arch, count, millions, hidden", [("alexnet", 71_380_930, 71.4, 4096),
                                                           ("alexnet_half", 17_855_458, 17.9, 2048)])
def test_exact_parameter_counts(arch, count, millions, hidden):
    n = count_parameters(meta_model(arch))
    assert n == count and round(n / 1e6, 1) == millions
    assert count_parameters(meta_model(arch, 10)) - n == 8 * (hidden + 1)   # classes change fc8 only


def test_tf_same_padding_puts_the_odd_pixel_at_the_end():
    assert same_padding(224, 11, 4) == (3, 4) and same_padding(64, 11, 4) == (3, 4)
    assert same_padding(56, 3, 2) == (0, 1) and same_padding(7, 3, 2) == (1, 1)
    assert same_padding(28, 5, 1) == (2, 2) and same_padding(14, 3, 1) == (1, 1)
    # conv1 at 224 on ones, all-ones 11x11 kernel: the first window overlaps 3 padded rows and columns,
    # the last (starting at 55 * 4 - 3 = 217) 4: 8 * 8 and 7 * 7 real pixels
    block = SameConvBlock(1, 1, 11, stride=4)
    with torch.no_grad():
        block.conv.weight.fill_(1.0)
        block.conv.bias.zero_()
        out = block.residual_sum(torch.ones(1, 1, 224, 224))
    assert out.shape[-2:] == (56, 56) and out[0, 0, 0, 0] == 64 and out[0, 0, -1, -1] == 49
    # max pooling pads with -inf, as TF ignores its padding: all -1 stays -1 at the edges
    pooled = F.max_pool2d(pad_same(-torch.ones(1, 1, 7, 7), 3, 2, float("-inf")), 3, 2)
    assert pooled.shape[-2:] == (4, 4) and bool((pooled == -1).all())


@pytest.mark.parametrize("arch, widths, hidden", [("alexnet", (64, 192, 256), 4096),
                                                  ("alexnet_half", (32, 96, 128), 2048)])
@pytest.mark.parametrize("size, conv1, sides", [(224, 56, (28, 14, 7)), (64, 16, (8, 4, 2))])
def test_map_sizes_at_224_and_64(arch, widths, hidden, size, conv1, sides):
    model = meta_model(arch)
    seen = []
    model.stages[0][0].conv.register_forward_hook(lambda module, args, out: seen.append(tuple(out.shape)))
    out = model.features(torch.empty(2, 3, size, size, device="meta"))
    assert seen == [(2, widths[0], conv1, conv1)]
    assert [tuple(s.shape) for s in out["stages"]] == [(2, w, s, s) for w, s in zip(widths, sides)]
    assert tuple(out["embedding"].shape) == (2, hidden) and tuple(out["logits"].shape) == (2, 2)
    assert model.stage_channels == widths and model.embedding_dim == hidden and model.stem_channels == 3
    shape = model_shape(arch, 2, 3, "networks[0].arch")          # what validation reads
    assert shape.stage_channels == widths and shape.input_size is None   # any image size: 224 and 64


def test_layers_in_the_reference_order(half):
    """A stage is the reference's conv -> ReLU -> maxpool; the embedding is relu(fc7), fc8 reads it."""
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = half.features(x)
        conv1 = half.stages[0][0].conv
        reference = F.max_pool2d(pad_same(F.relu(conv1(pad_same(x, 11, 4))), 3, 2, float("-inf")), 3, 2)
        assert torch.allclose(out["stages"][0], reference, atol=1e-6)
        fc6, fc7 = half.hidden[0], half.hidden[3]
        pooled = F.adaptive_avg_pool2d(out["stages"][-1], 7).flatten(1)
        assert torch.allclose(out["embedding"], F.relu(fc7(F.relu(fc6(pooled)))), atol=1e-5)
        assert torch.allclose(half.fc(out["embedding"]), out["logits"], atol=1e-6)
    assert [m.p for m in half.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]


def test_dropout_in_training_and_forward_equals_features():
    torch.manual_seed(0)
    model = build_model("alexnet_half", 2).train()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.manual_seed(1)
        plain = model(x)
        torch.manual_seed(1)
        tapped = model.features(x)["logits"]
        torch.manual_seed(2)
        other = model(x)
    assert torch.equal(plain, tapped) and not torch.equal(plain, other)


def test_initialisation_is_the_references(half):
    for module in half.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = 4096 if module is half.fc else module.weight[0].numel()
            std = math.sqrt(2.0 / fan_in)
            assert module.weight.abs().max() <= 2 * std + 1e-7        # truncated at two std
            assert bool((module.bias == 0.01).all())
            if module.weight.numel() > 10_000:                        # a truncated normal's std is 0.88 of std
                assert module.weight.std().item() == pytest.approx(0.8796 * std, rel=0.05)
