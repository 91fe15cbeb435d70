"""Discriminators: structure strings, layers, learning, and how TADML's adversarial
term and discriminator updates route gradients (one trainer-style step)."""
import copy
import io

import pytest
import torch
from torch import nn

from distill.adversarial.discriminator import Discriminator, parse_structure, structure_string
from distill.errors import ConfigError
from distill.methods import METHODS
from distill.methods.context import context_for
from distill.methods.base import Batch
from distill.models import build_model


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: intra-op threads only add synchronisation (and stall on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- structure strings ------------------------------------------------------------------
@pytest.mark.parametrize("text, widths", [("128fc-256fc-128fc", [128, 256, 128]), ("64fc", [64]),
                                          ("500fc-500fc", [500, 500]), ("64fc-128fc-256fc-128fc", [64, 128, 256, 128])])
def test_parse_structure_accepts(text, widths):
    assert parse_structure(text) == widths
    assert structure_string(widths) == text


@pytest.mark.parametrize("text", ["128fc--256", "0fc", "abc", "", "128-256", "128fc-", "-128fc", "fc", "-5fc", "12.5fc"])
def test_parse_structure_rejects(text):
    with pytest.raises(ConfigError) as err:
        parse_structure(text)
    message = str(err.value)
    assert err.value.field == "method.disc_structure"
    assert "'<positive int>fc'" in message and "128fc-256fc-128fc" in message, message
    assert repr(text) in message, "the message quotes the rejected value"
    assert "\n" not in message


def test_parse_structure_names_the_field_it_is_given():
    with pytest.raises(ConfigError) as err:
        parse_structure("64", "method.params.disc_structure")
    assert err.value.field == "method.params.disc_structure"


def test_bad_structure_is_rejected_when_the_config_is_built():
    cls = METHODS.get("tadml")
    from distill.config import config_from_dict

    raw = {"method": {"name": "tadml", "disc_structure": "128-256"},
           "networks": [{"name": "a", "arch": "resnet8"}, {"name": "b", "arch": "resnet8"}]}
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    assert "disc_structure" in str(err.value)
    assert cls.Params().disc_structure == "128fc-256fc-128fc"


@pytest.mark.parametrize("structure", ["128fc-256fc-128fc", "64fc", "100fc-100fc-100fc"])
def test_discriminator_layers_follow_the_string(structure):
    disc = Discriminator(10, structure)
    modules = list(disc.net)
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    acts = [m for m in modules if isinstance(m, nn.LeakyReLU)]
    widths = parse_structure(structure)
    assert [(l.in_features, l.out_features) for l in linears] == list(zip([10] + widths, widths + [1]))
    assert len(acts) == len(widths)
    assert all(a.negative_slope == pytest.approx(0.2) for a in acts)
    # Linear, LeakyReLU alternate; the 1-unit output has no activation after it
    assert [type(m) for m in modules] == [nn.Linear, nn.LeakyReLU] * len(widths) + [nn.Linear]
    out = disc(torch.randn(5, 10))
    assert out.shape == (5,)


def test_discriminator_learns_two_gaussian_clouds():
    torch.manual_seed(0)
    disc = Discriminator(8, "128fc-256fc-128fc")
    optimizer = torch.optim.Adam(disc.parameters(), lr=1e-4, betas=(0.5, 0.999))   # TADML's defaults
    gen = torch.Generator().manual_seed(1)
    bce = nn.BCEWithLogitsLoss()
    losses = []
    for _ in range(200):
        real = torch.randn(32, 8, generator=gen) + 1.5
        fake = torch.randn(32, 8, generator=gen) - 1.5
        loss = bce(disc(real), torch.ones(32)) + bce(disc(fake), torch.zeros(32))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0], f"BCE went from {losses[0]:.3f} to {losses[-1]:.3f}"


def _method(params=None, archs=("resnet8", "resnet8"), num_classes=10, seed=0):
    torch.manual_seed(seed)
    networks = {f"net{i}": build_model(a, num_classes=num_classes, in_channels=3) for i, a in enumerate(archs)}
    cls = METHODS.get("tadml")
    method = cls(cls.Params(**(params or {})), context_for(networks, num_classes))
    return method, networks


