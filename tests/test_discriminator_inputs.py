"""Every discriminator input (TADML Table 3) builds and trains one step, for a
same-width pair (ResNet-32 x2) and a different-width pair (WRN-10-4 + ResNet-8,
256 vs 64 channels: the channel pooling must make both inputs the same size)."""
import copy

import pytest
import torch
import torch.nn.functional as F

from distill.adversarial.discriminator_inputs import (DISC_INPUTS, POOLED_CHANNELS, build_input, conv4_vector,
                                                      input_size, needs_features)
from distill.methods import METHODS
from distill.methods.context import context_for
from distill.methods.base import Batch
from distill.models import build_model

KINDS = ("fc", "conv4", "conv4+fc", "fc+label", "fc+avgfc", "fc+dae")
PAIRS = {"resnet32-resnet32": ("resnet32", "resnet32"), "wrn_10_4-resnet8": ("wrn_10_4", "resnet8")}
NUM_CLASSES = 10
BATCH = 4


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Batch-4 forward passes: intra-op threads only add synchronisation (and stall on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_six_paper_inputs_are_registered():
    assert set(KINDS) <= set(DISC_INPUTS.names())


@pytest.fixture(scope="module", params=list(PAIRS), ids=list(PAIRS))
def pair(request):
    torch.manual_seed(0)
    networks = {f"net{i}": build_model(arch, num_classes=NUM_CLASSES, in_channels=3)
                for i, arch in enumerate(PAIRS[request.param])}
    gen = torch.Generator().manual_seed(1)
    batch = Batch(torch.randn(BATCH, 3, 32, 32, generator=gen), torch.randint(0, NUM_CLASSES, (BATCH,), generator=gen))
    return request.param, networks, batch


@pytest.mark.parametrize("kind", KINDS)
def test_input_kind_trains_one_step(pair, kind):
    pair_name, networks, batch = pair
    cls = METHODS.get("tadml")
    torch.manual_seed(2)
    method = cls(cls.Params(disc_input=kind, topology_weight=0.0), context_for(networks, NUM_CLASSES))
    assert method.wants_features() == needs_features(kind)
    for net in networks.values():
        net.train()
        net.zero_grad(set_to_none=True)
    outputs = {name: net.features(batch.images) for name, net in networks.items()}

    expected = input_size(kind, NUM_CLASSES, method.params.dae_hidden)
    for name in networks:
        x = build_input(kind, outputs[name], batch.labels, NUM_CLASSES, method.dae)
        assert x.shape == (BATCH, expected), f"{pair_name} {name}: {tuple(x.shape)} != {(BATCH, expected)}"
        assert torch.isfinite(x).all()
    first_layer = method.discriminators["net0"].net[0]
    assert first_layer.in_features == expected

    terms = method.losses(batch, outputs, None)
    assert {"adv.net0", "adv.net1"} <= set(terms)
    total = sum(terms.values())
    assert torch.isfinite(total)
    total.backward()
    for name, net in networks.items():
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters()), name

    disc_before = copy.deepcopy(method.discriminators.state_dict())
    nets_before = {n: copy.deepcopy(net.state_dict()) for n, net in networks.items()}
    extra = method.after_step(batch, outputs, None)
    want = {"disc.net0", "disc.net1"} | ({"dae.net0", "dae.net1"} if kind == "fc+dae" else set())
    assert set(extra) == want
    assert all(torch.isfinite(v) for v in extra.values())
    assert any(not torch.equal(v, disc_before[k]) for k, v in method.discriminators.state_dict().items())
    for n, net in networks.items():
        assert all(torch.equal(v, nets_before[n][k]) for k, v in net.state_dict().items()), n


def test_dae_is_trained_by_the_discriminator_optimizer(pair):
    _, networks, batch = pair
    cls = METHODS.get("tadml")
    torch.manual_seed(3)
    method = cls(cls.Params(disc_input="fc+dae", topology_weight=0.0), context_for(networks, NUM_CLASSES))
    assert method.dae is not None
    owned = {id(p) for group in method.disc_optimizer.param_groups for p in group["params"]}
    assert all(id(p) in owned for p in method.dae.parameters())
    with torch.no_grad():
        outputs = {name: net.features(batch.images) for name, net in networks.items()}
    before = copy.deepcopy(method.dae.state_dict())
    method.after_step(batch, outputs, None)
    assert any(not torch.equal(v, before[k]) for k, v in method.dae.state_dict().items())


def test_conv4_channels_are_pooled_in_groups(pair):
    """A 256-channel map becomes 64 channels, each the mean of 4 consecutive ones, on a 2x2 grid."""
    _, networks, batch = pair
    with torch.no_grad():
        for name, net in networks.items():
            feats = net.features(batch.images)
            conv4 = feats["conv4"]
            channels = conv4.shape[1]
            assert channels % POOLED_CHANNELS == 0
            grid = F.adaptive_avg_pool2d(conv4, 2)
            manual = grid.reshape(BATCH, POOLED_CHANNELS, channels // POOLED_CHANNELS, 2, 2).mean(2).flatten(1)
            assert torch.allclose(conv4_vector(feats), manual, rtol=1e-5, atol=1e-6), name
            avg = build_input("fc+avgfc", feats, batch.labels, NUM_CLASSES, None)[:, NUM_CLASSES:]
            emb = feats["embedding"]
            manual_emb = emb.reshape(BATCH, POOLED_CHANNELS, emb.shape[1] // POOLED_CHANNELS).mean(2)
            assert torch.allclose(avg, manual_emb, rtol=1e-5, atol=1e-6), name


def test_fc_label_is_logits_then_one_hot(pair):
    _, networks, batch = pair
    with torch.no_grad():
        feats = networks["net0"].features(batch.images)
    x = build_input("fc+label", feats, batch.labels, NUM_CLASSES, None)
    assert torch.equal(x[:, :NUM_CLASSES], feats["logits"].float())
    assert torch.equal(x[:, NUM_CLASSES:], F.one_hot(batch.labels, NUM_CLASSES).float())


def test_the_wide_pair_has_different_widths():
    wide = build_model("wrn_10_4", num_classes=NUM_CLASSES, in_channels=3)
    small = build_model("resnet8", num_classes=NUM_CLASSES, in_channels=3)
    with torch.no_grad():
        x = torch.randn(2, 3, 32, 32)
        assert wide.features(x)["conv4"].shape[1] == 256
        assert small.features(x)["conv4"].shape[1] == 64
        assert wide.features(x)["embedding"].shape[1] == 256
