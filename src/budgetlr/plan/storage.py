"""A fit as a versioned JSON file (``FIT.json``), checked field by field when it is read."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from budgetlr.errors import InvalidInput
from budgetlr.plan.fitting import Fit, RunFit
from budgetlr.plan.laws import law_named

FORMAT = "budgetlr-fit"
VERSION = 1


def fit_to_json(fit: Fit) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, **asdict(fit)}


def save_fit(fit: Fit, path: str | Path) -> None:
    """Write ``fit`` to ``path`` through a temporary file, so a failed write leaves the old file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(fit_to_json(fit), indent=2) + "\n")
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def load_fit(path: str | Path) -> Fit:
    """The fit stored at ``path``; anything but a fit this version of budgetlr wrote is refused in
    one line naming the file and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"{path}: not a fit written by budgetlr plan fit ({error})") from None
    return fit_from_json(data, str(path))


def fit_from_json(data: Any, where: str) -> Fit:
    def field(name: str, kind: type | tuple[type, ...], within: dict[str, Any] = data) -> Any:
        if not isinstance(within, dict) or name not in within or not isinstance(within[name], kind):
            raise InvalidInput(
                f"{where}: field {name!r} is missing or not a {getattr(kind, '__name__', kind)}"
            )
        return within[name]

    def number(value: Any, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInput(f"{where}: {name} must be a finite number, got {value!r}")
        return float(value)

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidInput(f'{where}: not a fit written by budgetlr plan fit (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise InvalidInput(
            f"{where}: fit file version {data.get('version')!r}; this budgetlr reads version {VERSION}"
        )
    law = law_named(field("law", str))
    parameters = field("parameters", dict)
    if list(parameters) != list(law.parameters):
        raise InvalidInput(f"{where}: {law.name} needs the parameters {', '.join(law.parameters)}")
    samples = field("samples", list)
    for row in samples:
        if not isinstance(row, list) or len(row) != len(law.parameters):
            raise InvalidInput(f"{where}: each bootstrap sample needs {len(law.parameters)} numbers")
    runs = []
    for run in field("runs", list):
        steps, points = field("total_steps", int, run), field("points", int, run)
        peak, pred_e = (
            number(field("peak", (int, float), run), "peak"),
            number(field("pred_e", (int, float), run), "pred_e"),
        )
        if steps <= 0 or points <= 0 or peak <= 0:
            raise InvalidInput(f"{where}: a run's total_steps, points and peak must be positive")
        runs.append(RunFit(field("name", str, run), steps, peak, points, pred_e))
    if not runs:
        raise InvalidInput(f"{where}: the fit names no runs")
    return Fit(
        law=law.name,
        parameters={name: number(value, name) for name, value in parameters.items()},
        objective=number(field("objective", (int, float)), "objective"),
        runs=tuple(runs),
        samples=tuple(tuple(number(value, "a bootstrap sample") for value in row) for row in samples),
        seed=field("seed", int),
        seconds=number(field("seconds", (int, float)), "seconds"),
    )
