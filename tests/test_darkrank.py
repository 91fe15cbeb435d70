"""DarkRank and the direct similarity transfer: the losses against float64 values
derived independently by explicit permutation enumeration in numpy
(tests/fixtures/make_darkrank_values.py states the conventions), gradients, bad
input, and a behaviour check: the soft (and the hard) transfer makes a tiny
student's nearest neighbours agree more with a frozen teacher's."""
import itertools
import json
import math
import os

import pytest
import torch

from distill.config import config_from_dict
from distill.data.batch import Batch
from distill.errors import ConfigError
from distill.losses.darkrank import (hard_rank_loss, permutation_index, plackett_luce_log_prob, similarity_scores,
                                     soft_rank_loss, teacher_ranking)
from distill.losses.similarity_l2 import similarity_l2_loss
from distill.methods import METHODS
from distill.methods.context import context_for
from distill.models.hintonnet import HintonNet
from distill.validation import validate_run

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "darkrank_values.json")) as fh:
    V = json.load(fh)
X = {k: torch.tensor(v, dtype=torch.float64) for k, v in V["inputs"].items()}
RTOL = 1e-9


def close(got, want):
    got = torch.as_tensor(got)
    assert got.dtype == torch.float64, f"computed in {got.dtype}, not float64"
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=torch.float64), rtol=RTOL, atol=1e-11)


def case_id(c):
    return f"{c['student']}-{c['teacher']}-{c['setting']}-n{c.get('list_length', '')}-q{c.get('queries')}"


# --------------------------------------------------------------------------- primitives
@pytest.mark.parametrize("setting", sorted(V["settings"]))
def test_similarity_scores(setting):
    alpha, beta = V["settings"][setting]
    close(similarity_scores(X["student"], alpha, beta), V["student_scores"][setting])


def test_teacher_ranking_is_ascending_distance_without_the_query():
    assert teacher_ranking(X["teacher"]).tolist() == V["teacher_rankings"]


def test_teacher_ranking_ties_by_index():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    # from row 0: row 3 is the same point, rows 1 and 2 are equally far
    assert teacher_ranking(e)[0].tolist() == [3, 1, 2]


@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_permutation_index(n):
    perms = permutation_index(n)
    assert perms.shape == (math.factorial(n), n) and perms.dtype == torch.long
    assert perms.tolist() == [list(p) for p in itertools.permutations(range(n))]
    assert permutation_index(n) is perms        # built once


def test_plackett_luce_is_a_distribution_over_permutations():
    torch.manual_seed(0)
    scores = torch.randn(3, 5, dtype=torch.float64) * 3
    log_p = plackett_luce_log_prob(scores[:, permutation_index(5)])
    close(log_p.exp().sum(-1), torch.ones(3, dtype=torch.float64))
    # the most probable order is the descending one
    best = permutation_index(5)[log_p.argmax(-1)]
    assert best.tolist() == scores.argsort(-1, descending=True).tolist()


# --------------------------------------------------------------------------- losses
@pytest.mark.parametrize("c", V["soft"], ids=case_id)
def test_soft_rank_loss(c):
    s, t = X[c["student"]], X[c["teacher"]]
    args = (c["list_length"], c["alpha"], c["beta"], c["queries"])
    close(soft_rank_loss(s, t, *args), c["soft"])
    # cross-entropy = KL + the teacher's entropy (the CE of the teacher with itself)
    close(soft_rank_loss(s, t, *args) - soft_rank_loss(t, t, *args), c["soft_kl"])


@pytest.mark.parametrize("c", V["hard"], ids=case_id)
def test_hard_rank_loss(c):
    close(hard_rank_loss(X[c["student"]], X[c["teacher"]], c["alpha"], c["beta"], c["queries"]), c["hard"])


@pytest.mark.parametrize("c", V["l2"], ids=case_id)
def test_similarity_l2_loss(c):
    close(similarity_l2_loss(X[c["student"]], X[c["teacher"]], c["alpha"], c["beta"]), c["l2"])


def test_losses_are_invariant_to_each_rows_scale():
    scale = torch.linspace(0.1, 10, len(X["student"]), dtype=torch.float64)[:, None]
    s, t = X["student"], X["teacher"]
    close(soft_rank_loss(s * scale, t), soft_rank_loss(s, t))
    close(hard_rank_loss(s * scale, t * scale.flip(0)), hard_rank_loss(s, t))
    close(similarity_l2_loss(s * scale, t), similarity_l2_loss(s, t))


