"""Re-identification evaluation: the scoring against float64 values derived by hand-written
loops over explicit ranked lists (tests/fixtures/make_retrieval_values.py states the
conventions: stable ties by gallery index, same-id same-camera and junk removed, skipped
queries, both mAP variants), the evaluator over batches (single networks, ``concat``, flip
averaging), and the ``retrieval`` task in the trainer and in validation, on a tiny
retrieval data set registered here (``test_retrieval_tiny``)."""
import json
import os

import pytest
import torch

from distill.config import config_from_dict
from distill.data import DATA_INFO, DATASETS, DataInfo, ImageSet
from distill.errors import ConfigError
from distill.evaluators import TASKS, RetrievalEvaluator
from distill.evaluators.ranking import retrieval_metrics, score_queries
from distill.validation import reported_metrics, validate_run

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "retrieval_values.json")) as fh:
    V = json.load(fh)
CASES = V["cases"]
KINDS = ("map", "map_plain", "rank1", "rank5", "rank10")
TINY = "test_retrieval_tiny"
TINY_IDS = 6


# -- a tiny retrieval data set: 3x8x8 images, ids 1..6 (classes 0..5 when training) ---------
def _tiny_split(n: int, seed: int, junk: bool) -> ImageSet:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.arange(n) % TINY_IDS + 1
    if junk:
        ids[::9] = -1
        ids[4::11] = 0
    images = torch.randint(0, 256, (n, 3, 8, 8), generator=gen, dtype=torch.uint8)
    cameras = torch.randint(1, 4, (n,), generator=gen)
    query = torch.rand(n, generator=gen) < 0.3
    return ImageSet(images, ids.long(), {"camera": cameras.long(), "query": query})


if TINY not in DATASETS:
    @DATASETS.register(TINY)
    def _load_tiny(root=None):
        train = _tiny_split(120, 0, junk=False)
        train.labels = train.labels - 1            # class indices for the classifier
        return train, _tiny_split(60, 1, junk=True), {"num_classes": TINY_IDS, "crop_padding": 1, "flip": True}

    DATA_INFO.register(TINY)(DataInfo(num_classes=TINY_IDS, in_channels=3, image_size=(8, 8), task="retrieval"))


def raw_config(data=TINY, nets=("resnet8",), method="independent", **data_extra) -> dict:
    return {"method": {"name": method}, "networks": [{"name": f"net{i}", "arch": a} for i, a in enumerate(nets)],
            "data": {"name": data, "batch_size": 16, "eval_batch_size": 16, **data_extra},
            "optim": {"lr": 0.05}, "train": {"epochs": 1, "device": "cpu", "threads": 1}, "seed": 3}


# -- the scoring, against the fixture ---------------------------------------------------
def tensors(inputs, key="features"):
    x = torch.tensor(inputs[key], dtype=torch.float32)
    ids, cams = torch.tensor(inputs["ids"]), torch.tensor(inputs["cameras"])
    q = torch.tensor(inputs["query"])
    return x, ids, cams, q


def assert_summary(got, want):
    assert set(got) == set(KINDS)
    for kind in KINDS:
        assert got[kind] == pytest.approx(want[kind], rel=1e-9, abs=1e-9), kind


