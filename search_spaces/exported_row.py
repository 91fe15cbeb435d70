"""A table row whose values come from an exported config: ``from_export: {file: PATH, keys: [...]}``.

This is how an ablation puts a population-based run's schedule beside the best fixed values
of a search: each row takes the named keys from the config ``platform.export`` wrote for
that run (and, where the config changes a key during the run, its ``schedule:`` entry), and
everything else (data, networks, epochs, seed) from the ablation's own base and columns:

```yaml
variants:
  values:
    fixed (kd_temperature best): {from_export: {file: experiments/best/kd_temperature, keys: [method.temperature, method.alpha]}}
    PBT schedule (kd_pbt best): {from_export: {file: experiments/best/kd_pbt, keys: [method.temperature, method.alpha]}}
```

PATH is an exported YAML file or the folder ``platform.export --out`` wrote (its rank-1 file),
relative to the folder the command runs in. The file is read once by the driver; trials get
the values themselves, so the config saved beside each trial says what it trained with."""
import glob
import os
from typing import Any, Dict, List

import yaml

from distill.errors import ConfigError

ROW_KEY = "from_export"
SCHEDULE_KEY = "schedule"
EXPORT_HINT = "write one with python -m platform.export EXPERIMENT --top 1 --out FOLDER"


def exported_file(where: str, path: str) -> str:
    path = os.path.abspath(os.path.expanduser(str(path)))
    if os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(path, "rank1_*.yaml")))
        if len(found) != 1:
            raise ConfigError(f"{where}.file", f"{path} holds {len(found)} rank1_*.yaml files, not one; {EXPORT_HINT}")
        return found[0]
    if not os.path.isfile(path):
        raise ConfigError(f"{where}.file", f"no exported config at {path}; {EXPORT_HINT}")
    return path


def _dotted(config: Dict[str, Any], key: str):
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def _read_config(where: str, path: str) -> Dict[str, Any]:
    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{where}.file", f"{path} is not a readable YAML config ({err.__class__.__name__})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{where}.file", f"{path} is not a config mapping")
    return config


def row_values(where: str, spec: Any) -> Dict[str, Any]:
    """The dotted overrides ``from_export`` stands for: each key's value in the exported config,
    and ``schedule`` with the entries of those keys when the run changed them."""
    if not isinstance(spec, dict) or set(spec) - {"file", "keys"} or "file" not in spec:
        raise ConfigError(where, "must be {file: PATH, keys: [dotted keys]}")
    keys = spec.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"{where}.keys", "must be a non-empty list of dotted config keys, e.g. [method.temperature]")
    path = exported_file(where, spec["file"])
    config = _read_config(where, path)
    values: Dict[str, Any] = {}
    for key in keys:
        try:
            values[key] = _dotted(config, key)
        except KeyError:
            raise ConfigError(f"{where}.keys", f"{key!r} is not set in {path}") from None
    schedule = config.get(SCHEDULE_KEY) or {}
    left_out = sorted(set(schedule) - set(keys))
    if left_out:
        # taking part of a schedule would re-run a different schedule under the same row name
        raise ConfigError(f"{where}.keys", f"{path} schedules {', '.join(left_out)} too; add them to keys")
    taken = {key: steps for key, steps in schedule.items() if key in keys}
    if taken:
        values[SCHEDULE_KEY] = taken
    return values


def expand_rows(named: Dict[str, Dict[str, Dict[str, Any]]]) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """Each axis's rows with ``from_export`` replaced by the values it names; the row's own
    keys win over the file's (a row may take a schedule and change one more thing)."""
    out: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for axis, rows in (named or {}).items():
        out[axis] = {}
        for row, overrides in rows.items():
            overrides = dict(overrides or {})
            if ROW_KEY in overrides:
                taken = row_values(f"variants.{axis}.{row}.{ROW_KEY}", overrides.pop(ROW_KEY))
                overrides = {**taken, **overrides}
            out[axis][row] = overrides
    return out


def exported_files(named: Dict[str, Dict[str, Dict[str, Any]]]) -> List[str]:
    """The files the rows read (recorded with the experiment)."""
    files = []
    for axis, rows in (named or {}).items():
        for row, overrides in rows.items():
            spec = (overrides or {}).get(ROW_KEY)
            if isinstance(spec, dict) and "file" in spec:
                files.append(exported_file(f"variants.{axis}.{row}.{ROW_KEY}", spec["file"]))
    return files
