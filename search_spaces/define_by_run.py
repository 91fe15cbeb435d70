"""Turn a sweep's space into an Optuna define-by-run function. It is a class,
not a closure, so Ray Tune can pickle the searcher for ``--resume``."""
import importlib
from typing import Any, Dict, Optional

from distill.errors import ConfigError
from search_spaces.sweep_spec import ParamSpec


def condition_holds(when: Optional[Dict[str, Any]], values: Dict[str, Any]) -> bool:
    if not when:
        return True
    for key, allowed in when.items():
        allowed = allowed if isinstance(allowed, list) else [allowed]
        if key not in values or values[key] not in allowed:
            return False
    return True


def suggest(trial, name: str, spec: ParamSpec):
    if spec.type == "categorical":
        return trial.suggest_categorical(name, spec.choices)
    if spec.type == "int":
        return trial.suggest_int(name, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log)
    return trial.suggest_float(name, float(spec.low), float(spec.high), step=spec.step, log=spec.log)


def load_function(path: str):
    module_name, _, func_name = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError):
        raise ConfigError("space_function", f"cannot import {path!r}; expected module:function") from None


class SpaceFunction:
    """Suggests the YAML-declared parameters in order (conditions refer to earlier
    ones), then calls the optional Python define-by-run function, whose returned
    dict holds derived constants (e.g. a structure string built from depth and widths)."""

    def __init__(self, space: Dict[str, ParamSpec], function: Optional[str] = None):
        self.space = space
        self.function = function

    def __call__(self, trial) -> Optional[Dict[str, Any]]:
        values: Dict[str, Any] = {}
        for name, spec in self.space.items():
            if condition_holds(spec.when, values):
                values[name] = suggest(trial, name, spec)
        if self.function:
            return load_function(self.function)(trial, values)
        return None
