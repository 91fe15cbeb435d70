"""Each self-distillation method moves what it transfers toward its own target:
a short run with the transfer term on ends closer to the target, in the
quantity the term transfers, than the same run (same seed, same data, CE kept)
with the term's weight at 0. Measured in eval mode on held-out validation
images. Plus exit accuracy and the exits' ensemble counted by hand."""
import pytest
import torch
import torch.nn.functional as F

from distill.config import config_from_dict
from distill.data.augment import random_crop_flip
from distill.data.batches import eval_batches
from distill.data.registry import ImageSet
from distill.losses.attention_similarity import similarity_gap
from distill.losses.attention_transfer import attention_similarity
from distill.losses.mmd import linear_mmd
from distill.losses.spatial_attention import sad_loss
from distill.trainer import Trainer


def build(tmp_path, method: dict, epochs=3, seed=3):
    return Trainer(config_from_dict({
        "method": method,
        "networks": [{"name": "net0", "arch": "resnet8"}],
        "data": {"name": "digits", "batch_size": 32, "train_limit": 320},
        "optim": {"lr": 0.05, "momentum": 0.9, "schedule": "cosine"},
        "train": {"epochs": epochs, "threads": 1, "device": "cpu"},
        "seed": seed}), output_dir=str(tmp_path))


def run(tmp_path, method: dict, epochs=3):
    trainer = build(tmp_path, method, epochs)
    trainer.fit()
    return trainer


def val_batch(trainer, size=256):
    return next(eval_batches(trainer.val_set, size, trainer.normalize, trainer.device))


@torch.no_grad()
def val_features(trainer):
    """The network's taps on validation images, network and method in eval mode."""
    trainer.networks["net0"].eval()
    trainer.method.eval()
    return trainer.networks["net0"].features(val_batch(trainer)[0])


def kl(target_logits, logits, temperature=1.0):
    """KL(p_target || p), batch mean."""
    return F.kl_div(F.log_softmax(logits.double() / temperature, 1), F.softmax(target_logits.double() / temperature, 1),
                    reduction="batchmean").item()


# -- what each term transfers -------------------------------------------------
@torch.no_grad()
def exit_disagreement(trainer):
    """Mean over shallow exits of KL(p_deep^T || p_exit^T), through the method's own exit heads, at the
    temperature the term transfers at (BYOT's and SCD's T)."""
    logits = trainer.method.exit_outputs("net0", val_features(trainer))[1]
    t = trainer.method.params.temperature
    return sum(kl(logits[-1], z, t) for z in logits[:-1]) / (len(logits) - 1)


@torch.no_grad()
def similarity_distance(trainer):
    """Sum over shallow stages of the gap between their attention similarity and the deepest stage's."""
    stages = val_features(trainer)["stage_outputs"]
    deepest = attention_similarity(stages[-1])
    return sum(similarity_gap(attention_similarity(s), deepest).item() for s in stages[:-1])


@torch.no_grad()
def sad_distance(trainer):
    stages = val_features(trainer)["stage_outputs"]
    return sum(sad_loss(a, b).item() for a, b in zip(stages[:-1], stages[1:]))


@torch.no_grad()
def same_class_disagreement(trainer, temperature=4.0):
    """Mean symmetric KL at T between the softmax outputs of every same-class pair of validation images."""
    labels = val_batch(trainer)[1]
    log_p = F.log_softmax(val_features(trainer)["logits"].double() / temperature, 1)
    p = log_p.exp()
    pairwise = (p * log_p).sum(1, keepdim=True) - p @ log_p.t()   # [i, j] = KL(p_i || p_j)
    same = (labels[:, None] == labels[None, :]) & ~torch.eye(len(labels), dtype=torch.bool)
    return pairwise[same].mean().item()   # both orders of each pair: the symmetric KL, halved


@torch.no_grad()
def two_views(trainer, size=256):
    """Features of two independent crops of the same validation images (the digits' augmentation: pad 1, no flip)."""
    images = trainer.val_set.images[:size]
    generator = torch.Generator().manual_seed(11)
    net = trainer.networks["net0"].eval()
    views = [trainer.normalize(random_crop_flip(images, trainer.splits.crop_padding, trainer.splits.flip, generator))
             for _ in range(2)]
    return [net.features(v) for v in views]


def view_disagreement(trainer):
    first, second = two_views(trainer)
    return kl(first["logits"], second["logits"]) + kl(second["logits"], first["logits"])


def view_mmd(trainer):
    first, second = two_views(trainer)
    return linear_mmd(first["embedding"], second["embedding"]).item()


@torch.no_grad()
def branch_disagreement(trainer):
    """Mean over ONE's branches of KL(p_ensemble || p_branch)."""
    logits, ensemble = trainer.method.branch_logits("net0", val_features(trainer))
    return sum(kl(ensemble, z) for z in logits) / len(logits)


