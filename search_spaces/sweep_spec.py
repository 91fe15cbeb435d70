"""The sweep file format, validated on load.

```yaml
description: one line for --list
base: {...}                 # a full distill config: the paper recipe
presets:                    # named dotted overrides of base, plus a trial budget
  paper: {trials: 50}
  smoke: {trials: 4, set: {data.name: digits, train.epochs: 3}}
space:                      # dotted engine-config keys
  method.temperature: {type: float, low: 1, high: 20, log: true}
  method.alpha: {type: float, low: 0.05, high: 0.99}
  optim.lr: {type: categorical, choices: [0.05, 0.1], when: {method.temperature: ...}}
points: [{method.temperature: 4}]     # evaluated first (enqueued in Optuna)
variants:                   # named rows of a paper table, crossed with each other and the space (grid only)
  loss: {LS: {method.js_weight: 0}, LS+LJS: {method.adv_weight: 0}}
space_function: module:function       # optional define-by-run code after `space`; returns derived keys
table: {rows: loss, columns: data.name, baseline: LS}
resources: {cpus_per_trial: 2, gpus_per_trial: 0.25}   # default: 1 CPU, a GPU share from the model size
oom_half_batch: false
sampler: tpe | grid | random | nsga2
metric: val_acc.net0        # or a list, e.g. [val_acc.net0, params.net0], for a Pareto search
mode: max                   # or one mode per metric
scheduler: fifo | asha
paper: {...}                # the paper's numbers, printed beside ours by reports
```
Keys under ``search.`` (axis labels, auxiliary search parameters such as a
discriminator's depth) are recorded with the trial but not applied to the engine config.

Inheritance: ``extends: NAME`` (or a list of names) at the top of a sweep file
starts it from the shared recipes in ``recipes/NAME.yaml``, so the sweep states
only what differs. A recipe is a partial sweep mapping (any of the keys above),
is never listed or run as a sweep, and may itself ``extends:`` other recipes.
Merge rules, applied recipe by recipe in the order listed, then the file itself:

- mappings merge recursively and the child wins per key (``base.method``,
  ``space``, ``paper``, ``table``...); keys the parent has keep their place,
  new keys follow;
- lists and scalars replace (``base.networks``, ``points``, ``metric``,
  ``optim.milestones``);
- ``presets`` merge per preset name; a preset's ``set:`` merges per dotted key,
  and so do the rows of ``variants`` (sweep or preset): the child's value for a
  dotted key replaces the parent's whole value, even a mapping (it is one
  override, as ``--set`` is);
- a key set to null in the child stays null (an explicit override, e.g.
  ``base.teacher: null`` or ``set: {data.root: null}``);
- an unknown recipe, or a recipe that extends itself through others (a cycle),
  is a ConfigError naming ``extends``.

The merged mapping, without ``extends``, is validated as a ``SweepSpec``; the
sweep's name is its file name.
"""
import copy
import glob
import os
from dataclasses import dataclass, field as dc_field
from typing import Any, Dict, List, Optional, Sequence, Union

import yaml

from distill.errors import ConfigError, unknown_name
from distill.typed_dict import field, from_dict

SWEEP_DIR = os.path.dirname(os.path.abspath(__file__))
RECIPE_DIR = os.path.join(SWEEP_DIR, "recipes")   # shared partial sweeps for ``extends:``; not sweeps
EXTENDS = "extends"
PARAM_TYPES = ("float", "int", "categorical")


@dataclass
class ParamSpec:
    type: str = field("float", choices=PARAM_TYPES)
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None
    choices: Optional[List[Any]] = None
    when: Optional[Dict[str, Any]] = None   # active only if each named param has (one of) the given value(s)

    def validate(self, path: str) -> None:
        if self.type == "categorical":
            if not self.choices:
                raise ConfigError(f"{path}.choices", "a categorical parameter needs a non-empty list of choices")
        else:
            if self.low is None or self.high is None:
                raise ConfigError(path, f"a {self.type} parameter needs low and high")
            if self.low > self.high:
                raise ConfigError(path, f"low ({self.low}) must be <= high ({self.high})")
            if self.log and self.low <= 0:
                raise ConfigError(f"{path}.low", "must be > 0 on a log scale")

    def grid_values(self, name: str) -> List[Any]:
        if self.type == "categorical":
            return list(self.choices)
        if self.type == "int" and not self.log:
            step = int(self.step or 1)
            return list(range(int(self.low), int(self.high) + 1, step))
        raise ConfigError(f"space.{name}", "a grid sweep needs categorical (or int) parameters")


