"""Re-identification backbones (MobileNetV1, InceptionV1 = torchvision's GoogLeNet), their
ImageNet-weights path (``networks[i].pretrained``) and the engine's auxiliary-head loss."""
import pytest
import torch
import torch.nn.functional as F

from distill.config import config_from_dict
from distill.data.batch import Batch
from distill.errors import ConfigError
from distill.methods import METHODS
from distill.methods.auxiliary import DEFAULT_AUX_WEIGHT, aux_weight_for
from distill.methods.context import context_for
from distill.models import build_model, count_parameters
from distill.models.features import FEATURE_KEYS, ModelTail
from distill.models.pretrained import check_pretrained, load_pretrained
from distill.step_engine import StepEngine
from distill.validation import validate_run


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # two shared cores: OpenMP threads spinning against other processes make a 2-image forward take seconds
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def meta_count(arch: str, classes: int) -> int:
    with torch.device("meta"):
        return count_parameters(build_model(arch, classes))


def torchvision_googlenet(aux: bool, classes: int = 1000):
    from torchvision.models import googlenet

    torch.manual_seed(0)
    return googlenet(weights=None, aux_logits=aux, init_weights=True, num_classes=classes)


# -- parameter counts ---------------------------------------------------------
def test_mobilenet_v1_parameter_count_is_the_papers_4_2m():
    n = meta_count("mobilenet_v1", 1000)
    assert n == 4_231_976 and round(n / 1e6, 1) == 4.2


def test_googlenet_parameter_counts_are_torchvisions():
    assert meta_count("inception_v1", 1000) == 6_624_904
    assert meta_count("inception_v1_aux", 1000) == count_parameters(torchvision_googlenet(aux=True))


def test_narrow_mobilenet_scales_every_width():
    with torch.device("meta"):
        model = build_model("mobilenet_v1_w025", 10)
    assert (model.stem_channels, model.stage_channels, model.embedding_dim) == (16, (32, 64, 128, 256), 256)


def test_class_count_only_changes_the_classifiers():
    assert meta_count("mobilenet_v1", 751) - meta_count("mobilenet_v1", 16) == 735 * 1025
    # fc and the two aux heads' fc2 layers, all 1024 inputs wide
    assert meta_count("inception_v1_aux", 751) - meta_count("inception_v1_aux", 16) == 3 * 735 * 1025


# -- feature contract -----------------------------------------------------------
SHAPES = {  # (H, W) -> stem and stage spatial sizes
    "mobilenet_v1": {(256, 128): [(128, 64), (64, 32), (32, 16), (16, 8), (8, 4)],
                     (64, 32): [(32, 16), (16, 8), (8, 4), (4, 2), (2, 1)]},
    "inception_v1": {(256, 128): [(64, 32), (32, 16), (32, 16), (16, 8), (8, 4)],
                     (64, 32): [(16, 8), (8, 4), (8, 4), (4, 2), (2, 1)]},
}
CHANNELS = {"mobilenet_v1": (64, (128, 256, 512, 1024)), "inception_v1": (64, (192, 480, 832, 1024))}


@pytest.mark.parametrize("arch", ["mobilenet_v1", "inception_v1"])
@pytest.mark.parametrize("size", [(256, 128), (64, 32)])
def test_feature_contract_at_reid_and_smoke_sizes(arch, size):
    torch.manual_seed(0)
    model = build_model(arch, 7).eval()
    with torch.no_grad():
        out = model.features(torch.randn(2, 3, *size))
    stem_channels, stage_channels = CHANNELS[arch]
    assert set(out) == set(FEATURE_KEYS)
    assert (model.stem_channels, model.stage_channels, model.embedding_dim) == (stem_channels, stage_channels, 1024)
    spatial = SHAPES[arch][size]
    assert tuple(out["stem"].shape) == (2, stem_channels) + spatial[0]
    for i, (pre, post, handed) in enumerate(zip(out["stages_pre"], out["stages"], out["stage_outputs"])):
        assert tuple(post.shape) == (2, stage_channels[i]) + spatial[i + 1]
        assert torch.equal(post, F.relu(pre)) and torch.equal(handed, post)
    assert out["conv4"] is out["stages"][-1]
    assert out["embedding"].shape == (2, 1024) and out["logits"].shape == (2, 7)
    assert torch.allclose(out["embedding"], out["stages"][-1].mean((2, 3)), atol=1e-6)
    # ONE's branch: the last stage and head lifted out reproduce the network's own outputs
    with torch.no_grad():
        tail_embedding, tail_logits = ModelTail(model)(out["stage_outputs"][-2])
    assert torch.allclose(tail_logits, out["logits"], atol=1e-5) and torch.allclose(tail_embedding, out["embedding"])


def test_mobilenet_takes_cifar_input():
    with torch.no_grad():
        out = build_model("mobilenet_v1_w025", 10).eval().features(torch.randn(2, 3, 32, 32))
    assert [tuple(s.shape[2:]) for s in out["stages"]] == [(8, 8), (4, 4), (2, 2), (1, 1)]


