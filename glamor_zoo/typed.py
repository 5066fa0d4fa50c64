"""Values checked against dataclass annotations: what recipes and model specs are read through.

:func:`from_mapping` builds a dataclass from a plain mapping (YAML, JSON), checking every value
against its field's annotation (``int``, ``float``, ``str``, ``bool``, ``None``, ``Literal``,
unions, ``list[...]``, ``tuple[...]``, ``dict[str, ...]``, nested dataclasses) and rejecting
unknown keys. A bad value is one :class:`FieldError` naming the key, the value and the expected
type, e.g. ``optim.lr='fast': expected a number (float), got str``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar, Union

__all__ = ["FieldError", "UnknownKeysError", "check_value", "from_mapping"]

T = TypeVar("T")

_NAMES: dict[Any, str] = {
    int: "an integer (int)",
    float: "a number (float)",
    str: "a string (str)",
    bool: "true or false (bool)",
    type(None): "null",
    Any: "any value",
}


class FieldError(ValueError):
    """A value does not have its field's type: ``key``, ``value`` and ``expected`` say how."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        self.key, self.value, self.expected = key, value, expected
        super().__init__(f"{key}={value!r}: expected {expected}, got {type(value).__name__}")


class UnknownKeysError(ValueError):
    """A mapping has keys its dataclass does not define; the message lists the valid ones."""


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if annotation in _NAMES:
        return _NAMES[annotation]
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(annotation))
    if origin in (list, tuple, Sequence):
        args = typing.get_args(annotation)
        inner = getattr(args[0], "__name__", _describe(args[0])) if args else "values"
        return f"a list of {inner}"
    if origin in (dict, Mapping):
        return "a mapping"
    if dataclasses.is_dataclass(annotation):
        return f"a mapping of {annotation.__name__} settings"
    return getattr(annotation, "__name__", str(annotation))


def check_value(value: Any, annotation: Any, key: str) -> Any:
    """``value`` as ``annotation`` wants it (ints are accepted as floats, lists as tuples).

    Raises:
        FieldError: ``value`` is not of that type.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if annotation is type(None):
        if value is None:
            return None
    elif annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
    elif origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
    elif origin in (Union, types.UnionType):
        for option in args:
            try:
                return check_value(value, option, key)
            except FieldError:
                continue
    elif origin in (list, Sequence) or origin is tuple:
        if isinstance(value, (list, tuple)):
            if origin is tuple and args and args[-1] is not Ellipsis:
                if len(value) != len(args):
                    raise FieldError(key, value, f"a list of {len(args)} values")
                return tuple(
                    check_value(v, a, f"{key}[{i}]")
                    for i, (v, a) in enumerate(zip(value, args, strict=True))
                )
            inner = args[0] if args else Any
            items = [check_value(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
    elif origin in (dict, Mapping):
        if isinstance(value, Mapping):
            kt, vt = args if args else (Any, Any)
            return {
                check_value(k, kt, key): check_value(v, vt, f"{key}.{k}") for k, v in value.items()
            }
    elif dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if isinstance(value, Mapping):
            return from_mapping(annotation, value, f"{key}.")
    else:
        raise TypeError(f"{key}: annotation {annotation!r} is not supported")
    raise FieldError(key, value, _describe(annotation))


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """A ``cls`` dataclass from ``data``, every value checked against its field's annotation.

    Args:
        cls: The dataclass.
        data: Its fields by name; missing ones take their defaults.
        where: Prefix of the keys in messages (``"optim."``).

    Raises:
        FieldError: A value of the wrong type, or ``data`` is not a mapping.
        UnknownKeysError: Unknown keys (the message lists the valid ones).
    """
    if not isinstance(data, Mapping):
        raise FieldError(where.rstrip(".") or cls.__name__, data, _describe(cls))
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UnknownKeysError(
            f"unknown key(s) {', '.join(where + str(k) for k in unknown)}; "
            f"valid: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {name: check_value(value, hints[name], where + name) for name, value in data.items()}
    return cls(**kwargs)