@dataclass
class PBTSpec:
    """Population-based training (``sampler: pbt``, Ray Tune's PopulationBasedTraining): the
    preset's ``trials`` are the population, drawn from ``space``; every ``interval`` epochs a
    trial in the bottom ``quantile_fraction`` continues from a top trial's checkpoint with its
    values perturbed (x0.8 or x1.2, or redrawn from ``space`` with ``resample_probability``)."""
    interval: int = field(2, ge=1)
    quantile_fraction: float = field(0.25, gt=0.0, le=0.5)
    resample_probability: float = field(0.25, ge=0.0, le=1.0)


@dataclass
class ResourceSpec:
    cpus_per_trial: float = field(1.0, gt=0.0)
    gpus_per_trial: Optional[float] = field(None, ge=0.0)   # None: derived from the networks' size


@dataclass
class ClaimSpec:
    """A paper's claim, checked against an evidence table (``platform/evidence_stats.py``):
    ``row`` beats ``than`` (by at least ``by`` points), or, with ``kind: within``, the two
    are within ``margin`` points of each other. ``paper`` states the paper's direction and
    size with its source; the verdict is computed from the measured numbers."""
    text: str
    row: str
    than: str
    kind: str = field("beats", choices=("beats", "within"))
    by: float = field(0.0, ge=0.0)
    margin: Optional[float] = field(None, gt=0.0)
    paper: str = ""

    def validate(self, path: str) -> None:
        if self.kind == "within" and self.margin is None:
            raise ConfigError(f"{path}.margin", "a 'within' claim needs a margin (points)")


@dataclass
class RowSearchSpec:
    """An equal-budget random search per table row (the evidence presets' tuning): for every
    row of ``axis``, ``draws`` configurations drawn at random from ``common`` plus that row's
    own space in ``rows`` (its weight, its temperature), seeded by the sweep's seed and the
    row's name, so a resume or a re-run draws the same ones. A grid sweep runs every draw once
    (labelled ``search.draw``); Optuna's TPE would draw its first 10 trials at random anyway."""
    axis: str
    draws: int = field(8, ge=1)
    common: Dict[str, ParamSpec] = dc_field(default_factory=dict)
    rows: Dict[str, Dict[str, ParamSpec]] = dc_field(default_factory=dict)
    # rows not searched: each takes another row's selected values, except the keys it sets itself
    # (a loss ablation is the full method's tuned config with its terms switched off)
    inherit: Dict[str, str] = dc_field(default_factory=dict)
    # the row (the baseline) whose draws alone search ``common`` (the recipe: its learning rate); the
    # evidence command runs it first, then every other row searches only its own space at the recipe
    # row's selected values, so a method's draws are not spent on the learning rate
    recipe_row: Optional[str] = None


@dataclass
class PresetSpec:
    trials: int = field(1, ge=1)
    set: Dict[str, Any] = dc_field(default_factory=dict)
    space: Optional[Dict[str, ParamSpec]] = None        # replaces the sweep's space for this preset
    points: Optional[List[Dict[str, Any]]] = None
    teacher_epochs: Optional[int] = field(None, ge=1)  # train the teacher first when it has no checkpoint
    variants: Optional[Dict[str, Dict[str, Dict[str, Any]]]] = None   # replaces the named axes it lists
    # merged INTO existing rows of an axis (e.g. a smoke preset shrinking only the online rows' peer)
    variant_overrides: Optional[Dict[str, Dict[str, Dict[str, Any]]]] = None
    row_search: Optional[RowSearchSpec] = None   # a grid preset: draws per row instead of one configuration
    baseline: Optional[str] = None   # the table's baseline row when this preset names the rows differently
    # whether a run of this preset is the paper's setting (its data set and networks), so the paper's
    # numbers may share our cells; None: only the preset named "paper" is
    comparable: Optional[bool] = None
    claims: Optional[List[ClaimSpec]] = None   # replaces the sweep's claims for this preset's table
    # replaces the sweep's reference numbers ({source, values}) for this preset's table (ImageNet's
    # rows come from another paper than the sweep's CIFAR table)
    paper: Optional[Dict[str, Any]] = None


