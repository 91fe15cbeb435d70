"""DAFL's MNIST models: LeNet-5 / LeNet-5-half (official ``lenet.py``) and the HintonNet
MLPs; exact sizes, the feature contract as far as it applies, validation."""
import pytest
import torch
import torch.nn.functional as F

from distill.config import config_from_dict
from distill.errors import ConfigError
from distill.models import MODELS, build_model, count_parameters
from distill.models.exits import build_exits, exit_outputs
from distill.models.features import FEATURE_KEYS, ModelTail
from distill.models.lenet import LeNet5
from distill.validation import validate_run


# Counted by hand (weights + biases):
#   LeNet-5, 1 channel, 10 classes: conv1 1*6*25+6 = 156, conv2 6*16*25+16 = 2,416,
#     conv3 16*120*25+120 = 48,120, fc1 120*84+84 = 10,164, fc2 84*10+10 = 850  -> 61,706 (~62K)
#   LeNet-5-half: conv1 1*3*25+3 = 78, conv2 3*8*25+8 = 608, conv3 8*60*25+60 = 12,060,
#     fc1 60*42+42 = 2,562, fc2 42*10+10 = 430  -> 15,738 (~16K)
#   HintonNet teacher: 784*1200+1200 = 942,000, 1200*1200+1200 = 1,441,200, 1200*10+10 = 12,010 -> 2,395,210
#   HintonNet student: 784*800+800 = 628,000, 800*800+800 = 640,800, 800*10+10 = 8,010 -> 1,276,810
@pytest.mark.parametrize("arch, expected", [("lenet5", 61_706), ("lenet5_half", 15_738),
                                            ("hintonnet_teacher", 2_395_210), ("hintonnet_student", 1_276_810)])
def test_exact_parameter_counts(arch, expected):
    assert count_parameters(build_model(arch, 10, 1)) == expected


@pytest.mark.parametrize("arch, last_hidden", [("lenet5", 84), ("lenet5_half", 42),
                                               ("hintonnet_teacher", 1200), ("hintonnet_student", 800)])
def test_class_count_only_changes_the_classifier(arch, last_hidden):
    assert count_parameters(build_model(arch, 100, 1)) - count_parameters(build_model(arch, 10, 1)) == 90 * (last_hidden + 1)


def test_in_channels_change_the_first_layer_only():
    # LeNet's first conv: 2 more input channels = 2*25*6 weights; HintonNet's first layer: 2*784*1200
    assert count_parameters(build_model("lenet5", 10, 3)) - count_parameters(build_model("lenet5", 10, 1)) == 2 * 25 * 6
    assert (count_parameters(build_model("hintonnet_teacher", 10, 3))
            - count_parameters(build_model("hintonnet_teacher", 10, 1))) == 2 * 784 * 1200


def test_registered():
    assert {"lenet5", "lenet5_half", "hintonnet_teacher", "hintonnet_student"} <= set(MODELS.names())


# -- LeNet-5: the feature contract ----------------------------------------------------------
@pytest.mark.parametrize("arch, widths, hidden", [("lenet5", (6, 16, 120), 84), ("lenet5_half", (3, 8, 60), 42)])
@pytest.mark.parametrize("train_mode", [False, True])
def test_lenet_feature_contract(arch, widths, hidden, train_mode):
    torch.manual_seed(0)
    model = build_model(arch, 10, 1).train(train_mode)
    assert model.stage_channels == widths and model.stem_channels == 1 and model.embedding_dim == widths[-1]
    assert model.input_size == (32, 32)
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        out = model.features(x)
        plain = model(x)
    assert set(out) == set(FEATURE_KEYS)
    assert out["logits"].shape == (3, 10) and torch.equal(plain, out["logits"])
    assert torch.equal(out["stem"], x)             # no stem layers: the input enters the first stage
    assert [tuple(s.shape) for s in out["stages"]] == [(3, widths[0], 14, 14), (3, widths[1], 5, 5), (3, widths[2], 1, 1)]
    for pre, post in zip(out["stages_pre"], out["stages"]):
        assert pre.shape == post.shape and torch.equal(post, torch.relu(pre))
    assert out["conv4"] is out["stages"][-1]
    assert out["stage_outputs"] == out["stages"]    # post-activation: the stage tap is what the next stage reads
    # the embedding is DAFL's f_T: the flattened 120-d (60-d) conv3 + ReLU map; fc is the classifier it feeds
    assert out["embedding"].shape == (3, widths[-1]) and torch.equal(out["embedding"], out["conv4"].flatten(1))
    assert torch.allclose(model.fc(out["embedding"]), out["logits"], atol=1e-6)
    assert [m.out_features for m in model.fc if isinstance(m, torch.nn.Linear)] == [hidden, 10]


