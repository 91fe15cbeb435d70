"""How a Tune trial's flat config becomes one engine config.

A trial config holds the sweep's base engine config under ``BASE_KEY``, an
optional grid variant under ``VARIANT_KEY`` (a dict of dotted overrides) and
searched parameters as flat dotted keys (``method.temperature``). Keys under
``search.`` (row labels, auxiliary search parameters) are recorded, not applied. Driver and
workers both resolve with this function, so the config saved beside a trial's
results is exactly the one it trained with."""
from typing import Any, Dict, List, Tuple

from distill.config import apply_overrides, config_from_dict, config_to_dict

BASE_KEY = "engine_config"
VARIANT_KEY = "variant"
OPTIONS_KEY = "trial_options"      # how the trainable handles faults (e.g. oom_half_batch), not engine config
RESERVED = (BASE_KEY, VARIANT_KEY, OPTIONS_KEY)
RECORD_ONLY_PREFIX = "search."


def searched_params(trial_config: Dict[str, Any]) -> Dict[str, Any]:
    """The trial's own parameters (grid variant and searched values), flat and dotted."""
    params = dict(trial_config.get(VARIANT_KEY) or {})
    params.update({k: v for k, v in trial_config.items() if k not in RESERVED})
    return params


def without_nulled_children(overrides: List[Tuple[str, Any]]) -> List[Tuple[str, Any]]:
    """A key set to null wins over keys inside it: a row's ``teacher: null`` is not undone by a
    column's ``teacher.arch``, whatever the order the two come in."""
    nulled = [k for k, v in overrides if v is None]
    return [(k, v) for k, v in overrides if not any(k.startswith(n + ".") for n in nulled)]


def resolve_trial_config(trial_config: Dict[str, Any]) -> Dict[str, Any]:
    """The fully resolved engine config (validated) as a plain dict."""
    # sorted: a parent key ("method") is applied before its children ("method.temperature")
    overrides = sorted((k, v) for k, v in searched_params(trial_config).items() if not k.startswith(RECORD_ONLY_PREFIX))
    base = trial_config[BASE_KEY]
    raw = apply_overrides(base, without_nulled_children(overrides))
    store = (base.get("teacher") or {}).get("store")
    if store and isinstance(raw.get("teacher"), dict) and not raw["teacher"].get("store"):
        # the store is the experiment's, not the teacher's: a row or column naming a whole new
        # teacher mapping (dafl's CIFAR and CelebA columns) keeps its teachers there too
        raw["teacher"]["store"] = store
    return config_to_dict(config_from_dict(raw))
