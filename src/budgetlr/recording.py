"""Recording a training run as the CSV ``budgetlr plan fit`` reads: ``step,lr,loss``, one row per
optimizer step, the loss empty where the loop gave none.

The row of step ``t`` holds the LR the optimizer used at step ``t`` and the training loss the
loop computed in that step, as trainers log it. Rows are kept in memory and appended to the file
every ``every`` steps, each time as whole lines in one write, so a run killed at any moment leaves
a file that reads up to its last write. A loss may be a float or a tensor. A tensor on a
device (a GPU) is held and read once per write, all held losses in one transfer, so set ``every``
to the loop's logging interval and the recorder adds no device synchronisation of its own. A CPU
tensor is read at once: there is no device to wait for. (This module never imports torch: a
tensor is recognised by its ``detach`` method.)

Resuming: the recorder's first row decides what it keeps. The file's rows before that step stay
(a run resumed from a checkpoint at step ``k`` keeps steps ``0..k-1`` and replaces the rest, which
the resumed run repeats); a run that starts at step 0 replaces the whole file. A file that is not
such a recording is never written over.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.csv"
>>> recorder = RunRecorder(path, every=2)
>>> for step in range(3):
...     recorder.record(step, lr=0.1 * (step + 1), loss=2.0 - step / 10 if step != 1 else None)
>>> recorder.close()
>>> print(path.read_text(), end="")
step,lr,loss
0,0.1,2.0
1,0.2,
2,0.30000000000000004,1.8
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any, TextIO

from budgetlr.errors import InvalidInput
from budgetlr.files import refuse_database_file

HEADER = "step,lr,loss"
#: Rows kept in memory between writes, by default.
EVERY = 50


class RunRecorder:
    """Appends ``step,lr,loss`` rows to ``path`` every ``every`` steps (and at :meth:`flush`,
    :meth:`close` and the end of the process)."""

    def __init__(self, path: str | os.PathLike[str], every: int = EVERY) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise InvalidInput(f"every must be a whole number of steps >= 1, got {every!r}")
        self.path = Path(path)
        if self.path.is_dir():
            raise InvalidInput(f"{self.path} is a folder: record to a file")
        if not self.path.parent.is_dir():
            raise InvalidInput(f"{self.path.parent} is not a folder")
        self.every = every
        self.last_step = -1
        self._file: TextIO | None = None
        self._rows: list[tuple[int, float, Any]] = []

    def record(self, step: int, lr: float, loss: Any = None) -> None:
        """The LR of optimizer step ``step`` and, if the loop has it, that step's loss (a float
        or a tensor of one element)."""
        if self._file is None:
            keep_rows_before(self.path, step)
            self._file = self.path.open("a")
            # Rows still held when the process ends are written then.
            weakref.finalize(self, write_rows, self._file, self._rows, True)
        elif step <= self.last_step:
            raise InvalidInput(f"recorded step {step} after step {self.last_step}: steps must increase")
        self.last_step = step
        if hasattr(loss, "detach"):
            if loss.numel() != 1:
                raise InvalidInput(
                    f"a recorded loss must be one number, got a tensor of shape {tuple(loss.shape)}"
                )
            # A CPU tensor's value is there already (tolist reads it without autograd's warning,
            # faster than detach().item()); a device's waits for the next write.
            loss = one_number(loss.tolist()) if loss.is_cpu else loss.detach()
        self._rows.append((step, float(lr), loss))
        if len(self._rows) >= self.every:
            write_rows(self._file, self._rows)

    def flush(self) -> None:
        """Write the rows held in memory."""
        if self._file is not None:
            write_rows(self._file, self._rows)

    def close(self) -> None:
        """Write the rows held in memory and close the file; a later :meth:`record` reopens it."""
        if self._file is not None:
            write_rows(self._file, self._rows, close=True)
            self._file = None


def one_number(value: Any) -> float:
    """The number inside a one-element tensor's ``tolist()`` (nested lists for shapes like (1, 1))."""
    while isinstance(value, list):
        value = value[0]
    return float(value)


def write_rows(file: TextIO, rows: list[tuple[int, float, Any]], close: bool = False) -> None:
    """Append ``rows`` to ``file`` as whole lines in one write, and empty the list."""
    if rows and not file.closed:
        losses = loss_values([loss for _, _, loss in rows])
        file.write(
            "".join(
                f"{step},{lr!r},{'' if loss is None else repr(loss)}\n"
                for (step, lr, _), loss in zip(rows, losses, strict=True)
            )
        )
        file.flush()
    rows.clear()
    if close:
        file.close()


def loss_values(losses: list[Any]) -> list[float | None]:
    """The losses as floats; the tensors among them read in one transfer."""
    tensors = [loss for loss in losses if hasattr(loss, "detach")]
    if not tensors:
        return [None if loss is None else float(loss) for loss in losses]
    import torch  # only reached with tensors, so torch is there

    try:
        values = iter(torch.stack(tensors).reshape(-1).tolist())
    except RuntimeError:  # losses of different shapes or devices
        values = iter(torch.stack([tensor.reshape(()).float().cpu() for tensor in tensors]).tolist())
    return [
        None if loss is None else next(values) if hasattr(loss, "detach") else float(loss) for loss in losses
    ]


def keep_rows_before(path: Path, step: int) -> None:
    """Make ``path`` a recording holding only its rows before ``step`` (a new file holding the
    header when there is none); refuse to touch a file that is not a recording."""
    refuse_database_file(path)
    if not path.exists() or path.stat().st_size == 0:
        path.write_text(HEADER + "\n")
        return
    try:
        lines = path.read_text().splitlines(keepends=True)
    except (UnicodeDecodeError, OSError) as error:
        raise InvalidInput(f"{path} exists and is not a run budgetlr recorded ({error})") from None
    if not lines or lines[0].strip() != HEADER:
        raise InvalidInput(
            f"{path} exists and is not a run budgetlr recorded (its first line is not {HEADER}): "
            "record to another file"
        )
    kept = [lines[0]]
    for line in lines[1:]:
        if (
            not line.endswith("\n")
            or not line.split(",", 1)[0].isdigit()
            or int(line.split(",", 1)[0]) >= step
        ):
            break  # a line cut short by a killed run, or the first step the resumed run repeats
        kept.append(line)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text("".join(kept))
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
