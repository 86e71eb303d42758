"""Workloads: the built-in ones, and third-party ones by ``module:attr`` or the entry-point group
``budgetlr.workloads`` (see docs/workloads.md).

A workload spec is ``name`` or ``name(key=value, ...)``, like a schedule spec, where ``name`` is
a registered name or ``module:attr``. A workload's spec (``str(workload)``) is its identity in the
results database: its registered name when the registry resolves that name to its class, else
the ``module:Class`` it came from, so that every command finds its trials again.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from budgetlr._extras import require
from budgetlr.errors import InvalidInput
from budgetlr.spec import split_spec

require("torch", "bench", "budgetlr.bench.workloads")

from budgetlr.bench.workloads.base import ClassificationWorkload, Workload  # noqa: E402
from budgetlr.bench.workloads.cifar import CifarResNet  # noqa: E402
from budgetlr.bench.workloads.classifiers import (  # noqa: E402
    DigitsCNN,
    Mnist1dCNN,
    Mnist1dGRU,
    Mnist1dMLP,
    Mnist1dTransformer,
)
from budgetlr.bench.workloads.gpt import StdlibGPT, StdlibGPTLong, TextGPT  # noqa: E402
from budgetlr.bench.workloads.quadratic import Quadratic  # noqa: E402

BUILT_IN: dict[str, type[Workload]] = {
    w.name: w
    for w in (
        Quadratic,
        Mnist1dCNN,
        Mnist1dMLP,
        Mnist1dGRU,
        Mnist1dTransformer,
        DigitsCNN,
        StdlibGPT,
        StdlibGPTLong,
        TextGPT,
        CifarResNet,
    )
}
ENTRY_POINT_GROUP = "budgetlr.workloads"
DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


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
        args = split_spec("x(" + rest, "workload")[1] if rest else {}
        return instantiate(load(target.strip()), args, text)
    name, args = split_spec(text, "workload")
    known = available()
    if name not in known:
        raise InvalidInput(f"unknown workload {name!r}; valid workloads: {', '.join(known)} (or module:attr)")
    factory = known[name]
    if not isinstance(factory, type):
        factory = factory.load()
    return instantiate(factory, args, text)


def load(target: str) -> Any:
    """The object ``module:attr`` names. The module is imported as Python imports it, and from the
    current folder when Python's path lacks it (as ``python -m`` would): the console script's path
    holds only its own folder."""
    module_name, _, attr = (part.strip() for part in target.partition(":"))
    if not (DOTTED_NAME.fullmatch(module_name) and DOTTED_NAME.fullmatch(attr)):
        raise InvalidInput(f"workload {target!r} must be module:attr, e.g. mypackage.blobs:Blobs")
    here = os.getcwd()
    try:
        try:
            found: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if here in sys.path or error.name != module_name.partition(".")[0]:
                raise
            sys.path.append(here)
            found = importlib.import_module(module_name)
        for part in attr.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as error:
        raise InvalidInput(f"cannot load workload {target!r}: {error}") from None
    return found


def origin(cls: type) -> str:
    """The name a spec gives ``cls``: the name under which the registry resolves it (built-in or
    registered by an entry point), else ``module:Class``."""
    return registered_name(f"{cls.__module__}:{cls.__qualname__}", getattr(cls, "name", ""))


@cache
def registered_name(where: str, name: str) -> str:
    """The registry's name for the class at ``where`` (``module:Class``) named ``name``, else ``where``."""
    built_in = BUILT_IN.get(name)
    if built_in is not None and f"{built_in.__module__}:{built_in.__qualname__}" == where:
        return name
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in BUILT_IN and "".join(entry.value.split()) == where:
            return entry.name
    return where


def check_findable(workload: Workload) -> None:
    """Refuse a workload whose class no other process can import: its trials could not be read."""
    where = origin(type(workload))
    place = (
        "inside a function"
        if "<locals>" in where
        else "in a script's __main__"
        if where.startswith("__main__:")
        else ""
    )
    if place:
        raise InvalidInput(
            f"workload class {type(workload).__name__} is defined {place}, where no other command can "
            "import it: define it in a module (see docs/workloads.md)"
        )


def stored_spec(text: str) -> str:
    """The spec under which trials of workload ``text`` are stored (``quadratic(kappa=1e4)`` ->
    ``quadratic(kappa=10000.0)``); ``text`` itself when this process cannot resolve it, so that a
    stored workload is still selected by the spec it was stored under."""
    try:
        return str(resolve_workload(text))
    except InvalidInput:
        return text.strip()


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


__all__ = ["BUILT_IN", "ClassificationWorkload", "Workload", "available", "resolve_workload", "stored_spec"]
