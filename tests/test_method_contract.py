"""The engine contract, checked on every registered method (new methods are
covered by registering them): its terms are finite; a zero weight removes its
term; every module it declares sits in an optimizer and changes after a step;
a checkpoint round trip continues with identical numbers; a trial's
checkpoint holds no frozen teacher weights."""
import dataclasses
import math

import pytest
import torch

from distill.checkpoint import CHECKPOINT_FILE, load_checkpoint
from distill.config import config_from_dict
from distill.methods import METHODS
from distill.trainer import Trainer

TIMING_KEYS = {"epoch_seconds", "images_per_second"}
# params that switch on every term a method has (its defaults may leave some at 0)
ALL_TERMS_ON = {
    "tadml": {"l1_weight": 0.5, "l2_weight": 0.5},
    "sad": {"start_fraction": 0.0},   # on from the first epoch
    "one": {"rampup_epochs": 0},
    "darkrank": {"soft_weight": 1.0, "kd_weight": 1.0},
    # a few small steps: the contract, not the generator's quality, is tested here
    "dafl": {"iterations_per_epoch": 2, "agreement_samples": 32, "generator_width": 8, "latent_dim": 8},
    "meta_data": {"batches_per_class": 1, "reconstruction_batch": 4, "reconstruction_steps": 3,
                  "iterations_per_epoch": 2},
}


@pytest.fixture(scope="module")
def teacher_file(digits_teacher):
    return digits_teacher


def raw_config(name, teacher_file, epochs=1, **params):
    cls = METHODS.get(name)
    count = max(cls.needs.min_networks, 1)
    raw = {
        "method": {"name": name, **ALL_TERMS_ON.get(name, {}), **params},
        "networks": [{"name": f"net{i}", "arch": "resnet8"} for i in range(count)],
        "data": {"name": "digits", "batch_size": 16, "train_limit": 64, "eval_batch_size": 256},
        "optim": {"lr": 0.05, "momentum": 0.9, "schedule": "cosine"},
        "train": {"epochs": epochs, "threads": 1, "device": "cpu"},
        "seed": 3,
    }
    if cls.needs.teacher:
        raw["teacher"] = {"name": "teacher", "arch": "resnet14", "checkpoint": teacher_file}
    return raw


def trainer_for(name, teacher_file, tmp_path, epochs=1, **params):
    return Trainer(config_from_dict(raw_config(name, teacher_file, epochs, **params)), output_dir=str(tmp_path))


def first_batch(trainer):
    return next(iter(trainer.train_batches))


METHOD_NAMES = sorted(METHODS.names())


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_terms_are_finite_and_named_per_network(name, teacher_file, tmp_path):
    trainer = trainer_for(name, teacher_file, tmp_path)
    trainer.method.train()
    trainer.method.on_epoch_start(0)
    logged = trainer.train_step(first_batch(trainer))
    assert "total" in logged and len(logged) > 1
    for term, value in logged.items():
        assert value.dim() == 0 and math.isfinite(float(value)), f"{name}: {term} = {value}"


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_zero_weight_removes_its_term(name, teacher_file, tmp_path):
    cls = METHODS.get(name)
    defaults = dataclasses.asdict(cls.Params())
    on = {**defaults, **ALL_TERMS_ON.get(name, {})}
    weights = {term: field for term, field in cls.weight_fields().items() if on.get(field)}
    assert weights, f"{name} declares no weighted terms"
    for term, field in weights.items():
        trainer = trainer_for(name, teacher_file, tmp_path / term, **{field: 0.0})
        trainer.method.train()
        trainer.method.on_epoch_start(0)
        logged = trainer.train_step(first_batch(trainer))
        present = [k for k in logged if k == term or k.startswith(term + ".")]
        assert not present, f"{name}: {field}=0 still logs {present}"


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_declared_modules_are_optimized_and_change(name, teacher_file, tmp_path):
    trainer = trainer_for(name, teacher_file, tmp_path)
    method = trainer.method
    optimized = {id(p) for opt in list(trainer.optimizers.values()) + list(method.optimizers.values())
                 for group in opt.param_groups for p in group["params"]}
    declared = {f"trained_with.{k}": m for k, m in method.trained_with.items()}
    declared.update({f"owned.{k}": m for k, m in method.owned.items()})
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in declared.items()}
    for key, module in declared.items():
        assert all(id(p) in optimized for p in module.parameters() if p.requires_grad), f"{name}: {key} not optimized"
    trainer.train_epoch()
    for key, module in declared.items():
        changed = any(not torch.equal(a, b.detach()) for a, b in zip(before[key], module.parameters()))
        assert changed, f"{name}: {key} did not change after an epoch of steps"


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_checkpoint_round_trip_continues_identically(name, teacher_file, tmp_path):
    straight = trainer_for(name, teacher_file, tmp_path / "straight", epochs=2).fit()
    trainer_for(name, teacher_file, tmp_path / "split", epochs=2).fit(on_epoch=_stop_after_first)
    resumed = trainer_for(name, teacher_file, tmp_path / "split", epochs=2)
    resumed.resume(str(tmp_path / "split" / "checkpoint" / CHECKPOINT_FILE))
    assert resumed.epoch == 1
    history = resumed.fit()
    strip = lambda h: [{k: v for k, v in m.items() if k not in TIMING_KEYS} for m in h]  # noqa: E731
    assert strip(history) == strip(straight)


