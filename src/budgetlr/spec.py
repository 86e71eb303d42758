"""The spec grammar shared by schedules and workloads: ``name(key=value, ...)``.

Lists are bracketed (``step(milestones=[0.5, 0.75])``); values stay strings until :func:`coerce`
converts them to a key's type hint, and :func:`format_value` writes them back, so a spec
round-trips through ``str``. Imports nothing of budgetlr.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from budgetlr.errors import InvalidInput

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def split_spec(spec: str, kind: str = "schedule") -> tuple[str, dict[str, str]]:
    """``"uba(phi=0.5)"`` -> ``("uba", {"phi": "0.5"})``; values stay strings."""
    text = spec.strip()
    name, paren, rest = text.partition("(")
    name = name.strip()
    if not NAME.fullmatch(name):
        raise InvalidInput(f"malformed {kind} spec {spec!r}: expected name(key=value, ...)")
    if not paren:
        return name, {}
    if not rest.endswith(")"):
        raise InvalidInput(f"malformed {kind} spec {spec!r}: missing closing ')'")
    args: dict[str, str] = {}
    for item in split_top_level(rest[:-1], spec):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key.isidentifier() or not value:
            raise InvalidInput(f"malformed argument {item.strip()!r} in {spec!r}: expected key=value")
        if key in args:
            raise InvalidInput(f"key {key!r} given twice in {spec!r}")
        args[key] = value
    return name, args


def split_top_level(text: str, spec: str, separator: str = ",") -> list[str]:
    """Split ``text`` on ``separator`` outside brackets and parentheses; empty text gives []."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth < 0:
                raise InvalidInput(f"malformed spec {spec!r}: unbalanced {char!r}")
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise InvalidInput(f"malformed spec {spec!r}: unbalanced brackets")
    parts.append("".join(current))
    if len(parts) == 1 and not parts[0].strip():
        return []
    return parts


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of specs on commas outside parentheses."""
    specs = [s.strip() for s in split_top_level(text, text)]
    if not specs or any(not s for s in specs):
        raise InvalidInput(f"malformed schedule list {text!r}: empty entry")
    return specs


def coerce(key: str, value: Any, hint: Any) -> Any:
    """``value`` converted to the type ``hint`` of key ``key``; strings come from spec strings."""
    kinds = set(typing.get_args(hint)) if typing.get_origin(hint) is types.UnionType else {hint}
    if value is None:
        if type(None) in kinds:
            return None
        raise InvalidInput(f"{key} needs a value")
    if tuple[float, ...] in kinds:
        if isinstance(value, str):
            inner = value.strip()
            if not (inner.startswith("[") and inner.endswith("]")):
                raise InvalidInput(f"{key}={value!r} must be a list such as [0.3, 0.6]")
            value = [v for v in inner[1:-1].split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise InvalidInput(f"{key}={value!r} must be a list of numbers")
        return tuple(to_float(key, v) for v in value)
    if float in kinds:
        return to_float(key, value)
    if int in kinds:
        return to_int(key, value)
    if not isinstance(value, str):
        raise InvalidInput(f"{key}={value!r} must be a word such as a name or a path")
    return value


def to_float(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"{key}={value!r} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{key}={value!r} must be a number") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{key}={value!r} must be a finite number")
    return number


def to_int(key: str, value: Any) -> int:
    number = to_float(key, value)
    if not number.is_integer():
        raise InvalidInput(f"{key}={value!r} must be a whole number of steps")
    return int(number)


def format_spec(name: str, keys: Mapping[str, Any]) -> str:
    """``name(key=value, ...)``, or ``name`` alone without keys: how every spec is written.

    >>> format_spec("uba", {"phi": 0.5, "warmup": 0.05}), format_spec("cosine", {})
    ('uba(phi=0.5, warmup=0.05)', 'cosine')
    """
    items = ", ".join(f"{key}={format_value(value)}" for key, value in keys.items())
    return f"{name}({items})" if items else name


def format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)
