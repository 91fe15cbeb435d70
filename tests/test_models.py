"""Model registry: parameter counts from the literature, feature taps, errors."""
import pytest
import torch

from distill.errors import ConfigError
from distill.models.features import ModelTail
from distill.models import MODELS, build_model, count_parameters


# Exact counts of the option-A CIFAR ResNets (He et al. 2016; the widely quoted
# 0.27M / 0.46M / 0.85M / 1.7M) and WRNs (Zagoruyko & Komodakis 2016: WRN-16-4 2.7M,
# WRN-28-10 36.5M).
@pytest.mark.parametrize("arch, classes, expected", [
    ("resnet20", 10, 269_722),
    ("resnet32", 10, 464_154),
    ("resnet56", 10, 853_018),
    ("resnet110", 10, 1_727_962),
])
def test_cifar_resnet_exact_parameter_counts(arch, classes, expected):
    assert count_parameters(build_model(arch, classes)) == expected


@pytest.mark.parametrize("arch, classes, millions, digits", [
    ("resnet20", 10, 0.27, 2),
    ("resnet32", 10, 0.46, 2),
    ("resnet110", 10, 1.73, 3),
    ("resnet110", 100, 1.73, 3),
    ("wrn_16_4", 10, 2.75, 3),
    ("wrn_16_4", 100, 2.77, 3),
    ("wrn_28_10", 100, 36.5, 3),
    ("wrn_28_10", 10, 36.5, 3),
])
def test_parameter_counts_match_literature(arch, classes, millions, digits):
    n = count_parameters(build_model(arch, classes))
    rounded = float(f"{n / 1e6:.{digits}g}")
    assert rounded == pytest.approx(millions), f"{arch} ({classes} classes): {n} parameters"


@pytest.mark.parametrize("arch, embedding", [("resnet8", 64), ("resnet32", 64), ("wrn_16_2", 128)])
def test_class_count_only_changes_the_classifier(arch, embedding):
    n10 = count_parameters(build_model(arch, 10))
    n100 = count_parameters(build_model(arch, 100))
    assert n100 - n10 == 90 * (embedding + 1)


def test_in_channels_only_changes_the_stem():
    # the 3x3 stem conv has 16 output channels: 2 fewer input channels = 2*9*16 weights
    assert count_parameters(build_model("resnet8", 10, 3)) - count_parameters(build_model("resnet8", 10, 1)) == 2 * 9 * 16


@pytest.mark.parametrize("arch, widths", [("resnet8", (16, 32, 64)), ("resnet20", (16, 32, 64)),
                                          ("wrn_16_2", (32, 64, 128))])
