"""Enumerate a grid sweep's configurations exactly once each: the named
variant axes crossed with each other and with the grid of the space. A
conditional parameter that is inactive is left out, not crossed with the rest."""
import itertools
from typing import Any, Dict, List

from search_spaces.define_by_run import condition_holds
from search_spaces.sweep_spec import ParamSpec

LABEL_PREFIX = "search."


def space_grid(space: Dict[str, ParamSpec]) -> List[Dict[str, Any]]:
    variants: List[Dict[str, Any]] = [{}]
    for name, spec in space.items():
        grown = []
        for variant in variants:
            if condition_holds(spec.when, variant):
                grown.extend({**variant, name: value} for value in spec.grid_values(name))
            else:
                grown.append(variant)
        variants = grown
    return variants


def grid_variants(space: Dict[str, ParamSpec], named: Dict[str, Dict[str, Dict[str, Any]]] = None) -> List[Dict[str, Any]]:
    """Flat dicts: ``search.<axis>: row`` labels, the rows' overrides, then the space's values."""
    axes = [[(axis, row, overrides) for row, overrides in rows.items()] for axis, rows in (named or {}).items()]
    out = []
    for combo in itertools.product(*axes):
        base: Dict[str, Any] = {}
        for axis, row, overrides in combo:
            base[LABEL_PREFIX + axis] = row
            base.update(overrides or {})
        out.extend({**base, **values} for values in space_grid(space))
    return out


def ablation_variants(spec, preset: str, fixed=()) -> List[Dict[str, Any]]:
    """The configurations an ablation runs once per seed: a grid sweep's grid, or a
    search's enqueued points (the paper's rows) with their derived keys resolved."""
    from distill.errors import ConfigError
    from search_spaces.define_by_run import SpaceFunction

    if spec.sampler == "grid":
        return grid_variants(spec.space_for(preset, fixed), spec.variants_for(preset))
    points = spec.points_for(preset, fixed)
    if not points:
        raise ConfigError("sweep", f"{spec.name} is a search without points; an ablation needs a grid or points")
    import optuna

    space = SpaceFunction(spec.space_for(preset, fixed), spec.space_function)
    variants = []
    for point in points:
        trial = optuna.trial.FixedTrial(point)
        try:
            derived = space(trial) or {}
        except ValueError as err:   # FixedTrial: a point that lacks a searched parameter
            raise ConfigError("points", f"{point} does not set every searched parameter ({err})") from None
        variants.append({**trial.params, **point, **derived})
    return variants