@pytest.mark.parametrize("arch", ["lenet5", "lenet5_half"])
def test_lenet_is_the_official_layer_order(arch):
    """conv -> ReLU -> maxpool twice, conv -> ReLU, view, FC -> ReLU -> FC (DAFL's lenet.py), on the
    model's own weights: the stages' conv -> pool -> ReLU gives the same numbers, bit for bit."""
    torch.manual_seed(1)
    model = build_model(arch, 10, 1).eval()
    x = torch.randn(4, 1, 32, 32)
    conv1, conv2, conv3 = (stage[0].conv for stage in model.stages)
    with torch.no_grad():
        out = F.max_pool2d(F.relu(conv1(x)), 2, 2)
        out = F.max_pool2d(F.relu(conv2(out)), 2, 2)
        feature = F.relu(conv3(out)).view(-1, model.embedding_dim)
        logits = model.fc[2](F.relu(model.fc[0](feature)))
        got = model.features(x)
    assert torch.equal(got["embedding"], feature)
    assert torch.equal(got["logits"], logits)


def test_lenet_stages_feed_each_other_and_a_tail_replays_the_head():
    torch.manual_seed(0)
    model = build_model("lenet5", 10, 1).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        out = model.features(x)
        for s in range(2):
            assert torch.equal(model.stages[s + 1](out["stage_outputs"][s]), out["stage_outputs"][s + 1])
        embedding, logits = ModelTail(model)(out["stage_outputs"][-2])
    assert torch.allclose(logits, out["logits"], atol=1e-6) and torch.allclose(embedding, out["embedding"], atol=1e-6)


def test_lenet_carries_byot_exits():
    """Exits after stages 1 and 2 (14x14 and 5x5 maps) fit LeNet's channels and its 120-d embedding."""
    model = build_model("lenet5", 10, 1).eval()
    exits = build_exits(model.stage_channels, model.embedding_dim, 10).eval()
    with torch.no_grad():
        embeddings, logits = exit_outputs(exits, model.features(torch.randn(2, 1, 32, 32)))
    assert [tuple(e.shape) for e in embeddings] == [(2, 120)] * 3 and [tuple(z.shape) for z in logits] == [(2, 10)] * 3


def test_lenet_needs_32_pixels():
    with pytest.raises(ValueError, match="32x32"):
        LeNet5(image_size=28)


# -- HintonNet: stageless MLPs ----------------------------------------------------------------
@pytest.mark.parametrize("arch, hidden", [("hintonnet_teacher", 1200), ("hintonnet_student", 800)])
@pytest.mark.parametrize("train_mode", [False, True])
def test_hintonnet_features(arch, hidden, train_mode):
    torch.manual_seed(0)
    model = build_model(arch, 10, 1).train(train_mode)
    assert model.stage_channels == () and model.stem_channels == 0 and model.embedding_dim == hidden
    assert model.input_size == (28, 28)
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(784, hidden), (hidden, hidden), (hidden, 10)]
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        out = model.features(x)
        plain = model(x)
    # the contract as far as it applies: no stem, no stages, no conv4
    assert set(out) == {"logits", "embedding", "stages_pre", "stages", "stage_outputs"}
    assert out["stages"] == [] and out["stages_pre"] == [] and out["stage_outputs"] == []
    assert out["logits"].shape == (3, 10) and torch.equal(plain, out["logits"])
    assert out["embedding"].shape == (3, hidden) and bool((out["embedding"] >= 0).all())   # after the ReLU
    assert torch.allclose(model.fc(out["embedding"]), out["logits"], atol=1e-6)


