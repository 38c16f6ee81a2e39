"""Reading engine inputs: nested lookups, JSON documents, provider-style booleans, and values unknown in preview.

A value `pulumi preview` cannot know yet (an output of a resource not yet created) is `UNKNOWN`; reading one through
these helpers raises `UnknownValue`, which the evaluator turns into N/A instead of a guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final


class _Unknown:
    """A value `pulumi preview` cannot know yet (an output of a resource not created)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Final = _Unknown()


class UnknownValue(Exception):
    """Raised when a rule needs a value that is only known after apply."""


def dig(data: Any, *path: str | int, default: Any = None) -> Any:
    """`data[path[0]][path[1]]…`, or `default` where a step is missing; raises UnknownValue on an unknown step."""
    current = data
    for step in path:
        if current is UNKNOWN:
            raise UnknownValue(".".join(map(str, path)))
        if isinstance(step, int):
            if not isinstance(current, Sequence) or isinstance(current, str) or step >= len(current):
                return default
            current = current[step]
        else:
            if not isinstance(current, Mapping) or step not in current:
                return default
            current = current[step]
    if current is UNKNOWN:
        raise UnknownValue(".".join(map(str, path)))
    return current


def as_list(value: Any) -> list[Any]:
    """A list input (or one object where the provider flattened a max-1 block) as a list; None as []."""
    if value is UNKNOWN:
        raise UnknownValue("list")
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def as_json(value: Any) -> Any:
    """A JSON document input (IAM/KMS/bucket policy) as data; the engine sees them as strings."""
    if value is UNKNOWN:
        raise UnknownValue("json document")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def truthy(value: Any) -> bool:
    """True for True and the provider-style strings "true"/"1"; raises on unknown."""
    if value is UNKNOWN:
        raise UnknownValue("bool")
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return value is True or (isinstance(value, int | float) and value == 1)


def number(value: Any, default: float = 0.0) -> float:
    if value is UNKNOWN:
        raise UnknownValue("number")
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
