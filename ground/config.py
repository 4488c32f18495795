"""Typed loading of frozen config dataclasses from TOML mappings, validated once at the boundary.

Unknown keys and badly typed values fail with one clear error naming the key, the file and close matches, so a
typo in a preset never silently falls back to a default.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import re
import types
import typing
from datetime import date
from typing import Any, TypeVar

from ground.choices import suggest
from ground.errors import ConfigError

T = TypeVar("T")


_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²", which int() refuses

def _coerce(value: Any, hint: Any, key: str, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or value == "":
            if type(None) in args:
                return None
        non_none = [a for a in args if a is not type(None)]
        return _coerce(value, non_none[0], key, where)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list", where)
        inner = args[0] if args else str
        return tuple(_coerce(v, inner, key, where) for v in value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}", where)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
                return int(value)
            raise ConfigError(f"{key} must be an integer, got {value!r}", where)
        return value
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {value!r}", where)
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond float range
            raise ConfigError(f"{key} must be a number, got {value!r}", where) from None
    if hint is date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{key} must be a date like 2020-01-31, got {value!r}", where) from None
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be text, got {value!r}", where)
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] must be a table", where)
        return from_mapping(hint, value, where, prefix=f"{key}.")
    if origin is collections.abc.Mapping:
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] must be a table", where)
        return dict(value)
    raise ConfigError(f"{key}: unsupported type {hint!r}", where)


def from_mapping(cls: type[T], mapping: dict[str, Any], where: str, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``mapping``, rejecting unknown keys with close matches and coercing types.

    Values that are ranges or choices are validated by the dataclass's own ``__post_init__``; a ValueError raised
    there becomes a ConfigError that names the file.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for key, value in mapping.items():
        if key not in names:
            raise ConfigError(f"unknown config key '{prefix}{key}'", where, suggest(key, names) or f"valid keys: {', '.join(names)}")
        default = getattr(defaults, key)
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = deep_merge(to_mapping(default), value)  # a table overrides its section's defaults key by key
        kwargs[key] = _coerce(value, hints[key], prefix + key, where)
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"bad value in [{prefix.rstrip('.') or 'config'}]: {exc}", where) from None


def to_mapping(obj: Any) -> dict[str, Any]:
    """Plain TOML-writable mapping of a (nested) config dataclass; None is written as "" (read back as None)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            out[f.name] = ""
            continue
        if dataclasses.is_dataclass(value):
            out[f.name] = to_mapping(value)
        elif isinstance(value, typing.Mapping):
            out[f.name] = {k: dict(v) if isinstance(v, typing.Mapping) else v for k, v in value.items()}
        elif isinstance(value, tuple):
            out[f.name] = [to_mapping(v) if dataclasses.is_dataclass(v) else v for v in value]
        else:
            out[f.name] = value
    return out


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``update``'s keys replacing its own, tables merged recursively."""
    out = dict(base)
    for key, value in update.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def set_dotted(mapping: dict[str, Any], dotted: str, value: Any) -> None:
    """Apply one override like ``run.cash = 5e4`` to a nested mapping (creates missing tables)."""
    parts = dotted.split(".")
    node = mapping
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set '{dotted}': '{part}' is not a table")
    node[parts[-1]] = value