def test_hard_loss_on_a_large_batch_needs_no_enumeration():
    torch.manual_seed(1)
    s, t = torch.randn(512, 64), torch.randn(512, 128)
    loss = hard_rank_loss(s, t)
    assert loss.dtype == torch.float32 and math.isfinite(float(loss))
    # a student equal to the teacher ranks as the teacher: lower than an unrelated one
    assert float(hard_rank_loss(t, t)) < float(loss)


def test_half_precision_is_upcast():
    s, t = X["student"].half(), X["teacher"].half()
    for value in (soft_rank_loss(s, t), hard_rank_loss(s, t), similarity_l2_loss(s, t)):
        assert value.dtype == torch.float32 and math.isfinite(float(value))


@pytest.mark.parametrize("beta", [0.5, 1.0, 3.0])
def test_gradients_are_finite_where_samples_coincide(beta):
    s = X["student"].clone()
    s[3] = s[1] * 2.0                     # the same direction: distance 0 between candidates
    s.requires_grad_(True)
    (soft_rank_loss(s, X["teacher"], 4, 3.0, beta) + hard_rank_loss(s, X["teacher"], 3.0, beta)
     + similarity_l2_loss(s, X["teacher"], 3.0, beta)).backward()
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0


def test_loss_rejects_a_list_as_long_as_the_batch():
    with pytest.raises(ValueError, match="list_length 4"):
        soft_rank_loss(X["small_s"][:4], X["small_t"][:4], 4)


# --------------------------------------------------------------------------- methods
def method_for(name, student, teacher, **params):
    cls = METHODS.get(name)
    return cls(cls.Params(**params), context_for({"student": student}, 4, teacher=teacher, input_shape=(1, 4, 4)))


def tiny_models(seed=0):
    torch.manual_seed(seed)
    student = HintonNet(num_classes=4, in_channels=1, image_size=4, hidden=(24,))
    teacher = HintonNet(num_classes=4, in_channels=1, image_size=4, hidden=(40,)).requires_grad_(False)
    return student, teacher


