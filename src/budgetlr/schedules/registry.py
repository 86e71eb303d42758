"""The registry of schedule families and the spec parser.

A spec is ``name(key=value, ...)``, e.g. ``uba(phi=0.5, warmup=0.05)`` or
``wsd(decay=0.2, shape=1-sqrt)``; lists are bracketed, ``step(milestones=[0.5, 0.75])``. The same
spec as a dict is ``{"name": "uba", "phi": 0.5}``. A spec round-trips: ``parse(str(s)) == s``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import Schedule, default_of, spec_fields
from budgetlr.spec import split_spec

FAMILIES: dict[str, type[Schedule]] = {}

S = TypeVar("S", bound=type[Schedule])


def register(cls: S) -> S:
    """Class decorator adding a family to the registry under its ``name``."""
    FAMILIES[cls.name] = cls
    return cls


def keys_of(family: type[Schedule]) -> dict[str, Any]:
    """The keys of a family with their defaults, family keys first."""
    return {field.name: default_of(family, field.name) for field in spec_fields(family)}


def parse(spec: str | Mapping[str, Any] | Schedule) -> Schedule:
    """A schedule from a spec string, a spec dict or a schedule (returned as is)."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, Mapping):
        return from_dict(spec)
    if not isinstance(spec, str):
        raise InvalidInput(f"a schedule spec must be a string or a dict, got {type(spec).__name__}")
    name, args = split_spec(spec)
    return build(name, args)


def from_dict(spec: Mapping[str, Any]) -> Schedule:
    if "name" not in spec:
        raise InvalidInput(f"spec dict {dict(spec)!r} lacks 'name'; valid names: {valid_names()}")
    args = {k: v for k, v in spec.items() if k != "name"}
    return build(spec["name"], args)


def build(name: Any, args: Mapping[str, Any]) -> Schedule:
    family = FAMILIES.get(name) if isinstance(name, str) else None
    if family is None:
        raise InvalidInput(f"unknown schedule {name!r}; valid names: {valid_names()}")
    valid = keys_of(family)
    for key in args:
        if key not in valid:
            raise InvalidInput(f"{name} has no key {key!r}; valid keys: {', '.join(valid)}")
    for key, how in family.measured.items():
        if args.get(key) == "auto":
            raise InvalidInput(f"{name}({key}=auto) is measured on a model: {how}")
    try:
        return family(**args)
    except ValueError as error:
        raise InvalidInput(f"{name}: {error}") from None


def valid_names() -> str:
    return ", ".join(sorted(FAMILIES))