def _after_network_step(method, batch, outputs, teacher_output):
    """What the trainer does after the networks' step: count it, then update the method's own modules."""
    method.steps += 1
    return method.after_step(batch, outputs, teacher_output)


def _batch(seed=0, batch=4, num_classes=10):
    gen = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(batch, 3, 32, 32, generator=gen), torch.randint(0, num_classes, (batch,), generator=gen))


def test_method_discriminator_learns_separable_peers():
    """The method's own discriminators and Adam, fed two Gaussian clouds as the peers' logits."""
    cls = METHODS.get("tadml")
    torch.manual_seed(0)
    method = cls(cls.Params(disc_lr=1e-3, topology_weight=0.0), context_for({"a": nn.Identity(), "b": nn.Identity()}, 6))
    gen = torch.Generator().manual_seed(2)
    labels = torch.zeros(32, dtype=torch.long)
    first = last = None
    for _ in range(200):
        outputs = {"a": {"logits": torch.randn(32, 6, generator=gen) + 1.0},
                   "b": {"logits": torch.randn(32, 6, generator=gen) - 1.0}}
        terms = _after_network_step(method, Batch(labels, labels), outputs, None)
        assert set(terms) == {"disc.a", "disc.b"}
        total = float(sum(terms.values()).detach())
        first = total if first is None else first
        last = total
    assert last < 0.5 * first, f"discriminator loss went from {first:.3f} to {last:.3f}"
    assert method.steps == 200


def _grad_reach(value, networks):
    """Which networks the gradient of ``value`` reaches (nonzero somewhere in their parameters)."""
    params = {n: list(net.parameters()) for n, net in networks.items()}
    flat = [p for ps in params.values() for p in ps]
    grads = torch.autograd.grad(value, flat, allow_unused=True, retain_graph=True)
    reached, i = set(), 0
    for name, ps in params.items():
        gs = grads[i:i + len(ps)]
        i += len(ps)
        if any(g is not None and torch.count_nonzero(g) > 0 for g in gs):
            reached.add(name)
    return reached


def test_symmetric_adversarial_terms_reach_only_their_own_network():
    method, networks = _method()
    assert set(method.discriminators) == {"net0", "net1"}
    batch = _batch()
    outputs = {n: net.features(batch.images) for n, net in networks.items()}
    terms = method.losses(batch, outputs, None)
    assert {"adv.net0", "adv.net1", "topology.net0", "js.net0", "ce.net0"} <= set(terms)
    assert _grad_reach(terms["adv.net0"], networks) == {"net0"}
    assert _grad_reach(terms["adv.net1"], networks) == {"net1"}
    # and trainer-style: the total backpropagates into both networks
    sum(terms.values()).backward()
    for net in networks.values():
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_fixed_real_mode_has_one_discriminator_and_no_term_for_the_real_peer():
    method, networks = _method({"disc_mode": "fixed_real", "real_peer": "net0"})
    assert set(method.discriminators) == {"shared"}
    batch = _batch()
    outputs = {n: net.features(batch.images) for n, net in networks.items()}
    terms = method.losses(batch, outputs, None)
    assert "adv.net0" not in terms
    assert "adv.net1" in terms
    assert _grad_reach(terms["adv.net1"], networks) == {"net1"}
    sum(terms.values()).backward()
    extra = _after_network_step(method, batch, outputs, None)
    assert set(extra) == {"disc.shared"}


def test_fixed_real_defaults_to_the_first_peer_and_checks_the_name():
    method, _ = _method({"disc_mode": "fixed_real", "adv_weight": 1.0})
    assert method.real_peer == "net0"
    from distill.config import config_from_dict

    raw = {"method": {"name": "tadml", "disc_mode": "fixed_real", "real_peer": "netX"},
           "networks": [{"name": "net0", "arch": "resnet8"}, {"name": "net1", "arch": "resnet8"}]}
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    assert err.value.field == "method.real_peer" and "net0" in str(err.value)