# method params with the transfer on, the same with it off, what the transfer moves, epochs.
# Epochs and weights are the shortest runs whose margin is clear on seeds 3, 5, 7, 9 and 11
# (the fixed seed is 3): see the note on byot.
CASES = {
    # BYOT's alpha also takes (1 - alpha) off the exits' CE, and its KD (the authors' code) carries no T^2:
    # at T 3 a ninth of Hinton's, too weak on digits in 20 epochs to beat what the exits' own full CE does for
    # their agreement (measured: 0.23 at alpha 0.3, 0.61 at 0.9, against 0.19 at alpha 0). The term's
    # direction is shown at Hinton's scale (kd_scaling t_squared): 0.10 against 0.19.
    "byot": ({"name": "byot", "kd_scaling": "t_squared", "hint_weight": 0.0},
             {"name": "byot", "alpha": 0.0, "hint_weight": 0.0}, exit_disagreement, 20),
    "scd_similarity": ({"name": "scd"}, {"name": "scd", "similarity_weight": 0.0}, similarity_distance, 3),
    "scd_consistency": ({"name": "scd"}, {"name": "scd", "consistency_weight": 0.0}, exit_disagreement, 10),
    # SAD at its default weight (0.1), on from the first epoch: 0.037 against 0.099 after 5 epochs.
    # (On the paper's channel *sum* the spatial softmax was nearly one-hot here and large weights
    # collapsed the run; the method now takes the channel mean, see spatial_attention.py.)
    "sad": ({"name": "sad", "start_fraction": 0.0},
            {"name": "sad", "start_fraction": 0.0, "sad_weight": 0.0}, sad_distance, 5),
    "cs_kd": ({"name": "cs_kd"}, {"name": "cs_kd", "kd_weight": 0.0}, same_class_disagreement, 3),
    "ddgsd_kl": ({"name": "ddgsd", "mmd_weight": 0.0}, {"name": "ddgsd", "mmd_weight": 0.0, "kl_weight": 0.0},
                 view_disagreement, 3),
    "ddgsd_mmd": ({"name": "ddgsd", "kl_weight": 0.0}, {"name": "ddgsd", "kl_weight": 0.0, "mmd_weight": 0.0},
                  view_mmd, 3),
    "one": ({"name": "one", "rampup_epochs": 0}, {"name": "one", "rampup_epochs": 0, "kd_weight": 0.0},
            branch_disagreement, 6),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_self_distillation_term_moves_toward_its_target(name, tmp_path):
    on, off, measure, epochs = CASES[name]
    with_term = measure(run(tmp_path / "on", on, epochs))
    without = measure(run(tmp_path / "off", off, epochs))
    print(f"{name}: {measure.__name__} {with_term:.5g} with the term, {without:.5g} without")
    assert with_term < 0.9 * without, f"{name}: {measure.__name__} {with_term:.5g} with the term, {without:.5g} without"


# -- exit accuracy and the ensemble, by hand -----------------------------------
def test_exit_accuracy_and_ensemble_counted_by_hand(tmp_path):
    trainer = run(tmp_path, {"name": "byot"})   # a short run, so the heads predict differently
    net, method = trainer.networks["net0"].eval(), trainer.method.eval()
    with torch.no_grad():
        every = method.exit_outputs("net0", net.features(trainer.normalize(trainer.val_set.images)))[1]
    # the fixed batch: validation images in order, those on which a mean of softmaxes would be right
    # where the mean of logits is wrong (or the other way, one way only) put first, so the two counts differ
    labels_all = trainer.val_set.labels
    logit_right = torch.stack(every).mean(0).argmax(1) == labels_all
    soft_right = torch.stack([z.softmax(1) for z in every]).mean(0).argmax(1) == labels_all
    ways = [torch.nonzero(logit_right & ~soft_right).flatten(), torch.nonzero(soft_right & ~logit_right).flatten()]
    telling = max(ways, key=len)[:8]
    assert len(telling), "no validation image tells a mean of logits from a mean of softmaxes"
    agreeing = torch.nonzero(logit_right == soft_right).flatten()[:48 - len(telling)]
    index = torch.cat([telling, agreeing])
    images_u8, labels = trainer.val_set.images[index], labels_all[index]
    images = trainer.normalize(images_u8)
    with torch.no_grad():
        outputs = net.features(images)
        logits = method.exit_outputs("net0", outputs)[1]
    stages = len(logits)
    assert stages == len(trainer.shapes.networks["net0"].stage_channels) == 3
    ensemble = torch.stack(logits).mean(0)   # the mean of the exits' logits
    predictions = [z.argmax(1) for z in logits] + [ensemble.argmax(1)]
    correct = [sum(int(p[i]) == int(labels[i]) for i in range(len(labels))) for p in predictions]   # one by one
    expected = {f"acc.net0.exit{i + 1}": 100.0 * c / len(labels) for i, c in enumerate(correct[:-1])}
    expected["acc.net0.ensemble"] = 100.0 * correct[-1] / len(labels)
    # the batch tells the heads apart, and a mean of softmaxes would count differently
    soft_ensemble = torch.stack([z.softmax(1) for z in logits]).mean(0).argmax(1)
    assert len(set(correct)) == len(correct), f"the fixed batch does not tell the heads apart: {correct}"
    assert int((soft_ensemble == labels).sum()) != correct[-1]

    evaluator = method.evaluators()[0]
    assert sorted(evaluator.metric_names("net0")) == sorted(expected)
    evaluator.reset()
    half = len(labels) // 2   # two updates: counts add up over batches
    for part in (slice(0, half), slice(half, None)):
        evaluator.update({"net0": {k: v[part] if torch.is_tensor(v) else [m[part] for m in v]
                                   for k, v in outputs.items()}}, labels[part])
    assert evaluator.result() == pytest.approx(expected)

    # the trainer's own evaluation of the same batch reports the same numbers
    results = trainer.evaluate(ImageSet(images_u8, labels))
    assert {k: results[k] for k in expected} == pytest.approx(expected)
    assert results["acc.net0"] == pytest.approx(expected[f"acc.net0.exit{stages}"])
