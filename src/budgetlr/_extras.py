"""Optional dependencies: each feature that needs an extra says so in one line when it is missing."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the install command."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming ``pip install 'budgetlr[extra]'``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise MissingExtra(
            f"{feature} needs {module.split('.')[0]}: pip install 'budgetlr[{extra}]'"
        ) from None
