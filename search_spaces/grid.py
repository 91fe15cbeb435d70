"""Enumerate a grid sweep's configurations exactly once each: the named
variant axes crossed with each other and with the grid of the space. A
conditional parameter that is inactive is left out, not crossed with the rest."""
import copy
import itertools
import re
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


REFERENCE = re.compile(r"^\$\{([^}]+)\}$")
ROW_WHEN = "when"   # a row's ``when: {axis: [rows]}``: crossed only with those rows of that axis


def _row_fits(combo) -> bool:
    chosen = {axis: row for axis, row, _ in combo}
    for _, _, overrides in combo:
        for axis, allowed in ((overrides or {}).get(ROW_WHEN) or {}).items():
            if chosen.get(axis) not in allowed:
                return False
    return True


def resolve_references(merged: Dict[str, Any], combo) -> Dict[str, Any]:
    """A row's value ``${key}`` is the value another axis's row of the same cell gives ``key``
    (DAFL's "alternative data" row: ``data.transfer: ${search.alternative}``, the transfer set
    each data-set column names), so one row label means the same thing in every column."""
    out = dict(merged)
    for key, value in merged.items():
        match = REFERENCE.match(value) if isinstance(value, str) else None
        if match is None:
            continue
        ref = match.group(1)
        if ref not in merged or REFERENCE.match(str(merged[ref])):
            from distill.errors import ConfigError

            cell = ", ".join(f"{axis}={row}" for axis, row, _ in combo)
            raise ConfigError(f"variants ({cell}).{key}", f"${{{ref}}} is not set by any row of this cell; "
                                                          f"allowed: {', '.join(k for k in merged if k != key)}")
        out[key] = copy.deepcopy(merged[ref])   # every cell its own copy: a row's dotted keys refine it
    return out


def grid_variants(space: Dict[str, ParamSpec], named: Dict[str, Dict[str, Dict[str, Any]]] = None) -> List[Dict[str, Any]]:
    """Flat dicts: ``search.<axis>: row`` labels, the rows' overrides, then the space's values.
    A row with ``from_export`` takes its values from an exported config (search_spaces/exported_row.py).
    A row with ``when: {axis: [rows]}`` (DAFL's loss ablation: MNIST only) meets only those rows."""
    from search_spaces.exported_row import expand_rows

    axes = [[(axis, row, overrides) for row, overrides in rows.items()] for axis, rows in expand_rows(named).items()]
    out = []
    for combo in itertools.product(*axes):
        if not _row_fits(combo):
            continue
        base: Dict[str, Any] = {}
        for axis, row, overrides in combo:
            base[LABEL_PREFIX + axis] = row
            base.update({k: v for k, v in (overrides or {}).items() if k != ROW_WHEN})
        base = resolve_references(base, combo)
        out.extend({**base, **values} for values in space_grid(space))
    return out


DRAW_LABEL = LABEL_PREFIX + "draw"


def row_draws(search, row: str, seed: int, fixed=()) -> List[Dict[str, Any]]:
    """The ``search.draws`` configurations of one row: values of ``common`` and the row's own
    space, drawn by Optuna's RandomSampler seeded by the sweep's seed and the row's name."""
    import zlib

    import optuna

    from search_spaces.define_by_run import SpaceFunction

    space = {k: v for k, v in {**search.common, **(search.rows.get(row) or {})}.items() if k not in fixed}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.RandomSampler(seed=(seed * 1_000_003 + zlib.crc32(row.encode())) % (2 ** 31))
    study = optuna.create_study(sampler=sampler)
    draws = []
    for _ in range(search.draws):
        trial = study.ask()
        SpaceFunction(space)(trial)
        draws.append(dict(trial.params))
    return draws


def with_row_search(variants: List[Dict[str, Any]], search, seed: int, fixed=()) -> List[Dict[str, Any]]:
    """Each variant once per draw of its row (``search.draw``: 0, 1, ...); rows that inherit
    another row's selection are not run."""
    if search is None:
        return variants
    label = LABEL_PREFIX + search.axis
    cache: Dict[str, List[Dict[str, Any]]] = {}
    out = []
    for variant in variants:
        row = str(variant[label])
        if row in search.inherit:   # takes another row's selection: nothing of its own to search
            continue
        draws = cache.setdefault(row, row_draws(search, row, seed, fixed))
        out.extend({**variant, **values, DRAW_LABEL: k} for k, values in enumerate(draws))
    return out


def sweep_grid(spec, preset: str, fixed=()) -> List[Dict[str, Any]]:
    """A grid sweep's configurations: the named axes crossed with the space's grid, then, for a
    preset with ``row_search``, each row's draws."""
    variants = grid_variants(spec.space_for(preset, fixed), spec.variants_for(preset))
    return with_row_search(variants, spec.preset(preset).row_search, spec.seed, fixed)


def ablation_variants(spec, preset: str, fixed=()) -> List[Dict[str, Any]]:
    """The configurations an ablation runs once per seed: a grid sweep's grid, or a
    search's enqueued points (the paper's rows) with their derived keys resolved."""
    from distill.errors import ConfigError
    from search_spaces.define_by_run import SpaceFunction

    if spec.sampler == "grid":
        return sweep_grid(spec, preset, fixed)
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
