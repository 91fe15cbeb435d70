"""Enumerate a grid sweep's configurations exactly once each, honouring
conditions: an inactive parameter is left out, not crossed with the rest."""
from typing import Any, Dict, List

from search_spaces.define_by_run import condition_holds
from search_spaces.sweep_spec import ParamSpec


def grid_variants(space: Dict[str, ParamSpec]) -> List[Dict[str, Any]]:
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
