"""Hyperparameters that change during a run: ``schedule: {KEY: {EPOCH: VALUE}}`` in a config,
piecewise constant (a value holds from the epoch it names, 0 being the first epoch, to the
next entry; before the first entry the config's own value holds).

KEY is ``optim.lr`` (the networks' base learning rate: the epoch schedule's factor, cosine or
step, still multiplies it, and the optimizers' state is kept) or ``method.FIELD`` for a number
field of the method's params (a weight, a temperature, an own optimizer's learning rate such
as ``disc_lr``), which the method reads live. This is what a population-based sweep finds and
exports: ``python -m distill.train`` re-runs it unchanged.

The same setters serve a run that continues from another run's checkpoint with other values
(population-based training's exploit step): ``apply_values`` after ``Trainer.resume``."""
import dataclasses
from typing import Dict, List, Tuple

from distill.errors import ConfigError

LR_KEY = "optim.lr"
METHOD_PREFIX = "method."


def schedulable_fields(method_cls) -> List[str]:
    """The method's params fields a schedule may set: numbers read live (not ``built_from``)."""
    return [f.name for f in dataclasses.fields(method_cls.Params)
            if f.type in (float, "float") and f.name not in method_cls.built_from]


def allowed_keys(method_cls) -> List[str]:
    return [LR_KEY] + [METHOD_PREFIX + name for name in schedulable_fields(method_cls)]


def parsed(config, method_cls) -> Dict[str, List[Tuple[int, float]]]:
    """KEY -> sorted (first epoch, value) pairs; one line naming the field for anything else."""
    allowed = allowed_keys(method_cls)
    out: Dict[str, List[Tuple[int, float]]] = {}
    for key, steps in (config.schedule or {}).items():
        where = f"schedule.{key}"
        if key not in allowed:
            raise ConfigError("schedule", f"{key!r} cannot change during a run of method {config.method.name}; "
                                          f"allowed: {', '.join(allowed)}")
        pairs = []
        for epoch, value in steps.items():
            try:
                first = int(epoch)
            except ValueError:
                first = -1
            if first < 0 or first >= config.train.epochs or str(first) != str(epoch).strip():
                raise ConfigError(where, f"epoch {epoch!r} is not an epoch of the run; allowed: 0 to "
                                         f"{config.train.epochs - 1} (the first epoch the value holds)")
            pairs.append((first, float(value)))
        if not pairs:
            raise ConfigError(where, "needs at least one {epoch: value}")
        out[key] = sorted(pairs)
        _check_values(config, key, where, [v for _, v in pairs])
    return out


def _check_values(config, key: str, where: str, values: List[float]) -> None:
    if key == LR_KEY or key.endswith("_lr") or key.endswith("temperature"):
        if any(v <= 0 for v in values):
            raise ConfigError(where, f"values must be > 0, got {values}")
        return
    field = key[len(METHOD_PREFIX):]
    start = getattr(config.method.params, field)
    if any(v < 0 for v in values):
        raise ConfigError(where, f"values must be >= 0, got {values}")
    # a term whose weight is 0 when the method is built may have no module (a discriminator)
    if field.endswith("_weight") and any((v == 0) != (start == 0) for v in values):
        raise ConfigError(where, f"a weight cannot cross 0 during a run (method.{field} is {start} when the method "
                                 f"is built; its term's modules exist only for a non-zero weight): got {values}")


def values_at(schedule: Dict[str, List[Tuple[int, float]]], epoch: int) -> Dict[str, float]:
    """The scheduled values that hold during ``epoch`` (0-based); keys without an entry yet are absent."""
    out = {}
    for key, pairs in schedule.items():
        current = [value for first, value in pairs if first <= epoch]
        if current:
            out[key] = current[-1]
    return out


def set_base_lr(optimizer, schedule, lr: float) -> None:
    """Move an optimizer's base learning rate to ``lr``, its epoch schedule's factor kept
    (the current rate scales with the base) and its state (momentum, Adam moments) untouched."""
    for i, group in enumerate(optimizer.param_groups):
        base = schedule.base_lrs[i]
        if base != lr:
            group["lr"] = group["lr"] * lr / base if base else lr
            schedule.base_lrs[i] = lr
            group["initial_lr"] = lr


def apply_values(trainer, values: Dict[str, float]) -> None:
    """Set each value where the run reads it: the networks' optimizers for ``optim.lr``, the
    method's params (and own optimizers) for ``method.*``."""
    for key, value in values.items():
        if key == LR_KEY:
            for name, optimizer in trainer.optimizers.items():
                set_base_lr(optimizer, trainer.schedules[name], value)
        else:
            trainer.method.set_param(key[len(METHOD_PREFIX):], value)


def live_values(trainer, keys) -> Dict[str, float]:
    """The values of ``keys`` as the run uses them now (what a report records per epoch)."""
    out = {}
    for key in keys:
        if key == LR_KEY:
            out[key] = float(trainer.schedules[next(iter(trainer.schedules))].base_lrs[0])
        elif key.startswith(METHOD_PREFIX):
            out[key] = float(getattr(trainer.method.params, key[len(METHOD_PREFIX):]))
    return out


__all__ = ["LR_KEY", "allowed_keys", "apply_values", "live_values", "parsed", "schedulable_fields", "set_base_lr",
           "values_at"]