@dataclass
class GainsSpec:
    """A row's mean gain over groups of other rows (seed 002 reports only these):
    per group, the mean over columns and over the group's rows of (row ``of`` minus
    that row); the paper's own gains go in ``paper.gains`` under the group's name."""
    of: str
    over: Dict[str, List[str]] = dc_field(default_factory=dict)


@dataclass
class ReferenceRowSpec:
    """A row read off another row's trials through another metric: DAFL's "Teacher" row is the
    frozen teacher's ``test_acc.teacher``, which every DAFL trial reports; no trial is run for it."""
    row: str
    metric: str


@dataclass
class TableSpec:
    """How a report lays the results out: which axis or parameter makes the rows and
    which the columns (optional), and the row the others are tested against."""
    rows: str
    columns: Optional[str] = None
    baseline: Optional[str] = None
    paper_layout: bool = False            # keep every row and column the paper prints, run or not
    row_value: Optional[str] = None       # a metric shown once per row (e.g. params.student: parameters, M)
    # arch -> another arch whose size the row_value column also shows for rows that trained the first
    # (resnet164 -> resnet164_n27: He et al.'s ResNet-164 beside the older builder's, the paper's 2.6M)
    size_alternatives: Dict[str, str] = dc_field(default_factory=dict)
    not_run: Dict[str, str] = dc_field(default_factory=dict)   # paper rows the platform does not run -> why
    gains: Optional[GainsSpec] = None     # e.g. SCD's mean gain over (SAD, SP), (BYOT, ONE), ...
    # further metric kinds, each in a table of this layout under it (ours only: the paper's numbers
    # are the main kind's), e.g. [rank1] under Table 6's mAP; platform/metric_kinds.py
    also_kinds: List[str] = dc_field(default_factory=list)
    only_rows: Optional[List[str]] = None      # this table's rows, in order (a sweep's second table)
    only_columns: Optional[List[str]] = None
    reference_rows: Dict[str, ReferenceRowSpec] = dc_field(default_factory=dict)
    title: Optional[str] = None                # a second table's own heading