@pytest.mark.parametrize("name", ["hand", "sign_ties", "gaussian"])
@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_per_query_scores(name, chunk):
    x, ids, cams, q = tensors(CASES[name]["inputs"])
    scores = score_queries(x[q], ids[q], cams[q], x[~q], ids[~q], cams[~q], chunk=chunk)
    want = CASES[name]["single"]["per_query"]
    assert scores.scored.tolist() == [p["scored"] for p in want]
    assert scores.first_rank.tolist() == [p["first_rank"] for p in want]
    assert scores.ap.dtype == scores.ap_plain.dtype == torch.float64
    torch.testing.assert_close(scores.ap, torch.tensor([p["ap"] for p in want], dtype=torch.float64),
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(scores.ap_plain, torch.tensor([p["ap_plain"] for p in want], dtype=torch.float64),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["hand", "sign_ties", "gaussian"])
def test_summary(name):
    x, ids, cams, q = tensors(CASES[name]["inputs"])
    assert_summary(retrieval_metrics(x[q], ids[q], cams[q], x[~q], ids[~q], cams[~q]), CASES[name]["single"]["summary"])


def test_a_larger_split_against_the_loops():
    """300 gallery images of 20 ids (several dozen good images a query), sign features (exact
    ties everywhere), scored in chunks of 7 queries against the fixture's loop derivation."""
    import numpy as np

    from fixtures.make_retrieval_values import evaluate

    rng = np.random.RandomState(11)
    n_q, n_g = 40, 300
    base = rng.rand(21, 16) < 0.5
    ids = np.concatenate([rng.randint(1, 21, n_q), rng.randint(-1, 21, n_g)])
    flips = rng.rand(len(ids), 16) < 0.15
    x = np.where(base[np.abs(ids)] ^ flips, -0.25, 0.25)
    cams = rng.randint(1, 7, len(ids))
    per_query, summary = evaluate(x[:n_q], ids[:n_q].tolist(), cams[:n_q].tolist(), x[n_q:], ids[n_q:].tolist(),
                                  cams[n_q:].tolist())
    t = lambda a: torch.tensor(a)  # noqa: E731
    got = score_queries(t(x[:n_q]), t(ids[:n_q]), t(cams[:n_q]), t(x[n_q:]), t(ids[n_q:]), t(cams[n_q:]), chunk=7)
    assert got.first_rank.tolist() == [p["first_rank"] for p in per_query]
    torch.testing.assert_close(got.ap, torch.tensor([p["ap"] for p in per_query], dtype=torch.float64))
    torch.testing.assert_close(got.ap_plain, torch.tensor([p["ap_plain"] for p in per_query], dtype=torch.float64))
    assert max(len(p["good_ranks"]) for p in per_query) > 8


def test_the_hand_case_by_hand():
    """The fixture's docstring case, stated here too: query 0's good images at ranks 3 and 5
    (a distractor, then a tie broken by gallery index), query 1 skipped, query 2 at rank 1."""
    s = CASES["hand"]["single"]["summary"]
    assert s["map_plain"] == pytest.approx(100 * ((1 / 3 + 2 / 5) / 2 + 1) / 2)
    assert s["map"] == pytest.approx(100 * (((0 + 1 / 3) / 2 + (1 / 4 + 2 / 5) / 2) / 2 + 1) / 2)
    assert (s["rank1"], s["rank5"], s["rank10"]) == (50.0, 100.0, 100.0)


def test_no_scorable_query_gives_zeros():
    x = torch.eye(4)
    ids, cams = torch.tensor([1, 1, 2, 2]), torch.tensor([1, 1, 1, 1])   # every match in the query's camera
    out = retrieval_metrics(x[:2], ids[:2], cams[:2], x[2:], ids[2:], cams[2:])
    assert out == {kind: 0.0 for kind in KINDS}


# -- the evaluator over batches ------------------------------------------------------------
def feed(evaluator, inputs, keys, flipped_key=None, batch=7):
    x = {k: torch.tensor(inputs[k], dtype=torch.float32) for k in keys.values()}
    flip = torch.tensor(inputs[flipped_key], dtype=torch.float32) if flipped_key else None
    ids, cams, q = torch.tensor(inputs["ids"]), torch.tensor(inputs["cameras"]), torch.tensor(inputs["query"])
    evaluator.reset()
    for s in range(0, len(ids), batch):
        part = slice(s, s + batch)
        outputs = {net: {"embedding": x[key][part] * (s + 1.0)} for net, key in keys.items()}   # scale: normalised away
        extras = {"camera": cams[part], "query": q[part]}
        if flip is None:
            evaluator.update(outputs, ids[part], extras)
        else:
            evaluator.update(outputs, ids[part], extras, flipped={"net0": {"embedding": flip[part] * (s + 1.0)}})
    return evaluator.result()


def test_evaluator_single_network_names_and_values():
    evaluator = RetrievalEvaluator(["net0"])
    out = feed(evaluator, CASES["sign_ties"]["inputs"], {"net0": "features"})
    assert sorted(out) == sorted(f"{k}.net0" for k in KINDS) == sorted(evaluator.directions())
    assert set(evaluator.directions().values()) == {"max"}
    assert_summary({k: out[f"{k}.net0"] for k in KINDS}, CASES["sign_ties"]["single"]["summary"])


def test_evaluator_concat():
    evaluator = RetrievalEvaluator(["net0", "net1"])
    out = feed(evaluator, CASES["concat"]["inputs"], {"net0": "features", "net1": "second"})
    assert sorted(out) == sorted(f"{k}.{n}" for k in KINDS for n in ("net0", "net1", "concat"))
    for net, group in (("net0", "single"), ("net1", "second"), ("concat", "concat")):
        assert_summary({k: out[f"{k}.{net}"] for k in KINDS}, CASES["concat"][group]["summary"])


def test_evaluator_flip_averaging():
    inputs = CASES["flip"]["inputs"]
    out = feed(RetrievalEvaluator(["net0"]), inputs, {"net0": "features"}, flipped_key="flipped")
    assert_summary({k: out[f"{k}.net0"] for k in KINDS}, CASES["flip"]["single"]["summary"])
    plain = feed(RetrievalEvaluator(["net0"]), inputs, {"net0": "features"})
    assert plain["map.net0"] != pytest.approx(out["map.net0"])   # the flipped features were used


def test_evaluator_needs_cameras_and_query_flags():
    evaluator = RetrievalEvaluator(["net0"])
    with pytest.raises(KeyError, match="camera"):
        evaluator.update({"net0": {"embedding": torch.ones(2, 3)}}, torch.tensor([1, 2]), {})


# -- the task in the trainer ---------------------------------------------------------------
def test_tasks_registry():
    assert TASKS.get("classification").primary == "acc" and TASKS.get("retrieval").primary == "map"
    assert TASKS.get("classification").metric_names(["a", "b"]) == ["acc.a", "loss.a", "acc.b", "loss.b"]
    assert TASKS.get("retrieval").metric_names(["a"]) == [f"{k}.a" for k in KINDS]


def test_trainer_reports_retrieval_metrics(tmp_path):
    from distill.trainer import Trainer

    config = config_from_dict(raw_config(nets=("resnet8", "resnet8")))
    trainer = Trainer(config, output_dir=str(tmp_path))
    metrics = trainer.fit()[-1]
    for net in ("net0", "net1", "concat"):
        for kind in KINDS:
            for split in ("val_", "best_val_", "test_"):
                assert 0.0 <= metrics[f"{split}{kind}.{net}"] <= 100.0
    assert metrics["val_map.mean"] == pytest.approx((metrics["val_map.net0"] + metrics["val_map.net1"]) / 2)
    assert metrics["val_map.max"] == max(metrics["val_map.net0"], metrics["val_map.net1"])
    assert metrics["best_val_map.max"] == max(metrics["best_val_map.net0"], metrics["best_val_map.net1"])
    assert not [k for k in metrics if k.startswith(("val_acc", "val_loss", "test_acc", "best_val_acc"))]
    declared = set(reported_metrics(config, validate_run(config, check_files=False)))
    assert set(metrics) - {k for k in metrics if not k.startswith(("val_", "test_", "best_val_"))} <= declared
    assert set(trainer.metric_directions()) == {m for m in declared if m.startswith(("val_", "test_", "best_val_"))} \
        - {"val_map.mean", "val_map.max", "best_val_map.max"}


def test_trainer_flip_averaging(tmp_path, monkeypatch):
    """With ``data.eval_flip`` every evaluation batch also runs mirrored, and the scores are those
    of the mean embedding of both views."""
    from distill.data.batches import eval_batches
    from distill.trainer import Trainer

    trainer = Trainer(config_from_dict(raw_config(eval_flip=True, val_fraction=0.5)), output_dir=str(tmp_path))
    net = trainer.networks["net0"]
    calls = []
    features = net.features
    monkeypatch.setattr(net, "features", lambda x: calls.append(x.shape[0]) or features(x))
    got = trainer.evaluate(trainer.val_set)
    monkeypatch.undo()
    batches = list(eval_batches(trainer.val_set, 16, trainer.normalize, trainer.device, with_extras=True))
    assert len(batches) > 1 and len(calls) == 2 * len(batches)
    net.eval()
    with torch.inference_mode():
        embeddings = torch.cat([(net.features(x)["embedding"] + net.features(x.flip(3))["embedding"]) / 2
                                for x, _, _ in batches])
    ids, cams, q = trainer.val_set.labels, trainer.val_set.extras["camera"], trainer.val_set.extras["query"]
    want = retrieval_metrics(embeddings[q], ids[q], cams[q], embeddings[~q], ids[~q], cams[~q])
    assert {k: got[f"{k}.net0"] for k in KINDS} == pytest.approx(want, rel=1e-6, abs=1e-6)


# -- the task in validation ------------------------------------------------------------------
def one_line_error(raw, metrics=()):
    with pytest.raises(ConfigError) as info:
        validate_run(config_from_dict(raw), check_files=False, metrics=metrics)
    assert "\n" not in str(info.value)
    return info.value


def test_a_classification_metric_on_retrieval_data():
    err = one_line_error(raw_config(), metrics=["val_acc.net0"])
    assert err.field == "metric" and "val_acc.net0" in str(err) and TINY in str(err)
    allowed = str(err).split("allowed: ")[1].split(", ")
    assert "val_map.net0" in allowed and "val_map_plain.net0" in allowed and "val_rank1.net0" in allowed
    assert not [m for m in allowed if "acc" in m or "loss" in m]


def test_a_retrieval_metric_on_classification_data():
    err = one_line_error(raw_config(data="digits", nets=("resnet8", "resnet8")), metrics=["val_map.net0"])
    assert err.field == "metric" and "val_acc.net0" in str(err).split("allowed: ")[1]


def test_retrieval_metrics_are_selectable():
    shapes = validate_run(config_from_dict(raw_config(nets=("resnet8", "resnet8"))), check_files=False,
                          metrics=["val_map.net0", "val_map_plain.concat", "val_rank1.net1", "best_val_map.max"])
    assert shapes.task == "retrieval"


def test_classification_names_unchanged():
    config = config_from_dict(raw_config(data="digits"))
    names = reported_metrics(config, validate_run(config, check_files=False))
    assert names[:6] == ["val_acc.net0", "best_val_acc.net0", "test_acc.net0",
                         "val_loss.net0", "best_val_loss.net0", "test_loss.net0"]
    assert names[-4:] == ["val_acc.mean", "val_acc.max", "best_val_acc.max", "params.net0"]


def test_exit_accuracy_on_retrieval_data():
    err = one_line_error(raw_config(method="byot"))
    assert err.field == "method.name" and "acc.net0.exit1" in str(err) and "digits" in str(err)


def test_flip_on_classification_data():
    err = one_line_error(raw_config(data="digits", eval_flip=True))
    assert err.field == "data.eval_flip" and TINY in str(err)


def test_a_network_named_concat():
    raw = raw_config(nets=("resnet8", "resnet8"))
    raw["networks"][1]["name"] = "concat"
    err = one_line_error(raw)
    assert err.field == "networks" and "map.concat" in str(err)
