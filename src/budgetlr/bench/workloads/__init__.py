"""Workloads: the built-in ones, and third-party ones by ``module:attr`` or the entry-point group
``budgetlr.workloads`` (see docs/workloads.md).

A workload spec is ``name`` or ``name(key=value, ...)``, like a schedule spec.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from budgetlr._extras import require
from budgetlr.errors import InvalidInput
from budgetlr.spec import split_spec

require("torch", "bench", "budgetlr.bench.workloads")

from budgetlr.bench.workloads.base import ClassificationWorkload, Workload  # noqa: E402
from budgetlr.bench.workloads.cifar import CifarResNet  # noqa: E402
from budgetlr.bench.workloads.classifiers import DigitsCNN, Mnist1dCNN  # noqa: E402
from budgetlr.bench.workloads.gpt import StdlibGPT, TextGPT  # noqa: E402
from budgetlr.bench.workloads.quadratic import Quadratic  # noqa: E402

BUILT_IN: dict[str, type[Workload]] = {
    w.name: w for w in (Quadratic, Mnist1dCNN, DigitsCNN, StdlibGPT, TextGPT, CifarResNet)
}
ENTRY_POINT_GROUP = "budgetlr.workloads"


def available() -> dict[str, Any]:
    """Built-in workload classes, then those that installed packages register."""
    found: dict[str, Any] = dict(BUILT_IN)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry)
    return found


def resolve_workload(spec: str | Workload) -> Workload:
    """A workload from ``name``, ``name(key=value, ...)``, ``module:attr`` or a workload object.

    ``attr`` (or an entry point) may be a Workload subclass, an instance, or a callable taking the
    spec's keys and returning a workload.
    """
    if isinstance(spec, Workload):
        return spec
    text = spec.strip()
    if ":" in text.partition("(")[0]:
        target, _, rest = text.partition("(")
        module_name, _, attr = target.partition(":")
        args = split_spec("x(" + rest, "workload")[1] if rest else {}
        try:
            factory = getattr(importlib.import_module(module_name.strip()), attr.strip())
        except (ImportError, AttributeError) as error:
            raise InvalidInput(f"cannot load workload {text!r}: {error}") from None
        return instantiate(factory, args, text)
    name, args = split_spec(text, "workload")
    known = available()
    if name not in known:
        raise InvalidInput(f"unknown workload {name!r}; valid workloads: {', '.join(known)} (or module:attr)")
    factory = known[name]
    if not isinstance(factory, type):
        factory = factory.load()
    return instantiate(factory, args, text)


def instantiate(factory: Any, args: dict[str, str], text: str) -> Workload:
    if isinstance(factory, Workload):
        if args:
            raise InvalidInput(f"workload {text!r} is an instance and takes no keys")
        return factory
    try:
        workload = factory(**args)
    except TypeError as error:
        raise InvalidInput(f"workload {text!r}: {error}") from None
    if not isinstance(workload, Workload):
        raise InvalidInput(
            f"workload {text!r} did not give a budgetlr Workload but {type(workload).__name__}"
        )
    return workload


__all__ = ["BUILT_IN", "ClassificationWorkload", "Workload", "available", "resolve_workload"]