# -- validation ---------------------------------------------------------------------------------
def run_config(method, nets, data="mnist", teacher=None):
    raw = {"method": {"name": method}, "networks": [{"name": f"net{i}", "arch": a} for i, a in enumerate(nets)],
           "data": {"name": data}, "train": {"epochs": 1, "device": "cpu"}}
    if teacher:
        raw["teacher"] = {"name": "teacher", "arch": teacher}
    return raw


def one_line_error(raw):
    with pytest.raises(ConfigError) as info:
        validate_run(config_from_dict(raw), check_files=False)   # parsing the config validates it already
    assert "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize("method", ["byot", "scd", "one", "sad"])
@pytest.mark.parametrize("arch", ["hintonnet_student", "hintonnet_teacher"])
def test_stageless_mlp_rejected_by_stage_methods(method, arch):
    nets = (arch, arch) if method == "scd" else (arch,)
    err = one_line_error(run_config(method, nets))
    assert err.field == "networks[0].arch" and f"{arch} has 0 stage(s)" in str(err)
    assert "lenet5" in str(err)    # the staged models it lists include LeNet-5


@pytest.mark.parametrize("method, nets", [("fsp", ("hintonnet_student",)),
                                          ({"name": "tadml", "disc_input": "conv4"}, ("hintonnet_student",) * 2),
                                          ({"name": "adml", "disc_input": "conv4+fc"}, ("hintonnet_student",) * 2)])
def test_stageless_mlp_rejected_where_stem_or_conv4_is_read(method, nets):
    """FSP reads ``stem`` and ``stages``, a conv4 discriminator input ``conv4``: maps an MLP has not."""
    raw = run_config("x", nets, teacher="hintonnet_teacher")
    raw["method"] = method if isinstance(method, dict) else {"name": method}
    err = one_line_error(raw)
    assert err.field == "networks[0].arch" and "has 0 stage(s)" in str(err)
    if isinstance(method, dict):   # the logits discriminator of TADML is fine on an MLP
        raw["method"] = {"name": method["name"]}
        validate_run(config_from_dict(raw), check_files=False)


def test_stageless_mlp_rejected_by_stage_pair_methods():
    err = one_line_error(run_config("at", ("hintonnet_student",), teacher="hintonnet_teacher"))
    assert err.field == "method.stages" and "no stages" in str(err)


def test_models_pass_on_their_image_size():
    for raw in (run_config("kd", ("hintonnet_student",), teacher="hintonnet_teacher"),
                run_config("kd", ("lenet5_half",), data="mnist32", teacher="lenet5"),
                run_config("byot", ("lenet5",), data="usps32"), run_config("independent", ("resnet8",), data="usps")):
        validate_run(config_from_dict(raw), check_files=False)


@pytest.mark.parametrize("method, nets, teacher, data, field, built, fitting", [
    ("kd", ("lenet5_half",), "lenet5", "mnist", "networks[0].arch", "32x32", "mnist32"),
    ("kd", ("lenet5_half",), "hintonnet_teacher", "mnist32", "teacher.arch", "28x28", "mnist"),
    ("dml", ("resnet8", "hintonnet_student"), None, "usps", "networks[1].arch", "28x28", "mnist"),
])
def test_a_model_on_another_image_size_is_one_line(method, nets, teacher, data, field, built, fitting):
    err = one_line_error(run_config(method, nets, data=data, teacher=teacher))
    assert err.field == field and f"is built for {built} images" in str(err) and f"data set {data} has" in str(err)
    assert fitting in str(err).split("allowed: ")[1]