def test_features_shapes_on_cifar_input(arch, widths):
    torch.manual_seed(0)
    model = build_model(arch, 10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model.features(x)
    assert set(out) >= {"logits", "embedding", "stages", "conv4"}
    assert out["logits"].shape == (2, 10)
    assert out["embedding"].shape == (2, widths[-1])
    assert model.embedding_dim == widths[-1]
    assert len(out["stages"]) == 3
    for stage, width, size in zip(out["stages"], widths, (32, 16, 8)):
        assert stage.shape == (2, width, size, size)
    assert out["conv4"] is out["stages"][-1]


def test_features_shapes_on_digits_input():
    model = build_model("resnet8", 10, in_channels=1).eval()
    with torch.no_grad():
        out = model.features(torch.randn(3, 1, 8, 8))
    assert out["logits"].shape == (3, 10)
    assert [tuple(s.shape) for s in out["stages"]] == [(3, 16, 8, 8), (3, 32, 4, 4), (3, 64, 2, 2)]


@pytest.mark.parametrize("arch", ["resnet8", "resnet14", "wrn_10_4"])
@pytest.mark.parametrize("train_mode", [False, True])
def test_forward_equals_features_logits(arch, train_mode):
    torch.manual_seed(0)
    model = build_model(arch, 7)
    model.train(train_mode)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        plain = model(x)
        tapped = model.features(x)["logits"]
    assert plain.shape == (4, 7)
    assert torch.equal(plain, tapped)


def test_resnet_embedding_is_pooled_last_stage_and_feeds_classifier():
    torch.manual_seed(0)
    model = build_model("resnet8", 10).eval()
    with torch.no_grad():
        out = model.features(torch.randn(2, 3, 32, 32))
        assert torch.allclose(out["embedding"], out["conv4"].mean(dim=(2, 3)), atol=1e-6)
        assert torch.allclose(model.fc(out["embedding"]), out["logits"], atol=1e-6)


def test_features_are_differentiable_through_stages():
    model = build_model("resnet8", 10)
    out = model.features(torch.randn(2, 3, 32, 32))
    out["stages"][0].pow(2).mean().backward()
    assert model.conv1.weight.grad is not None and model.conv1.weight.grad.abs().sum() > 0


def test_registry_has_the_specified_cifar_models():
    names = set(MODELS.names())
    for depth in (8, 14, 20, 26, 32, 44, 56, 110):
        assert f"resnet{depth}" in names
    for wrn in ("wrn_10_4", "wrn_16_2", "wrn_16_4", "wrn_28_10", "wrn_40_2"):
        assert wrn in names


def test_unknown_arch_raises_config_error_listing_known_names():
    with pytest.raises(ConfigError) as info:
        build_model("resnet19", 10, field="networks[0].arch")
    err = info.value
    assert err.field == "networks[0].arch"
    message = str(err)
    assert message.startswith("networks[0].arch")
    assert "resnet19" in message
    for known in ("resnet8", "resnet20", "resnet32", "resnet110", "wrn_28_10"):
        assert known in message
    assert "\n" not in message


def test_unknown_arch_default_field_names_arch():
    with pytest.raises(ConfigError, match=r"^arch: .*allowed: .*resnet20"):
        build_model("vgg16", 10)


# -- the feature contract (distill/models/features.py), on every registered model ---------------
@pytest.mark.parametrize("arch, classes, count", [
    ("resnet164", 10, 1_703_258), ("resnet18", 10, 11_173_962), ("resnet34", 10, 21_282_122),
    ("resnet164_n27", 10, 2_537_882), ("resnet164_n27", 100, 2_561_012)])
def test_new_models_exact_parameter_counts(arch, classes, count):
    # ResNet-164: 1.7M (He et al. 2016, identity mappings); ResNet-18/34 CIFAR form: 11.17M / 21.28M;
    # resnet164_n27: the older builder's depth 164 (27 bottlenecks a stage), seed 000's "2.6" M
    with torch.device("meta"):
        assert count_parameters(build_model(arch, classes)) == count


CONTRACT_ARCHS = ["resnet8", "resnet20", "wrn_16_2", "resnet164", "resnet18", "alexnet", "alexnet_half"]
# how much smaller the first stage's maps are than the stem's (AlexNet: conv1's stride 4, pool1's 2)
FIRST_STAGE_STRIDE = {"alexnet": 8, "alexnet_half": 8}


@pytest.mark.parametrize("arch", CONTRACT_ARCHS)
@pytest.mark.parametrize("size", [32, 64])
def test_feature_contract(arch, size):
    torch.manual_seed(0)
    model = build_model(arch, 7).eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        out = model.features(x)
        plain = model(x)
    assert set(out) == {"logits", "embedding", "stem", "stages_pre", "stages", "conv4", "stage_outputs"}
    assert torch.equal(plain, out["logits"]) and out["logits"].shape == (2, 7)
    assert out["stem"].shape[1] == model.stem_channels
    assert len(out["stages"]) == len(out["stages_pre"]) == len(model.stage_channels)
    side = out["stem"].shape[-1] // FIRST_STAGE_STRIDE.get(arch, 1)
    for i, (pre, post, channels) in enumerate(zip(out["stages_pre"], out["stages"], model.stage_channels)):
        assert pre.shape == post.shape and pre.shape[1] == channels
        assert pre.shape[-1] == (side if i == 0 else side // 2 ** i)
        assert torch.equal(post, torch.relu(pre))
    assert out["conv4"] is out["stages"][-1]
    assert out["embedding"].shape == (2, model.embedding_dim)
    assert torch.allclose(model.fc(out["embedding"]), out["logits"], atol=1e-5)


@pytest.mark.parametrize("arch", CONTRACT_ARCHS)
def test_stage_outputs_feed_the_next_stage_and_a_tail_replays_the_head(arch):
    """``stage_outputs[s]`` is what stage s+1 reads, on pre- and post-activation nets alike;
    a ``ModelTail`` over the model's own modules gives the model's own logits from it."""
    torch.manual_seed(0)
    model = build_model(arch, 7).eval()
    assert model.arch == arch
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model.features(x)
        outs = out["stage_outputs"]
        for s in range(len(outs) - 1):
            assert torch.allclose(model.stages[s + 1](outs[s]), outs[s + 1], atol=1e-5)
        embedding, logits = ModelTail(model)(outs[-2])
    assert torch.allclose(logits, out["logits"], atol=1e-5) and torch.allclose(embedding, out["embedding"], atol=1e-5)


def test_post_activation_stages_are_what_the_next_stage_reads():
    """For post-activation ResNets the stage tap is the stage's real output."""
    model = build_model("resnet8", 10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model.features(x)
        assert torch.allclose(model.stages[1](out["stages"][0]), out["stages"][1], atol=1e-6)
