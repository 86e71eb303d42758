"""Runs: the LR a training run used at every step, and the losses observed at some of its steps.

A loss-curve law reads a run's whole LR sequence, so a run carries the absolute LR of every step
``0..last``, where ``last`` is its last observed step, and the losses observed at increasing
steps (optionally with their spread over seeds). Three ways in: :func:`read_run` (a CSV of
``step,lr,loss``), :func:`run_from_spec` (a budgetlr spec plus a CSV of ``step,loss``) and
:class:`Run` itself (arrays).
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from budgetlr.errors import InvalidInput
from budgetlr.files import refuse_database_file
from budgetlr.schedules import schedule

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: The longest run budgetlr reads: 100 million steps of LR, 800 MB in float64.
MAX_STEPS = 100_000_000


@dataclass(frozen=True, eq=False)
class Run:
    """``lrs[t]`` is the absolute LR of step ``t`` for ``t = 0..T-1``, at least up to the last
    observed step (a law that scales to the run's length, like the annealing law's memory, reads
    ``T``); ``losses[i]`` is the loss observed at ``steps[i]``, and ``spread[i]`` (optional) its
    spread over seeds: the standard error of the mean loss.

    >>> run = Run("demo", lrs=[0.0, 1e-3, 1e-3, 1e-3], steps=[2, 3], losses=[3.1, 3.0])
    >>> run.total_steps, float(run.peak)
    (4, 0.001)
    """

    name: str
    lrs: FloatArray
    steps: IntArray
    losses: FloatArray
    spread: FloatArray | None = None
    peak: float = field(init=False)

    def __init__(
        self,
        name: str,
        lrs: ArrayLike,
        steps: ArrayLike,
        losses: ArrayLike,
        spread: ArrayLike | None = None,
    ) -> None:
        values = {
            "lrs": np.asarray(lrs, dtype=np.float64),
            "steps": np.asarray(steps),
            "losses": np.asarray(losses, dtype=np.float64),
        }
        if spread is not None:
            values["spread"] = np.asarray(spread, dtype=np.float64)
        for key, value in values.items():
            if value.ndim != 1 or value.size == 0:
                raise InvalidInput(f"run {name}: {key} must be a non-empty list of numbers")
            if not np.isfinite(value).all() or (value < 0).any():
                raise InvalidInput(f"run {name}: {key} must be finite and not negative")
        steps_int = values["steps"].astype(np.int64)
        if (steps_int != values["steps"]).any():
            raise InvalidInput(f"run {name}: steps must be whole numbers")
        if (np.diff(steps_int) <= 0).any():
            raise InvalidInput(f"run {name}: steps must increase")
        if values["losses"].size != steps_int.size or values.get("spread", steps_int).size != steps_int.size:
            raise InvalidInput(f"run {name}: one loss (and spread) per observed step")
        if (values["losses"] <= 0).any():
            raise InvalidInput(f"run {name}: losses must be positive")
        if values["lrs"].size <= steps_int[-1]:
            raise InvalidInput(
                f"run {name}: needs the LR of every step 0..{steps_int[-1]} "
                f"({steps_int[-1] + 1} values), got {values['lrs'].size}"
            )
        if values["lrs"].max() <= 0:
            raise InvalidInput(f"run {name}: its LR is 0 at every step")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "lrs", values["lrs"])
        object.__setattr__(self, "steps", steps_int)
        object.__setattr__(self, "losses", values["losses"])
        object.__setattr__(self, "spread", values.get("spread"))
        object.__setattr__(self, "peak", float(values["lrs"].max()))

    @property
    def total_steps(self) -> int:
        """``T``, the number of steps whose LR the run gives."""
        return int(self.lrs.size)


def read_run(path: str | Path, name: str | None = None) -> Run:
    """A run from a CSV whose header holds ``step``, ``lr`` and ``loss`` (and optionally
    ``spread``). A row with an empty ``loss`` carries only the LR. Between rows the LR is
    interpolated linearly, so a jump is two rows at consecutive steps. The run lasts until the
    last row."""
    path = Path(path)
    rows = read_rows(path, ("step", "lr", "loss"), blank=("loss",))
    steps = np.array([row["step"] for row in rows], dtype=np.int64)
    lrs = np.array([row["lr"] for row in rows])
    observed = [row for row in rows if row["loss"] is not None]
    if not observed:
        raise InvalidInput(f"{path}: no row has a loss")
    if steps[0] != 0:
        raise InvalidInput(f"{path} line 2: the LR must start at step 0 (add a row 0,LR,)")
    return make_run(path, name, np.interp(np.arange(steps[-1] + 1), steps, lrs), observed)


def write_run(run: Run, path: str | Path) -> None:
    """Write ``run`` as the CSV :func:`read_run` reads: a row for every step, the loss (and
    spread) on the observed ones. The file must not exist: a run is never written over.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "demo.csv"
    >>> write_run(Run("demo", [0.5, 1.0, 1.0], [1, 2], [3.0, 2.5], spread=[0.1, 0.1]), path)
    >>> print(path.read_text(), end="")
    step,lr,loss,spread
    0,0.5,,
    1,1.0,3.0,0.1
    2,1.0,2.5,0.1
    >>> read_run(path).losses.tolist()
    [3.0, 2.5]
    """
    refuse_database_file(path)
    observed = dict(zip(run.steps.tolist(), range(run.steps.size), strict=True))
    spread = run.spread
    lines = ["step,lr,loss" + (",spread" if spread is not None else "")]
    for step, lr in enumerate(run.lrs.tolist()):
        index = observed.get(step)
        loss = "" if index is None else repr(float(run.losses[index]))
        extra = "" if spread is None else "," + ("" if index is None else repr(float(spread[index])))
        lines.append(f"{step},{lr!r},{loss}{extra}")
    with Path(path).open("x") as handle:
        handle.write("\n".join(lines) + "\n")


def run_from_spec(
    spec: str, total_steps: int, peak: float, losses: str | Path, name: str | None = None
) -> Run:
    """A run whose LR is ``spec`` fitted to ``total_steps`` at ``peak``, with the losses of a CSV
    of ``step,loss`` (and optionally ``spread``)."""
    path = Path(losses)
    curve = schedule(spec, total_steps).lr(np.arange(total_steps), peak)
    observed = read_rows(path, ("step", "loss"), blank=())
    if observed[-1]["step"] >= total_steps:
        raise InvalidInput(
            f"{path} line {observed[-1]['line']}: step {observed[-1]['step']} lies past the "
            f"{total_steps}-step schedule"
        )
    return make_run(path, name, curve, observed)


def make_run(path: Path, name: str | None, curve: FloatArray, observed: list[dict[str, Any]]) -> Run:
    spreads = [row.get("spread") for row in observed]
    if any(value is None for value in spreads) and any(value is not None for value in spreads):
        raise InvalidInput(f"{path}: give a spread on every row with a loss, or on none")
    return Run(
        name or path.stem,
        lrs=curve,
        steps=[row["step"] for row in observed],
        losses=[row["loss"] for row in observed],
        spread=None if spreads[0] is None else np.array(spreads, dtype=np.float64),
    )


def read_rows(path: Path, columns: tuple[str, ...], blank: tuple[str, ...]) -> list[dict[str, Any]]:
    """The CSV's rows as dicts of numbers, each with its ``line``: the header holds ``columns``
    (and optionally ``spread``); a cell of ``blank`` or ``spread`` may be empty (``None``). Any bad
    cell is refused naming the file and the line."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            header = [column.strip() for column in reader.fieldnames or []]
            missing = [column for column in columns if column not in header]
            if missing:
                raise InvalidInput(
                    f"{path} line 1: the header needs {', '.join(columns)}; missing {', '.join(missing)}"
                )
            rows = [parse_row(path, index + 2, raw, columns, blank) for index, raw in enumerate(reader)]
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not a text CSV file") from None
    if not rows:
        raise InvalidInput(f"{path}: no rows after the header")
    for before, row in itertools.pairwise(rows):
        if row["step"] <= before["step"]:
            raise InvalidInput(f"{path} line {row['line']}: step {row['step']} does not increase")
    return rows


def parse_row(
    path: Path, line: int, raw: dict[str, str], columns: tuple[str, ...], blank: tuple[str, ...]
) -> dict[str, Any]:
    row: dict[str, Any] = {"line": line}
    cells = {(key or "").strip(): (value or "").strip() for key, value in raw.items() if key is not None}
    for column in (*columns, "spread"):
        text = cells.get(column, "")
        if not text and column in (*blank, "spread"):
            row[column] = None
            continue
        try:
            value = float(text)
        except ValueError:
            raise InvalidInput(f"{path} line {line}: {column} {text!r} is not a number") from None
        if not np.isfinite(value) or value < 0:
            raise InvalidInput(f"{path} line {line}: {column} must be finite and not negative, got {text}")
        if column == "step":
            if value != int(value) or value > MAX_STEPS:
                raise InvalidInput(f"{path} line {line}: step must be a whole number up to {MAX_STEPS}")
            value = int(value)
        row[column] = value
    if row.get("spread") is not None and row.get("loss") is None:
        raise InvalidInput(f"{path} line {line}: a spread needs a loss")
    if row.get("loss") == 0:
        raise InvalidInput(f"{path} line {line}: loss must be positive")
    return row
