"""Figures: matplotlib without a display, a style per series, and saving that always closes."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from budgetlr._extras import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (files only, no display needed)."""
    matplotlib = require("matplotlib", "plot", "a plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def style(index: int) -> dict[str, object]:
    """A distinct colour and marker per series: 14 schedules overrun matplotlib's 10 colours."""
    return {"color": pyplot().get_cmap("tab20")(index % 20), "marker": "osD^v<>pPX*h"[index % 12]}


def panels(count: int, height: float) -> tuple[Figure, Any]:
    """A figure of ``count`` panels side by side, 4 inches wide each; returns it and the row of axes."""
    figure, axes = pyplot().subplots(
        1, count, figsize=(4 * count, height), layout="constrained", squeeze=False
    )
    return figure, axes[0]


def save(figure: Figure, path: Path, dpi: int = 110) -> None:
    """Write ``figure`` to ``path`` and close it, even when writing fails."""
    try:
        figure.savefig(path, dpi=dpi)
    finally:
        pyplot().close(figure)
