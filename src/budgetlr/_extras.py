"""Optional dependencies: each feature that needs an extra says so in one line when it is missing.

The extras themselves are written once, in pyproject.toml; :func:`require_extra` reads them from
the installed package's metadata (importlib.metadata, imported only then: it takes a fifth of
``budgetlr list``'s start-up).
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Literal

DISTRIBUTION = "budgetlr"
Extra = Literal["torch", "plot", "plan", "bench", "ray", "lightning", "hf", "jax", "optuna"]


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the install command."""

    @classmethod
    def of(cls, feature: str, packages: list[str], extra: Extra) -> MissingExtra:
        return cls(f"{feature} needs {', '.join(packages)}: pip install 'budgetlr[{extra}]'")


def require(module: str, extra: Extra, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming ``pip install 'budgetlr[extra]'``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise MissingExtra.of(feature, [module.split(".")[0]], extra) from None


def require_extra(extra: Extra, feature: str) -> None:
    """Raise :class:`MissingExtra` unless every package that ``budgetlr[extra]`` lists is installed."""
    missing = [name for name in extra_packages(extra) if not installed(name)]
    if missing:
        raise MissingExtra.of(feature, missing, extra)


def extra_packages(extra: Extra) -> list[str]:
    """The distributions that ``budgetlr[extra]`` adds, from the installed metadata (none when
    budgetlr runs from a source tree that was never installed)."""
    import importlib.metadata

    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    return [
        re.match(r"[A-Za-z0-9_.-]+", requirement).group()  # type: ignore[union-attr]
        for requirement in requirements
        if marker.search(requirement)
    ]


def installed(distribution: str) -> bool:
    import importlib.metadata

    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
