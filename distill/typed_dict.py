"""Build typed dataclasses from plain dicts (as read by ``yaml.safe_load``),
checking every field's type, range and choices. Field constraints live in the
dataclass's field metadata: ``choices``, ``ge`` (>=), ``gt`` (>), ``le`` (<=), ``lt`` (<)."""
import dataclasses
import re
import types
import typing
from typing import Any, Dict, Type, TypeVar

from distill.errors import ConfigError

T = TypeVar("T")
_YAML11_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp, field: str):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, field)
            except ConfigError as err:
                errors.append(err)
        raise errors[0] if errors else ConfigError(field, "must not be null")
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(field, f"must be a mapping of {', '.join(f.name for f in dataclasses.fields(tp))}")
        return from_dict(tp, value, field)
    if origin in (list, typing.List):
        (item_tp,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(field, f"must be a list, got {value!r}")
        return [_coerce(v, item_tp, f"{field}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise ConfigError(field, f"must be a mapping, got {value!r}")
        _, val_tp = typing.get_args(tp) or (str, Any)
        return {str(k): _coerce(v, val_tp, f"{field}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(field, f"must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(field, f"must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and _YAML11_FLOAT.match(value.strip()):
            # YAML 1.1 reads "1e-3" (no dot) as a string; users write it anyway
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(field, f"must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(field, f"must be a string, got {value!r}")
        return value
    raise ConfigError(field, f"unsupported type {_type_name(tp)}")


def _check_constraints(value, meta, field: str):
    if value is None:
        return
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(field, f"{value!r} is not allowed; allowed: {', '.join(map(str, choices))}")
    if "gt" in meta and not value > meta["gt"]:
        raise ConfigError(field, f"must be > {meta['gt']}, got {value!r}")
    if "ge" in meta and not value >= meta["ge"]:
        raise ConfigError(field, f"must be >= {meta['ge']}, got {value!r}")
    if "lt" in meta and not value < meta["lt"]:
        raise ConfigError(field, f"must be < {meta['lt']}, got {value!r}")
    if "le" in meta and not value <= meta["le"]:
        raise ConfigError(field, f"must be <= {meta['le']}, got {value!r}")


def from_dict(cls: Type[T], data: Dict[str, Any], path: str = "") -> T:
    """Build ``cls`` from ``data``; unknown keys and bad values raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path or cls.__name__, f"must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        where = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ConfigError(where, f"unknown field; allowed: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        where = f"{path}.{name}" if path else name
        if name in data:
            value = _coerce(data[name], hints[name], where)
        elif f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        else:
            raise ConfigError(where, "is required")
        _check_constraints(value, f.metadata, where)
        kwargs[name] = value
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        check(path)
    return obj


def to_dict(obj) -> Dict[str, Any]:
    return dataclasses.asdict(obj)


def field(default=dataclasses.MISSING, *, default_factory=dataclasses.MISSING, **constraints):
    """A dataclass field with validation constraints in its metadata."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata=constraints)