class _Stop(Exception):
    pass


def _stop_after_first(metrics, _):
    if metrics["epoch"] == 1:
        raise _Stop


@pytest.fixture(autouse=True)
def _swallow_stop(monkeypatch):
    original = Trainer.fit

    def fit(self, on_epoch=None):
        try:
            return original(self, on_epoch)
        except _Stop:
            return self.history
    monkeypatch.setattr(Trainer, "fit", fit)


@pytest.mark.parametrize("name", [n for n in METHOD_NAMES if METHODS.get(n).needs.teacher])
def test_checkpoint_holds_no_teacher_weights(name, teacher_file, tmp_path):
    trainer = trainer_for(name, teacher_file, tmp_path)
    trainer.fit()
    state = load_checkpoint(str(tmp_path / "checkpoint" / CHECKPOINT_FILE))
    teacher_tensors = [t for t in trainer.teacher.state_dict().values() if t.numel() > 1]

    def tensors(node):
        if isinstance(node, torch.Tensor):
            yield node
        elif isinstance(node, dict):
            for v in node.values():
                yield from tensors(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                yield from tensors(v)
    saved = [t for t in tensors(state) if t.numel() > 1]
    for t in teacher_tensors:
        assert not any(s.shape == t.shape and torch.equal(s, t) for s in saved), f"{name}: teacher weights in checkpoint"
    assert not any("teacher" in k for k in state["method"]["modules"])


# what makes a field act on the first step (its term on, its stage first, its module built)
# (a "method.field" entry wins over the method's: FSP's own term acts only in its first stage)
LIVE_ON = {"at": {"kd_weight": 0.5}, "sp": {"kd_weight": 0.5}, "fsp": {"kd_weight": 0.5, "init_fraction": 0.0},
           "fsp.fsp_weight": {}, "fitnet": {"schedule": "one_stage"}, "adml": {"disc_input": "fc+dae"},
           "tadml": {"disc_input": "fc+dae"}}


def live_on(name, field):
    return LIVE_ON.get(f"{name}.{field}", LIVE_ON.get(name, {}))


def _live_fields():
    """(method, field) for every weight switched on and every temperature a schedule may set."""
    from distill.hyper_schedule import schedulable_fields

    pairs = []
    for name in METHOD_NAMES:
        cls = METHODS.get(name)
        for f in schedulable_fields(cls):
            on = {**dataclasses.asdict(cls.Params()), **ALL_TERMS_ON.get(name, {}), **live_on(name, f)}
            pairs += [(name, f)] if (f.endswith("_weight") and on[f]) or f == "temperature" else []
    return pairs


@pytest.mark.parametrize("name, field", _live_fields())
def test_weights_and_temperatures_are_read_live(name, field, teacher_file, tmp_path):
    """A method built with another value and then given this one (what a schedule or a PBT
    exploit does) logs the same terms as one built with it: nothing cached at construction."""
    cls = METHODS.get(name)
    value = {**dataclasses.asdict(cls.Params()), **ALL_TERMS_ON.get(name, {}), **live_on(name, field)}[field]
    logged = {}
    for run, built_with in (("same", value), ("changed", value * 0.5), ("stale", value * 0.5)):
        trainer = trainer_for(name, teacher_file, tmp_path / run, **{**live_on(name, field), field: built_with})
        if run == "changed":
            trainer.method.set_param(field, value)
        trainer.method.train()
        trainer.method.on_epoch_start(0)
        logged[run] = {k: float(v) for k, v in trainer.train_step(first_batch(trainer)).items()}
    assert logged["changed"] == pytest.approx(logged["same"], rel=1e-6, abs=1e-9), f"{name}.{field} cached"
    assert logged["stale"] != pytest.approx(logged["same"], rel=1e-6, abs=1e-9), f"{name}.{field} changes nothing"