@dataclass
class SweepSpec:
    base: Dict[str, Any]
    metric: Union[str, List[str]]        # two or more: a multi-objective search (Pareto front)
    description: str = ""
    name: str = ""
    presets: Dict[str, PresetSpec] = dc_field(default_factory=dict)
    space: Dict[str, ParamSpec] = dc_field(default_factory=dict)
    variants: Dict[str, Dict[str, Dict[str, Any]]] = dc_field(default_factory=dict)  # axis -> row -> overrides
    points: List[Dict[str, Any]] = dc_field(default_factory=list)
    space_function: Optional[str] = None
    sampler: str = field("tpe", choices=("tpe", "grid", "random", "nsga2", "pbt"))
    pbt: Optional[PBTSpec] = None          # sampler pbt: its schedule of exploits
    mode: Union[str, List[str]] = "max"
    scheduler: str = field("fifo", choices=("fifo", "asha"))
    seed: int = 0
    paper: Dict[str, Any] = dc_field(default_factory=dict)
    table: Optional[TableSpec] = None
    tables: Dict[str, TableSpec] = dc_field(default_factory=dict)   # further tables (table_<name>.md), e.g. an ablation
    resources: Optional[ResourceSpec] = None
    oom_half_batch: bool = False          # on CUDA out-of-memory, restart a trial once at half the batch
    claims: List[ClaimSpec] = dc_field(default_factory=list)   # what the papers claim, for evidence tables

    @property
    def metrics(self) -> List[str]:
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)

    @property
    def modes(self) -> List[str]:
        return [self.mode] * len(self.metrics) if isinstance(self.mode, str) else list(self.mode)

    @property
    def multi_objective(self) -> bool:
        return len(self.metrics) > 1

    @property
    def primary_metric(self) -> str:
        """What rankings, the best config and schedulers use: the first objective."""
        return self.metrics[0]

    @property
    def primary_mode(self) -> str:
        return self.modes[0]

    def validate(self, path: str) -> None:
        if len(self.modes) != len(self.metrics):
            raise ConfigError("mode", f"give one mode per metric ({len(self.metrics)}), got {self.mode!r}")
        for mode in self.modes:
            if mode not in ("max", "min"):
                raise ConfigError("mode", f"{mode!r} is not allowed; allowed: max, min")
        if self.multi_objective and self.sampler == "grid":
            raise ConfigError("metric", "a grid sweep has one metric; several metrics need sampler tpe, random or nsga2")
        if self.multi_objective and self.scheduler != "fifo":
            raise ConfigError("scheduler", "early stopping needs a single metric; allowed with several metrics: fifo")
        if self.sampler == "pbt":
            self._validate_pbt()
        if not self.presets:
            raise ConfigError("presets", "a sweep needs at least one preset (e.g. smoke, paper)")
        if self.sampler == "grid":
            for name, spec in self.space.items():
                spec.grid_values(name)
        elif self.variants:
            raise ConfigError("variants", f"named variants need sampler: grid, got {self.sampler}")
        for axis in self.variants:
            if "." in axis:
                raise ConfigError(f"variants.{axis}", "an axis name is a plain word (it labels rows), not a dotted key")
        self._validate_row_conditions()
        for name, preset in self.presets.items():
            if preset.row_search is not None:
                self._validate_row_search(name, preset.row_search)
        for name, table in [("table", self.table)] + [(f"tables.{k}", t) for k, t in self.tables.items()]:
            if table is not None:
                self._validate_table_rows(name, table)
        if self.tables and self.table is None:
            raise ConfigError("tables", "further tables need the main table: {rows, columns, baseline}")
        gains = self.table.gains if self.table is not None else None
        if gains is not None and self.table.rows in self.variants:
            rows = [str(r) for r in self.variants[self.table.rows]]
            for where, name in [("table.gains.of", gains.of)] + [
                    (f"table.gains.over.{group}", n) for group, names in gains.over.items() for n in names]:
                if str(name) not in rows:
                    raise ConfigError(where, f"{name!r} is not a row of axis {self.table.rows}; allowed: {', '.join(rows)}")

    def _validate_row_conditions(self) -> None:
        for axis, rows in self.variants.items():
            for row, overrides in rows.items():
                when = (overrides or {}).get("when")
                if when is None:
                    continue
                where = f"variants.{axis}.{row}.when"
                if not isinstance(when, dict):
                    raise ConfigError(where, "must map an axis to the list of its rows this row is crossed with")
                for other, allowed in when.items():
                    if other not in self.variants or other == axis:
                        raise ConfigError(where, f"unknown axis {other!r}; allowed: "
                                                 f"{', '.join(a for a in self.variants if a != axis) or 'none'}")
                    if not isinstance(allowed, list) or not allowed:
                        raise ConfigError(f"{where}.{other}", "must be a non-empty list of rows")

    def _validate_row_search(self, preset: str, search: RowSearchSpec) -> None:
        where = f"presets.{preset}.row_search"
        if self.sampler != "grid":
            raise ConfigError(f"{where}", f"draws per row need sampler: grid, got {self.sampler}")
        if search.axis not in self.variants:
            raise ConfigError(f"{where}.axis", f"unknown axis {search.axis!r}; allowed: {', '.join(self.variants) or 'none'}")
        rows = [str(r) for r in self.variants_for(preset)[search.axis]]
        for row in search.rows:
            if str(row) not in rows:
                raise ConfigError(f"{where}.rows.{row}", f"not a row of axis {search.axis}; allowed: {', '.join(rows)}")
        if search.recipe_row is not None and str(search.recipe_row) not in rows:
            raise ConfigError(f"{where}.recipe_row", f"{search.recipe_row!r} is not a row of axis {search.axis}; "
                                                    f"allowed: {', '.join(rows)}")
        for row, source in search.inherit.items():
            for name, value in ((f"{where}.inherit", row), (f"{where}.inherit.{row}", source)):
                if str(value) not in rows:
                    raise ConfigError(name, f"{value!r} is not a row of axis {search.axis}; allowed: {', '.join(rows)}")
            if source in search.inherit:
                raise ConfigError(f"{where}.inherit.{row}", f"{source!r} inherits too; name a searched row")

    def _validate_table_rows(self, name: str, table: "TableSpec") -> None:
        if table.rows not in self.variants:
            return
        rows = [str(r) for r in self.variants[table.rows]]
        for label, ref in table.reference_rows.items():
            if str(ref.row) not in rows:
                raise ConfigError(f"{name}.reference_rows.{label}.row",
                                  f"{ref.row!r} is not a row of axis {table.rows}; allowed: {', '.join(rows)}")
        known = rows + [str(r) for r in table.reference_rows] + [str(r) for r in table.not_run]
        for label in table.only_rows or []:
            if str(label) not in known:
                raise ConfigError(f"{name}.only_rows", f"{label!r} is not a row of axis {table.rows}; "
                                                       f"allowed: {', '.join(known)}")

    def _validate_pbt(self) -> None:
        if self.multi_objective:
            raise ConfigError("metric", "population-based training ranks trials by one metric")
        if self.scheduler != "fifo":
            raise ConfigError("scheduler", "sampler pbt is its own scheduler; allowed: fifo")
        if self.variants or self.points:
            raise ConfigError("variants" if self.variants else "points",
                              "sampler pbt draws its population from space; no variants or points")
        if self.pbt is None:
            self.pbt = PBTSpec()
        spaces = [("space", self.space)] + [(f"presets.{n}.space", p.space) for n, p in self.presets.items() if p.space]
        for where, space in spaces:
            if not space:
                raise ConfigError(where, "sampler pbt needs the hyperparameters it may perturb, with their ranges")
            for key, param in space.items():
                if param.type != "float":
                    raise ConfigError(f"{where}.{key}", f"sampler pbt perturbs numbers: type float, got {param.type}")

    def variants_for(self, preset: str) -> Dict[str, Dict[str, Dict[str, Any]]]:
        chosen = self.preset(preset).variants or {}
        axes = {axis: dict(chosen.get(axis, rows)) for axis, rows in self.variants.items()}
        for axis, rows in (self.preset(preset).variant_overrides or {}).items():
            if axis not in axes:
                raise ConfigError(f"presets.{preset}.variant_overrides.{axis}",
                                  f"unknown axis; allowed: {', '.join(axes) or 'none'}")
            for row, overrides in rows.items():
                if row not in axes[axis]:
                    raise ConfigError(f"presets.{preset}.variant_overrides.{axis}.{row}",
                                      f"unknown row; allowed: {', '.join(map(str, axes[axis]))}")
                axes[axis][row] = {**(axes[axis][row] or {}), **(overrides or {})}
        # a row crossed only with rows a preset does not have would silently never run
        for axis, rows in axes.items():
            for row, overrides in rows.items():
                for other, allowed in ((overrides or {}).get("when") or {}).items():
                    missing = [str(r) for r in allowed if r not in axes.get(other, {})]
                    if missing:
                        raise ConfigError(f"presets.{preset}.variant_overrides.{axis}.{row}.when",
                                          f"names {', '.join(missing)}, not a row of axis {other} in preset "
                                          f"{preset}; allowed: {', '.join(map(str, axes.get(other, {})))}")
        return axes

    def preset(self, name: str) -> PresetSpec:
        if name not in self.presets:
            raise unknown_name("--preset", name, self.presets)
        return self.presets[name]

    def paper_for(self, preset: str) -> Dict[str, Any]:
        """The reference numbers a table of ``preset`` is printed with."""
        chosen = self.presets[preset].paper if preset in self.presets else None
        return self.paper if chosen is None else chosen

    def space_for(self, preset: str, fixed: Sequence[str] = ()) -> Dict[str, ParamSpec]:
        """The searched parameters; those the user fixed (``--set``) are left out."""
        chosen = self.preset(preset).space
        space = self.space if chosen is None else chosen
        return {k: v for k, v in space.items() if k not in fixed}

    def points_for(self, preset: str, fixed: Sequence[str] = ()) -> List[Dict[str, Any]]:
        chosen = self.preset(preset).points
        points = self.points if chosen is None else chosen
        points = [{k: v for k, v in p.items() if k not in fixed} for p in points]
        return [p for p in points if p]