def test_after_step_updates_discriminators_and_leaves_networks_alone():
    method, networks = _method()
    batch = _batch()
    outputs = {n: net.features(batch.images) for n, net in networks.items()}
    terms = method.losses(batch, outputs, None)
    sum(terms.values()).backward()
    nets_before = {n: copy.deepcopy(net.state_dict()) for n, net in networks.items()}
    grads_before = {n: [p.grad.clone() for p in net.parameters()] for n, net in networks.items()}
    disc_before = copy.deepcopy(method.discriminators.state_dict())

    extra = _after_network_step(method, batch, outputs, None)

    assert set(extra) == {"disc.net0", "disc.net1"}
    assert all(torch.isfinite(v) for v in extra.values())
    assert method.steps == 1
    changed = [k for k, v in method.discriminators.state_dict().items() if not torch.equal(v, disc_before[k])]
    assert len(changed) == len(disc_before), f"discriminator tensors left unchanged: {set(disc_before) - set(changed)}"
    for name, net in networks.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, nets_before[name][key]), f"after_step changed {name}.{key}"
        for p, g in zip(net.parameters(), grads_before[name]):
            assert torch.equal(p.grad, g), f"after_step changed the gradients of {name}"


def test_disc_every_and_disc_steps():
    method, networks = _method({"disc_every": 2, "disc_steps": 3, "topology_weight": 0.0})
    batch = _batch()
    outputs = {n: net.features(batch.images) for n, net in networks.items()}
    before = copy.deepcopy(method.discriminators.state_dict())
    assert _after_network_step(method, batch, outputs, None) == {}       # step 1: not a multiple of 2
    assert all(torch.equal(v, before[k]) for k, v in method.discriminators.state_dict().items())
    assert set(_after_network_step(method, batch, outputs, None)) == {"disc.net0", "disc.net1"}
    assert method.disc_optimizer.state_dict()["state"][0]["step"] == 3


def _state_bytes(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def test_method_state_round_trip():
    method, networks = _method(seed=0)
    batch = _batch()
    with torch.no_grad():
        outputs = {n: net.features(batch.images) for n, net in networks.items()}
    for _ in range(3):
        _after_network_step(method, batch, outputs, None)
    state = _state_bytes(method.method_state())

    restored, _ = _method(seed=5)    # different initial weights
    assert not all(torch.equal(a, b) for a, b in zip(restored.discriminators.state_dict().values(),
                                                      method.discriminators.state_dict().values()))
    restored.load_method_state(state)

    assert restored.steps == 3
    for key, value in method.discriminators.state_dict().items():
        assert torch.equal(restored.discriminators.state_dict()[key], value), key
    saved, loaded = method.disc_optimizer.state_dict(), restored.disc_optimizer.state_dict()
    assert len(loaded["state"]) == len(saved["state"]) > 0
    for idx, entry in saved["state"].items():
        for key, value in entry.items():
            assert torch.equal(torch.as_tensor(loaded["state"][idx][key]), torch.as_tensor(value)), (idx, key)
    assert loaded["param_groups"] == saved["param_groups"]

    # both continue identically
    _after_network_step(method, batch, outputs, None)
    _after_network_step(restored, batch, outputs, None)
    for key, value in method.discriminators.state_dict().items():
        assert torch.equal(restored.discriminators.state_dict()[key], value), key
    assert restored.steps == method.steps == 4


def test_teacher_adversary_keeps_a_float64_run_in_float64():
    """A discriminator built in float64 takes float64 inputs as they are (no cast to float32)."""
    from distill.adversarial.teacher_adversary import TeacherAdversary

    torch.manual_seed(0)
    for conditional in (False, True):
        adversary = TeacherAdversary(5, "8fc", num_classes=5, conditional=conditional).double()
        real, fake = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
        labels = torch.tensor([0, 1, 2, 3])
        loss = adversary.discriminator_loss(real, fake, labels) + adversary.student_loss(fake, labels)
        assert loss.dtype == torch.float64
        # half precision (autocast outputs) is upcast to float32 for a float32 discriminator
        half = TeacherAdversary(5, "8fc", num_classes=5, conditional=conditional)
        assert half.student_loss(fake.half(), labels).dtype == torch.float32
