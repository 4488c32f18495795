"""The one config loader: TOML files and mappings into frozen dataclasses, validated once at the boundary.

Every config section of every package (runs, strategies, models, news feeds) is a frozen dataclass loaded here, so a
typo or a bad value fails the same way everywhere: one ``ConfigError`` that names the full dotted key and where the
key came from (the TOML file, or the flag or ``--set`` that gave it), with close matches for unknown keys. A
dataclass checks its own values in ``__post_init__`` and raises ``InvalidValue(field, rule)`` so that the loader can
name the key; any other ``UserInputError`` or ``ValueError`` it raises is reported against its section.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from ground.choices import suggest
from ground.errors import ConfigError, InvalidValue, UserInputError

T = TypeVar("T")

_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²", which int() refuses


@dataclasses.dataclass(frozen=True)
class Origins:
    """Where each key came from: a file for everything, except the dotted keys a flag or ``--set`` gave."""

    file: str
    keys: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def of(self, key: str) -> str:
        """The flag that set ``key`` (or a table above it), else the file."""
        parts = key.split(".")
        for i in range(len(parts), 0, -1):
            found = self.keys.get(".".join(parts[:i]))
            if found:
                return found
        return self.file


def load_toml(path: str | Path, what: str = "config file", fix: str = "") -> dict[str, Any]:
    """Read a TOML file; a missing, unreadable or malformed file is one ConfigError naming the path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", str(path), fix) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what}: {exc}", str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", str(path), "fix the syntax") from None


def _coerce(value: Any, hint: Any, key: str, origins: Origins) -> Any:
    where = origins.of(key)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if (value is None or value == "") and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _coerce(value, non_none[0], key, origins)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}", where)
        inner = args[0] if args else str
        if dataclasses.is_dataclass(inner):
            return tuple(_coerce(v, inner, f"{key}[{i}]", origins) for i, v in enumerate(value, start=1))
        return tuple(_coerce(v, inner, key, origins) for v in value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}", where)
    if hint is int:
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}", where)
        return value
    if hint is float:
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond float range
            number = math.nan
        if not math.isfinite(number):
            raise ConfigError(f"{key} must be a finite number, got {value!r}", where)
        return number
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
            raise ConfigError(f"[{key}] must be a table, got {value!r}", where)
        return _build(typing.cast(type, hint), value, origins, f"{key}.")
    if origin is collections.abc.Mapping:
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] must be a table, got {value!r}", where)
        inner = args[1] if len(args) == 2 else Any
        if inner is Any:
            return dict(value)
        return {str(k): _coerce(v, inner, f"{key}.{k}", origins) for k, v in value.items()}
    raise ConfigError(f"{key}: unsupported type {hint!r}", where)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _build(cls: type[T], mapping: Mapping[str, Any], origins: Origins, prefix: str) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in mapping.items():
        if key not in fields:
            hint = suggest(key, fields, prefix) or f"valid keys: {', '.join(prefix + n for n in fields)}"
            raise ConfigError(f"unknown config key '{prefix}{key}'", origins.of(prefix + key), hint)
        default = _default_of(fields[key])
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = deep_merge(to_mapping(default), value)  # a table overrides its section's defaults key by key
        kwargs[key] = _coerce(value, hints[key], prefix + key, origins)
    for name, f in fields.items():
        if name not in kwargs and _default_of(f) is dataclasses.MISSING:
            raise ConfigError(f"missing config key '{prefix}{name}'", origins.of(prefix.rstrip(".")) , f"add {name} = ...")
    try:
        return cls(**kwargs)
    except InvalidValue as exc:
        key = prefix + exc.field
        raise ConfigError(f"{key}: {exc.rule}", origins.of(key), exc.fix) from None
    except UserInputError as exc:
        raise ConfigError(f"bad value in [{prefix.rstrip('.') or 'config'}]: {exc.what}", origins.of(prefix.rstrip(".")),
                          exc.fix) from None
    except ValueError as exc:
        raise ConfigError(f"bad value in [{prefix.rstrip('.') or 'config'}]: {exc}", origins.of(prefix.rstrip("."))) from None


def from_mapping(cls: type[T], mapping: Mapping[str, Any], where: str | Origins, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``mapping``, rejecting unknown keys with close matches and coercing types.

    ``where`` is the file the mapping came from, or ``Origins`` when some keys came from flags. Values are checked
    by the dataclass's own ``__post_init__``; its errors become ConfigErrors naming the key and its origin.
    """
    origins = where if isinstance(where, Origins) else Origins(where)
    return _build(cls, mapping, origins, prefix)


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


def deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update``'s keys replacing its own, tables merged recursively."""
    out = dict(base)
    for key, value in update.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def set_dotted(mapping: dict[str, Any], dotted: str, value: Any, where: str = "") -> None:
    """Apply one override like ``run.cash = 5e4`` to a nested mapping (creates missing tables)."""
    parts = dotted.split(".")
    node = mapping
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set '{dotted}': '{part}' is not a table", where or dotted)
    node[parts[-1]] = value