@pytest.mark.parametrize("size", [(256, 128), (64, 32), (32, 32)])
def test_aux_heads_give_logits_in_training_only(size):
    torch.manual_seed(0)
    model = build_model("inception_v1_aux", 5).train()
    with torch.no_grad():   # gradients through the heads: the train_step tests below
        logits = model(torch.randn(2, 3, *size))
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 5)   # forward's return value is unchanged
    assert [tuple(z.shape) for z in model.aux_logits] == [(2, 5), (2, 5)]
    model.eval()
    assert model.aux_logits == []
    with torch.no_grad():
        model.features(torch.randn(2, 3, *size))
    assert model.aux_logits == []


def test_googlenet_matches_torchvision_output_for_output():
    reference = torchvision_googlenet(aux=True, classes=5).eval()
    reference.transform_input = True   # what torchvision builds for its ImageNet file, and what ours runs
    model = build_model("inception_v1_aux", 5).eval()
    model.load_state_dict(reference.state_dict())   # strict: the very same keys and shapes
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


# -- pretrained weights -----------------------------------------------------------
@pytest.fixture(scope="module")
def googlenet_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pretrained") / "googlenet.pth"
    torch.save(torchvision_googlenet(aux=True).state_dict(), path)
    return str(path)


@pytest.mark.parametrize("arch, skipped_heads", [
    ("inception_v1", lambda k: k.startswith(("fc.", "aux1.", "aux2."))),
    ("inception_v1_aux", lambda k: k.startswith(("fc.", "aux1.fc2.", "aux2.fc2."))),
])
def test_torchvision_googlenet_file_loads_with_only_heads_skipped(arch, skipped_heads, googlenet_file):
    state = torch.load(googlenet_file, weights_only=True)
    assert sorted(check_pretrained(googlenet_file, arch, 16, 3, "networks[0].pretrained")) == \
        sorted(k for k in state if skipped_heads(k))
    torch.manual_seed(1)
    model = build_model(arch, 16)
    lines = []
    skipped = load_pretrained(model, googlenet_file, "networks[0].pretrained", log=lines.append)
    assert sorted(skipped) == sorted(k for k in state if skipped_heads(k))
    assert len(lines) == 1 and f"skipped {len(skipped)}" in lines[0]
    own = model.state_dict()
    for key, value in state.items():
        if not skipped_heads(key):
            assert torch.equal(own[key], value), key
    assert own["fc.weight"].shape == (16, 1024)


def test_with_torchvisions_file_it_is_torchvisions_googlenet_for_that_file_on_market_input(googlenet_file):
    """googlenet(weights=IMAGENET1K_V1) builds GoogLeNet(transform_input=True, aux_logits=True,
    init_weights=False) and loads the file; the Market pipeline feeds ImageNet-normalised images.
    Our model loaded from the same file gives the same embedding on them."""
    from torchvision.models.googlenet import GoogLeNet

    from distill.data.batches import Normalizer
    from distill.data.market1501 import IMAGENET_MEAN, IMAGENET_STD

    reference = GoogLeNet(transform_input=True, aux_logits=True, init_weights=False)
    reference.load_state_dict(torch.load(googlenet_file, weights_only=True))
    reference.eval()
    pooled = []
    reference.avgpool.register_forward_hook(lambda module, args, out: pooled.append(torch.flatten(out, 1)))
    model = build_model("inception_v1", 751)
    load_pretrained(model, googlenet_file, "networks[0].pretrained", log=lambda line: None)
    model.eval()
    generator = torch.Generator().manual_seed(4)
    images = torch.randint(0, 256, (2, 3, 256, 128), dtype=torch.uint8, generator=generator)
    x = Normalizer(IMAGENET_MEAN, IMAGENET_STD, "cpu", channels_last=False)(images)
    with torch.no_grad():
        reference(x)
        ours = model.features(x)["embedding"]
        # without torchvision's input transform the first convolution sees another scale
        model.transform_input = False
        untransformed = model.features(x)["embedding"]
    # a randomly initialised file's activations are tiny: compare on the reference's scale
    scale = pooled[0].abs().max()
    assert scale > 0
    torch.testing.assert_close(ours / scale, pooled[0] / scale, rtol=1e-5, atol=1e-6)
    assert (untransformed - pooled[0]).abs().max() > 0.1 * scale


def digits_config(arch="mobilenet_v1_w025", **network):
    return config_from_dict({
        "method": {"name": "independent"}, "networks": [{"name": "net0", "arch": arch, **network}],
        "data": {"name": "digits", "batch_size": 16, "train_limit": 32},
        "train": {"epochs": 1, "threads": 1, "device": "cpu"}})


def save_state_dict(state, path) -> str:
    torch.save(state, path)
    return str(path)


def save_state(model, path) -> str:
    return save_state_dict(model.state_dict(), path)


