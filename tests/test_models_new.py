"""ResNet-164 (pre-activation bottleneck) and the CIFAR-style ResNet-18/34: exact sizes,
structure, and the feature contract of distill/models/features.py."""
import pytest
import torch
from torch import nn

from distill.models import MODELS, build_model, count_parameters
from distill.models.features import FEATURE_KEYS


@pytest.fixture(scope="module")
def resnet164():
    torch.manual_seed(0)
    return build_model("resnet164", 7).eval()


def meta_count(arch, classes, in_channels=3):
    with torch.device("meta"):
        return count_parameters(build_model(arch, classes, in_channels))


# ResNet-164: 1.7M (He et al. 2016, "Identity mappings", CIFAR-10; the seed paper's table
# prints "2.6" for it, another unit or variant). ResNet-18/34: kuangliu/pytorch-cifar's counts.
@pytest.mark.parametrize("arch, classes, expected, millions", [
    ("resnet164", 10, 1_703_258, 1.7),
    ("resnet164", 100, 1_703_258 + 90 * 257, 1.7),
    ("resnet18", 10, 11_173_962, 11.2),
    ("resnet18", 100, 11_173_962 + 90 * 513, 11.2),
    ("resnet34", 10, 21_282_122, 21.3),
    ("resnet34", 100, 21_282_122 + 90 * 513, 21.3),
])
def test_exact_parameter_counts(arch, classes, expected, millions):
    n = meta_count(arch, classes)
    assert n == expected
    assert round(n / 1e6, 1) == millions


def test_in_channels_only_changes_the_stem():
    assert meta_count("resnet18", 10, 3) - meta_count("resnet18", 10, 1) == 2 * 9 * 64
    assert meta_count("resnet164", 10, 3) - meta_count("resnet164", 10, 1) == 2 * 9 * 16


def test_resnet164_structure(resnet164):
    """164 weighted layers: the stem, 3 x 18 bottlenecks of 3 convs, the classifier; 1x1
    projections only where the shape changes (the first block of each stage)."""
    assert [len(stage) for stage in resnet164.stages] == [18, 18, 18]
    convs = [m for name, m in resnet164.named_modules() if isinstance(m, nn.Conv2d) and "shortcut" not in name]
    assert len(convs) + 1 == 164
    projections = [b for stage in resnet164.stages for b in stage if b.shortcut is not None]
    assert len(projections) == 3 and all(p.shortcut.kernel_size == (1, 1) for p in projections)
    assert resnet164.stage_channels == (64, 128, 256) and resnet164.stem_channels == 16
    assert resnet164.embedding_dim == 256
    assert all(isinstance(b.activation, nn.Identity) for stage in resnet164.stages for b in stage)


@pytest.mark.parametrize("arch, blocks", [("resnet18", [2, 2, 2, 2]), ("resnet34", [3, 4, 6, 3])])
def test_cifar_resnet_18_34_structure(arch, blocks):
    with torch.device("meta"):
        model = build_model(arch, 10)
    assert [len(stage) for stage in model.stages] == blocks
    assert tuple(model.stage_channels) == (64, 128, 256, 512) and model.stem_channels == 64
    assert model.embedding_dim == 512
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert all(isinstance(b.activation, nn.ReLU) for stage in model.stages for b in stage)


def check_contract(model, x, classes):
    with torch.no_grad():
        out = model.features(x)
        plain = model(x)
    assert set(out) == set(FEATURE_KEYS)
    assert out["logits"].shape == (len(x), classes) and torch.equal(plain, out["logits"])
    assert out["stem"].shape == (len(x), model.stem_channels) + tuple(x.shape[-2:])
    assert len(out["stages"]) == len(out["stages_pre"]) == len(model.stage_channels)
    side = x.shape[-1]
    shapes = []
    for i, (pre, post, channels) in enumerate(zip(out["stages_pre"], out["stages"], model.stage_channels)):
        size = max(1, side // 2 ** i)
        assert pre.shape == post.shape == (len(x), channels, size, size)
        assert torch.equal(post, torch.relu(pre))
        shapes.append(tuple(post.shape[1:]))
    assert out["conv4"] is out["stages"][-1]
    assert out["embedding"].shape == (len(x), model.embedding_dim)
    assert torch.allclose(model.fc(out["embedding"]), out["logits"], atol=1e-5)
    return out, shapes


@pytest.mark.parametrize("size", [32, 64])
def test_resnet164_contract(resnet164, size):
    x = torch.randn(2 if size == 32 else 1, 3, size, size)
    out, shapes = check_contract(resnet164, x, 7)
    assert shapes == [(64, size, size), (128, size // 2, size // 2), (256, size // 4, size // 4)]
    with torch.no_grad():
        # pre-activation: the next stage reads the residual sum, and the embedding follows the final BN-ReLU
        assert torch.allclose(resnet164.stages[1](out["stages_pre"][0]), out["stages_pre"][1], atol=1e-5)
        final = torch.relu(resnet164.bn(out["stages_pre"][-1])).mean(dim=(2, 3))
        assert torch.allclose(final, out["embedding"], atol=1e-5)


@pytest.mark.parametrize("arch, size, in_channels", [("resnet18", 32, 3), ("resnet18", 64, 3),
                                                      ("resnet18", 8, 1), ("resnet34", 32, 3)])
def test_cifar_resnet_18_34_contract(arch, size, in_channels):
    torch.manual_seed(0)
    model = build_model(arch, 5, in_channels).eval()
    out, shapes = check_contract(model, torch.randn(2, in_channels, size, size), 5)
    assert [s[1] for s in shapes] == [size, size // 2, size // 4, size // 8]   # 8 px digits: 8, 4, 2, 1
    with torch.no_grad():
        # post-activation: the stage tap is what the next stage reads; embedding = pooled last stage
        assert torch.allclose(model.stages[1](out["stages"][0]), out["stages"][1], atol=1e-5)
        assert torch.allclose(out["embedding"], out["conv4"].mean(dim=(2, 3)), atol=1e-6)


def test_forward_equals_features_in_train_mode():
    torch.manual_seed(0)
    model = build_model("resnet18", 4).train()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), model.features(x)["logits"])


def test_registered():
    assert {"resnet164", "resnet18", "resnet34"} <= set(MODELS.names())
