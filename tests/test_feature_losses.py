"""The feature losses against float64 values derived independently in numpy
(tests/fixtures/make_feature_loss_values.py states the conventions)."""
import json
import os

import torch

from distill.losses.attention_transfer import attention_loss, attention_map, multiscale_attention_loss
from distill.losses.feature_regression import hint_loss
from distill.losses.fsp import fsp_loss, fsp_matrix
from distill.losses.similarity_preserving import similarity_matrix, similarity_preserving_loss

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "feature_loss_values.json")) as fh:
    V = json.load(fh)
X = {k: torch.tensor(v, dtype=torch.float64) for k, v in V["inputs"].items()}
close = lambda got, want: torch.testing.assert_close(torch.as_tensor(got, dtype=torch.float64),  # noqa: E731
                                                     torch.as_tensor(want, dtype=torch.float64), rtol=1e-10, atol=1e-12)


def test_attention():
    close(attention_map(X["s4"], 2.0), V["attention_map_p2"])
    close(attention_loss(X["s4"], X["t4"], 2.0), V["at_equal_p2"])
    close(attention_loss(X["s4"], X["t4"], 3.0), V["at_equal_p3"])
    close(attention_loss(X["s4"], X["t2"], 2.0), V["at_pooled_p2"])
    close(multiscale_attention_loss(X["s4"], X["t4"], (1, 2, 4)), V["multiscale_124"])
    close(multiscale_attention_loss(X["s4"], X["t2"], (1, 2)), V["multiscale_pooled"])


def test_similarity_preserving():
    close(similarity_matrix(X["s4"]), V["sp_gram"])
    close(similarity_preserving_loss(X["s4"], X["t4"]), V["sp_loss"])


def test_fsp_and_hint():
    close(fsp_matrix(X["s_in"], X["s_out"]), V["fsp_matrix"])
    t4 = X["t4"][:, :2]
    close(fsp_loss([(X["s_in"], X["s_out"]), (X["s4"], X["s4"])], [(X["t_in"], X["t_out"]), (t4, t4)]), V["fsp_loss"])
    close(hint_loss(X["x"], X["t"]), V["hint"])


def test_attention_properties():
    s, t = X["s4"].clone().requires_grad_(True), X["t4"]
    assert float(attention_loss(t, t)) == 0.0
    close(attention_loss(3.0 * X["s4"], t), attention_loss(X["s4"], t))
    attention_loss(s, t.detach()).backward()
    assert s.grad.abs().sum() > 0
    assert attention_loss(X["s4"].bfloat16(), t.bfloat16()).dtype == torch.float32


def test_sp_value_is_symmetric():
    close(similarity_preserving_loss(X["s4"], X["t4"]), similarity_preserving_loss(X["t4"], X["s4"]))