def test_pretrained_loads_in_the_trainer_and_a_checkpoint_wins(tmp_path):
    from distill.trainer import Trainer

    torch.manual_seed(3)
    source = build_model("mobilenet_v1_w025", 1000, in_channels=1)   # ImageNet-sized classifier: skipped
    pretrained = save_state(source, tmp_path / "imagenet.pth")
    trainer = Trainer(digits_config(pretrained=pretrained), output_dir=str(tmp_path / "run"))
    net = trainer.networks["net0"]
    assert torch.equal(net.stages[2][0].pointwise.weight, source.stages[2][0].pointwise.weight)
    assert net.fc.weight.shape == (10, 256)
    assert trainer.engine.aux_weights == {"net0": 0.0}   # no auxiliary heads: no weight

    torch.manual_seed(4)
    other = build_model("mobilenet_v1_w025", 10, in_channels=1)
    checkpoint = save_state(other, tmp_path / "checkpoint.pth")
    trainer = Trainer(digits_config(pretrained=pretrained, checkpoint=checkpoint), output_dir=str(tmp_path / "run2"))
    assert torch.equal(trainer.networks["net0"].stages[2][0].pointwise.weight, other.stages[2][0].pointwise.weight)


def test_bad_pretrained_files_are_one_config_error_naming_the_key(tmp_path, googlenet_file):
    def error(arch, path):
        with pytest.raises(ConfigError) as info:
            validate_run(digits_config(arch, pretrained=str(path)))
        assert info.value.field == "networks[0].pretrained" and "\n" not in str(info.value)
        return info.value.problem

    assert "not found" in error("mobilenet_v1_w025", tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    assert "not a PyTorch state dict file" in error("mobilenet_v1_w025", tmp_path / "junk.pth")
    # another architecture's weights: nothing in common
    assert "no backbone tensor" in error("mobilenet_v1_w025", googlenet_file)
    # digits has one channel; torchvision's GoogLeNet conv1 takes three
    assert "conv1.conv.weight has shape (64, 3, 7, 7)" in error("inception_v1", googlenet_file)
    state = build_model("mobilenet_v1_w025", 10, in_channels=1).state_dict()
    del state["stages.1.0.bn1.running_var"]
    assert "lacks backbone tensor stages.1.0.bn1.running_var" in error("mobilenet_v1_w025", save_state_dict(state, tmp_path / "a.pth"))
    state = build_model("mobilenet_v1_w025", 10, in_channels=1).state_dict()
    state["stages.4.0.pointwise.weight"] = torch.zeros(1)   # a deeper model's block
    assert "holds stages.4.0.pointwise.weight" in error("mobilenet_v1_w025", save_state_dict(state, tmp_path / "b.pth"))


def test_aux_weight_is_validated_and_resolved():
    with pytest.raises(ConfigError, match=r"^networks\[0\]\.aux_weight"):
        digits_config(aux_weight=-0.1)
    with torch.device("meta"):
        aux, plain = build_model("inception_v1_aux", 5), build_model("inception_v1", 5)
    assert aux_weight_for(aux, None) == DEFAULT_AUX_WEIGHT == 0.4
    assert aux_weight_for(aux, 0.0) == 0.0 and aux_weight_for(aux, 1.5) == 1.5
    assert aux_weight_for(plain, None) == 0.0 and aux_weight_for(plain, 1.0) == 0.0


# -- the auxiliary loss in the default train_step ------------------------------------------
def default_step(aux_weight: float):
    torch.manual_seed(0)
    net = build_model("inception_v1_aux", 5).train()
    method_cls = METHODS.get("independent")
    method = method_cls(method_cls.Params(), context_for({"net0": net}, 5, input_shape=(3, 64, 32)))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    engine = StepEngine({"net0": net}, None, {"net0": optimizer}, None, torch.device("cpu"),
                        aux_weights={"net0": aux_weight})
    batch = Batch(images=torch.randn(2, 3, 64, 32), labels=torch.tensor([1, 3]))
    torch.manual_seed(1)   # the heads' dropout draws the same masks in every call
    terms = method.train_step(batch, engine)
    return terms, net


def test_default_train_step_adds_the_weighted_aux_term():
    terms, net = default_step(DEFAULT_AUX_WEIGHT)
    assert set(terms) == {"ce.net0", "aux.net0"}
    assert net.aux_logits == []   # taken by the step: no graph outlives it
    assert net.aux1.fc2.weight.grad is not None and net.aux1.fc2.weight.grad.abs().sum() > 0
    full, _ = default_step(1.0)
    assert float(terms["aux.net0"].detach()) == pytest.approx(DEFAULT_AUX_WEIGHT * float(full["aux.net0"].detach()), rel=1e-6)
    assert float(full["aux.net0"].detach()) > 0


def test_zero_aux_weight_removes_the_term():
    terms, net = default_step(0.0)
    assert set(terms) == {"ce.net0"}
    assert net.aux_logits == [] and net.aux1.fc2.weight.grad is None