def sweep_path(name: str) -> str:
    return os.path.join(SWEEP_DIR, f"{name}.yaml")


def _yaml_names(folder: str) -> List[str]:
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(folder, "*.yaml")))


def sweep_names() -> List[str]:
    """The shipped sweeps: ``NAME.yaml`` beside this file (recipes live in ``recipes/``)."""
    return _yaml_names(SWEEP_DIR)


def recipe_names() -> List[str]:
    return _yaml_names(RECIPE_DIR)


def list_sweeps() -> Dict[str, str]:
    """name -> description, for ``--list``."""
    return {name: load_sweep(name).description for name in sweep_names()}


def _read_mapping(path: str, field: str) -> Dict[str, Any]:
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except yaml.YAMLError:
        raise ConfigError(field, f"{path} is not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(field, f"{path} must hold a mapping")
    return raw


# dotted-override mappings: merged per dotted key, the child's value replacing the parent's whole value
_PER_DOTTED_KEY = (("presets", "*", "set"), ("variants", "*", "*"), ("presets", "*", "variants", "*", "*"))


def _per_dotted_key(path) -> bool:
    return any(len(path) == len(pattern) and all(p in ("*", k) for p, k in zip(pattern, path))
               for pattern in _PER_DOTTED_KEY)


def merge_sweep(parent: Dict[str, Any], child: Dict[str, Any], path=()) -> Dict[str, Any]:
    """``child`` over ``parent`` by the rules in the module docstring; neither is modified."""
    out = copy.deepcopy(parent)
    flat = _per_dotted_key(path)
    for key, value in child.items():
        if not flat and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_sweep(out[key], value, path + (key,))
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_extends(raw: Dict[str, Any], chain=()) -> Dict[str, Any]:
    """``raw`` merged over the recipes it extends (recursively), without ``extends``."""
    raw = dict(raw)
    names = raw.pop(EXTENDS, None)
    if names is None:
        return raw
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(EXTENDS, f"must be a recipe name or a list of recipe names, got {names!r}")
    merged: Dict[str, Any] = {}
    for name in names:
        merged = merge_sweep(merged, load_recipe(name, chain))
    return merge_sweep(merged, raw)


def load_recipe(name: str, chain=()) -> Dict[str, Any]:
    """A recipe's mapping with its own ``extends`` resolved; ``chain``: the recipes being loaded."""
    if name in chain:
        raise ConfigError(EXTENDS, f"cycle: {' -> '.join(list(chain) + [name])}")
    known = recipe_names()
    if name not in known:
        raise unknown_name(EXTENDS, name, known)
    raw = _read_mapping(os.path.join(RECIPE_DIR, f"{name}.yaml"), EXTENDS)
    return resolve_extends(raw, tuple(chain) + (name,))


def merged_sweep(name: str) -> Dict[str, Any]:
    """A sweep file (by name, or a path ending in .yaml) with its recipes merged in: the
    mapping ``load_sweep`` validates, which can be written out as a standalone sweep file."""
    path = name if name.endswith((".yaml", ".yml")) else sweep_path(name)
    if not os.path.isfile(path) or (path != name and name not in sweep_names()):
        raise unknown_name("sweep", name, sweep_names())
    raw = _read_mapping(path, "sweep")
    merged = resolve_extends(raw)
    merged["name"] = raw.get("name", os.path.splitext(os.path.basename(path))[0])
    return merged


def load_sweep(name: str) -> SweepSpec:
    return from_dict(SweepSpec, merged_sweep(name))