@pytest.mark.parametrize("name, params, terms", [
    ("darkrank", {"soft_weight": 1.0, "hard_weight": 1.0, "kd_weight": 1.0}, {"ce", "kd", "soft", "hard"}),
    ("similarity_l2", {}, {"ce", "l2"}),
])
def test_gradients_reach_the_student_only(name, params, terms):
    student, teacher = tiny_models()
    method = method_for(name, student, teacher, **params)
    torch.manual_seed(1)
    images, labels = torch.randn(12, 1, 4, 4), torch.randint(0, 4, (12,))
    teacher_out = {k: v.clone().requires_grad_(True) for k, v in teacher.features(images).items()
                   if k in method.teacher_taps()}
    out = student.features(images)
    losses = method.losses(Batch(images=images, labels=labels), {"student": out}, teacher_out)
    assert {k.split(".")[0] for k in losses} == terms and all(k.endswith(".student") for k in losses)
    sum(losses.values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    assert all(v.grad is None for v in teacher_out.values())
    assert all(p.grad is None for p in teacher.parameters())


def test_darkrank_reads_only_what_its_weights_need():
    student, teacher = tiny_models()
    m = method_for("darkrank", student, teacher)
    assert m.teacher_taps() == ("embedding",) and m.wants_features() and m.wants_teacher()
    m = method_for("darkrank", student, teacher, soft_weight=0.0, hard_weight=0.0, kd_weight=1.0)
    assert m.teacher_taps() == ("logits",) and not m.wants_features() and m.wants_teacher()
    m = method_for("darkrank", student, teacher, soft_weight=0.0, hard_weight=0.0)
    assert not m.wants_teacher() and not m.wants_features()
    m = method_for("similarity_l2", student, teacher, l2_weight=0.0)
    assert not m.wants_teacher() and not m.wants_features()


def test_darkrank_defaults():
    p = METHODS.get("darkrank").Params()
    assert (p.ce_weight, p.kd_weight, p.soft_weight, p.hard_weight) == (1.0, 0.0, 0.0, 1.0)
    assert (p.list_length, p.alpha, p.beta, p.temperature, p.queries) == (4, 3.0, 3.0, 4.0, "all")


def test_half_the_batch_as_queries_is_the_official_query_set():
    """queries: half ranks from the first B // 2 samples only (the official code's paired half),
    against every other sample of the batch as candidates."""
    student, teacher = tiny_models()
    torch.manual_seed(2)
    images, labels = torch.randn(8, 1, 4, 4).double(), torch.randint(0, 4, (8,))
    student, teacher = student.double(), teacher.double()
    s_out = student.features(images)
    s_emb, t_emb = s_out["embedding"], teacher.features(images)["embedding"].detach()
    for queries, rows in (("all", None), ("half", 4)):
        method = method_for("darkrank", student, teacher, soft_weight=1.0, hard_weight=1.0, ce_weight=0.0,
                            queries=queries)
        terms = method.losses(Batch(images=images, labels=labels), {"student": s_out},
                              {"embedding": t_emb})
        assert float(terms["soft.student"].detach()) == float(soft_rank_loss(s_emb, t_emb, 4, 3.0, 3.0, rows))
        assert float(terms["hard.student"].detach()) == float(hard_rank_loss(s_emb, t_emb, 3.0, 3.0, rows))
    # half differs from all on this batch, and equals the mean over the first four queries alone
    assert float(soft_rank_loss(s_emb, t_emb, 4, 3.0, 3.0, 4)) != float(soft_rank_loss(s_emb, t_emb, 4, 3.0, 3.0))


def darkrank_config(batch_size, **params):
    return config_from_dict({"method": {"name": "darkrank", **params}, "networks": [{"name": "student", "arch": "resnet8"}],
                             "teacher": {"name": "teacher", "arch": "resnet14"},
                             "data": {"name": "digits", "batch_size": batch_size},
                             "train": {"epochs": 1, "device": "cpu"}})


@pytest.mark.parametrize("batch_size, list_length, allowed", [(4, 4, "2 to 3"), (5, 6, "2 to 4"), (2, 2, "none")])
def test_list_length_must_be_below_the_batch_size(batch_size, list_length, allowed):
    with pytest.raises(ConfigError) as info:
        validate_run(darkrank_config(batch_size, soft_weight=1.0, list_length=list_length), check_files=False)
    err = info.value
    assert err.field == "method.list_length" and f"allowed: {allowed}" in str(err) and "\n" not in str(err)
    assert f"data.batch_size is {batch_size}" in str(err)


def test_list_length_is_free_without_the_soft_transfer_and_bounded_by_six():
    validate_run(darkrank_config(4, soft_weight=0.0, list_length=4), check_files=False)
    validate_run(darkrank_config(8, soft_weight=1.0, list_length=6), check_files=False)
    with pytest.raises(ConfigError) as info:
        darkrank_config(64, list_length=7)
    assert info.value.field == "method.list_length"


# --------------------------------------------------------------------------- behaviour
def topn_overlap(student_emb, teacher_emb, n=4):
    """Mean fraction of each query's teacher top-n neighbours that are also the student's."""
    s, t = teacher_ranking(student_emb)[:, :n], teacher_ranking(teacher_emb)[:, :n]
    return sum(len(set(a) & set(b)) for a, b in zip(s.tolist(), t.tolist())) / (n * len(s))


def train(params, steps=40, name="darkrank"):
    student, teacher = tiny_models(seed=2)
    method = method_for(name, student, teacher, **params)
    g = torch.Generator().manual_seed(3)
    images = torch.randn(320, 1, 4, 4, generator=g)
    with torch.no_grad():
        labels = teacher(images).argmax(1)
    train_x, train_y, val_x = images[:256], labels[:256], images[256:]
    opt = torch.optim.Adam(student.parameters(), lr=1e-2)
    for step in range(steps):
        index = torch.randperm(256, generator=g)[:32]
        with torch.no_grad():
            teacher_out = {k: v for k, v in teacher.features(train_x[index]).items() if k in method.teacher_taps()}
        terms = method.losses(Batch(images=train_x[index], labels=train_y[index]),
                              {"student": student.features(train_x[index])}, teacher_out)
        opt.zero_grad()
        sum(terms.values()).backward()
        opt.step()
    with torch.no_grad():
        return topn_overlap(student.features(val_x)["embedding"], teacher.features(val_x)["embedding"])


@pytest.mark.parametrize("name, transfer", [("darkrank", "soft_weight"), ("darkrank", "hard_weight"),
                                             ("similarity_l2", "l2_weight")])
def test_transfer_moves_the_students_neighbours_toward_the_teachers(name, transfer):
    off = {"soft_weight": 0.0, "hard_weight": 0.0} if name == "darkrank" else {}
    with_term = train({**off, transfer: 1.0}, name=name)
    without = train({**off, transfer: 0.0}, name=name)
    # measured: 0.24 without; 0.45 soft, 0.51 hard, 0.48 l2 (top-4 overlap, 64 held-out samples)
    assert with_term > without + 0.05, f"{transfer}: top-4 overlap {with_term:.3f} with the term, {without:.3f} without"
