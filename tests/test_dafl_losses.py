"""DAFL's building blocks: the losses against float64 values derived independently in
numpy (tests/fixtures/make_dafl_values.py states the conventions), and the official
generator's structure."""
import json
import math
import os

import pytest
import torch
from torch import nn

from distill.losses.data_free import activation_loss, data_free_kd_loss, information_entropy_loss, one_hot_loss
from distill.losses.kl_divergence import soft_kl
from distill.models.dafl_generator import DAFLGenerator

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "dafl_values.json")) as fh:
    V = json.load(fh)
RTOL = 1e-9
X = {k: torch.tensor(v, dtype=torch.float64) for k, v in V["inputs"].items()}


def close(got, want):
    got = torch.as_tensor(got)
    assert got.dtype == torch.float64, f"computed in {got.dtype}, not float64"
    assert got.dim() == 0
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=torch.float64), rtol=RTOL, atol=1e-12)


# --------------------------------------------------------------------------- losses
@pytest.mark.parametrize("name", sorted(V["one_hot"]))
def test_one_hot_loss(name):
    close(one_hot_loss(X[name]), V["one_hot"][name])


def test_one_hot_loss_tie_is_irrelevant():
    # row 1 of z_tie has two equal maxima: either pseudo-label gives the same CE
    z = X["z_tie"][1:2]
    top = torch.nonzero(z[0] == z[0].max()).flatten().tolist()
    assert len(top) == 2
    values = [float(torch.nn.functional.cross_entropy(z, torch.tensor([c]))) for c in top]
    assert values[0] == values[1]
    close(one_hot_loss(z), values[0])


@pytest.mark.parametrize("name", sorted(V["activation"]))
def test_activation_loss(name):
    close(activation_loss(X[name]), V["activation"][name])


def test_activation_loss_is_the_mean_not_the_l1_norm():
    f = X["feat_2d"]
    close(activation_loss(f) * f.shape[1], -f.abs().sum(1).mean())


@pytest.mark.parametrize("name", sorted(V["information_entropy"]))
def test_information_entropy_loss(name):
    close(information_entropy_loss(X[name]), V["information_entropy"][name])


def test_information_entropy_bounds_and_underflow():
    k = X["z_uniform"].shape[1]
    close(information_entropy_loss(X["z_uniform"]), -math.log10(k))      # log base 10, uniform pbar
    # one class only, the others underflow to 0 (float32 and float64): the limit 0, not nan
    for dtype in (torch.float32, torch.float64):
        z = torch.zeros(3, 5, dtype=dtype, requires_grad=True)
        with torch.no_grad():
            z[:, 1] = 2000.0
        loss = information_entropy_loss(z)
        assert loss.dtype == dtype and float(loss.detach()) == 0.0
        loss.backward()
        assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("name", sorted(V["kd"]))
def test_data_free_kd_loss(name):
    s, t = {"s_t": ("z_s", "z_t"), "t_s": ("z_t", "z_s"), "s_tie": ("z_s", "z_tie"),
            "s_dom": ("z_s", "z_dom"), "shifted": (None, "z_t")}[name]
    student = X["z_t"] + 3.0 if s is None else X[s]
    close(data_free_kd_loss(student, X[t]), V["kd"][name])
    close(soft_kl(student, X[t], 1.0), V["kd"][name])


def test_half_precision_is_upcast_and_float32_kept():
    z = X["z_t"]
    for fn in (one_hot_loss, activation_loss, information_entropy_loss):
        assert fn(z.half()).dtype == torch.float32
        assert fn(z.float()).dtype == torch.float32
    assert data_free_kd_loss(X["z_s"].bfloat16(), z.bfloat16()).dtype == torch.float32


def test_generator_gradients_flow_through_all_three_terms():
    z = X["z_t"].clone().requires_grad_(True)
    f = X["feat_2d"].clone().requires_grad_(True)
    (one_hot_loss(z) + 0.1 * activation_loss(f) + 5.0 * information_entropy_loss(z)).backward()
    assert z.grad.abs().sum() > 0 and f.grad.abs().sum() > 0


# --------------------------------------------------------------------------- generator
@pytest.mark.parametrize("latent, img, channels", [(100, 32, 1), (1000, 32, 3), (100, 28, 1), (1000, 28, 3)])
def test_generator_output_shape(latent, img, channels):
    torch.manual_seed(0)
    g = DAFLGenerator(latent, img, channels)
    out = g(torch.randn(4, latent))
    assert out.shape == (4, channels, img, img)
    assert torch.isfinite(out).all()


def test_generator_batchnorms():
    g = DAFLGenerator(100, 32, 1)
    bns = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 4
    first, inner1, inner2, last = bns
    assert first.num_features == 128 and first.eps == 1e-5 and first.affine
    assert (inner1.num_features, inner1.eps) == (128, 0.8) and inner1.affine
    assert (inner2.num_features, inner2.eps) == (64, 0.8) and inner2.affine
    assert last.num_features == 1 and not last.affine and last.weight is None and last.bias is None
    assert g.conv_blocks2[-1] is last and isinstance(g.conv_blocks2[-2], nn.Tanh)
    leaky = [m for m in g.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 2 and all(m.negative_slope == 0.2 for m in leaky)


def test_generator_parameter_count():
    # latent 100, img 32 (init 8), C 1:
    #   Linear 100 -> 128*8*8 = 8192: 100*8192 + 8192          = 827,392
    #   BN(128):                       2*128                    =     256
    #   conv3x3 128->128:              128*128*9 + 128          = 147,584
    #   BN(128, eps 0.8):              2*128                    =     256
    #   conv3x3 128->64:               128*64*9 + 64            =  73,792
    #   BN(64, eps 0.8):               2*64                     =     128
    #   conv3x3 64->1:                 64*1*9 + 1               =     577
    #   BN(1, affine=False):                                    =       0
    #   total                                                   = 1,049,985
    g = DAFLGenerator(100, 32, 1)
    assert sum(p.numel() for p in g.parameters()) == 1_049_985


def test_generator_output_bn_normalises_in_train_mode():
    torch.manual_seed(0)
    out = DAFLGenerator(100, 32, 3)(torch.randn(16, 100))
    mean = out.mean(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.zeros(3), atol=1e-4)


def test_generator_rejects_image_size_not_divisible_by_4():
    with pytest.raises(ValueError, match="30"):
        DAFLGenerator(100, 30, 1)


def test_generator_not_registered():
    import distill.models  # noqa: F401  (registers every classifier)
    from distill.models.registry import MODELS
    assert not any(obj is DAFLGenerator or "dafl" in name.lower() for name, obj in MODELS._entries.items())
