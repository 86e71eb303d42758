"""A trial's curve as one blob of the ``series`` table: 24 bytes a point."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from budgetlr.bench.runner import CurvePoint

#: A curve point in the ``series`` table: 24 bytes, little-endian; NaN stands for None.
POINT = np.dtype(
    [("step", "<i4"), ("train_loss", "<f4"), ("val_metric", "<f4"), ("val_loss", "<f4"), ("lr", "<f8")]
)


def pack_curve(points: Sequence[CurvePoint]) -> bytes:
    """A curve as one blob: a trial's few hundred points cost a few kilobytes and one row."""
    nan = float("nan")
    values = [
        (
            p.step,
            *(nan if v is None else v for v in (finite_or_none(p.train_loss), p.val_metric, p.val_loss)),
            p.lr,
        )
        for p in points
    ]
    return np.array(values, dtype=POINT).tobytes()


def unpack_curve(blob: bytes) -> list[CurvePoint]:
    def value(number: np.floating) -> float | None:
        return None if np.isnan(number) else float(number)

    return [
        CurvePoint(
            int(p["step"]),
            value(p["train_loss"]),
            value(p["val_metric"]),
            float(p["lr"]),
            value(p["val_loss"]),
        )
        for p in np.frombuffer(blob, dtype=POINT)
    ]


def finite_or_none(value: float | None) -> float | None:
    return value if value is not None and value == value and abs(value) != float("inf") else None
