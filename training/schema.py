# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Build typed dataclasses from YAML mappings: unknown keys and wrong types are errors.

:func:`from_mapping` reads a mapping into a dataclass by its type hints
(``bool``, ``int``, ``float``, ``str``, ``Path`` (kept as a string), ``X | None``,
unions, ``Literal[...]``, ``tuple[X, ...]``, fixed tuples, ``dict``/``Mapping`` and
nested dataclasses, which may bring their own ``parse_config(data, where)``), naming
the offending key by its dotted path (``train.batch_size``).
:func:`to_plain` turns such a dataclass back into plain YAML/JSON values.  Range
checks belong to each dataclass's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot be used (unknown key, wrong type, value out of range)."""


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{text[:60]}..." if len(text) > 60 else text


def coerce(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked against the type hint ``tp`` (ints become floats, paths strings).

    Raises :class:`ConfigError` naming ``where`` when it does not fit.
    """
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        arms = typing.get_args(tp)
        if value is None:
            if type(None) in arms:
                return None
            raise ConfigError(f"{where}: a value is required")
        errors = []
        for arm in arms:
            if arm is type(None):
                continue
            try:
                return coerce(arm, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{where}: {_describe(value)} is none of {tp}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices or isinstance(value, bool):
            raise ConfigError(f"{where}: must be one of {list(choices)}, got {_describe(value)}")
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {_describe(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {_describe(value)}")
        return tuple(coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(
            zip(args, value, strict=True)))
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {_describe(value)}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        parse = getattr(tp, "parse_config", None)  # a class with its own reading rules
        return parse(value, where) if parse is not None else from_mapping(tp, value, where)
    if tp is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{where}: expected a path, got {_describe(value)}")
        return str(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_describe(value)}")
        return value
    raise TypeError(f"{where}: unsupported type hint {tp!r}")  # a bug in a config class


def coerce_fields(cls: type, data: Any, where: str) -> dict[str, Any]:
    """``data`` checked against the fields of the dataclass ``cls`` (nothing constructed).

    ``where`` is the dotted path of ``data`` in the document (``""``: its top level).

    Raises :class:`ConfigError` for a non-mapping, an unknown key or a value of
    the wrong type; returns the converted values of the keys given.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'top level'}: expected a mapping, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ConfigError(f"{where or 'top level'}: unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(unknown)} (known: {', '.join(known)})")
    return {k: coerce(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}


def from_mapping(cls: type[T], data: Any, where: str = "") -> T:
    """An instance of the dataclass ``cls`` from ``data`` (``None`` = all defaults).

    Raises :class:`ConfigError` naming the dotted path of an unknown key, a value
    of the wrong type or a missing required key; ``cls.__post_init__`` may raise
    it for values out of range.
    """
    kwargs = coerce_fields(cls, data, where)
    missing = [f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
               if f.init and f.name not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where or 'top level'}: missing required key"
                          f"{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(missing)}")
    return cls(**kwargs)


def to_plain(value: Any) -> Any:
    """Plain YAML/JSON values (dicts, lists, scalars) of a dataclass tree."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value
