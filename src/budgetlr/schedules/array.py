from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, Schedule, interpolate
from budgetlr.schedules.registry import register

if TYPE_CHECKING:
    from budgetlr.schedules.refined import Refined

#: The largest file a schedule reads (64 MiB: 8 million float64 values), and the hash's length.
MAX_FILE_BYTES = 64 * 2**20
HASH_CHARS = 16


@register
@dataclass(frozen=True)
class Array(Schedule):
    """A recorded curve replayed: ``values[k]`` is the multiplier of step ``k`` of an ``n``-step run.

    The values come from ``values=[...]`` or ``file=PATH`` (``.npy``, or text with one number per
    line or comma-separated), e.g. the schedule that ``budgetlr pbt`` discovered or the one
    ``budgetlr refine`` derived. Step ``t`` of a ``T``-step run takes the value at the same progress
    ``t / T``, interpolated linearly, so at ``T = n`` the recorded steps replay exactly; ``lr(T)``
    holds the last value. A file's content hash becomes the spec's ``sha256`` key, so a trial
    keyed by the spec changes when the file does, and a spec naming a hash refuses another content.

    >>> from budgetlr import schedule
    >>> replay = schedule("array(values=[0.2, 1.0, 0.9, 0.5, 0.1])", 5)
    >>> replay.curve().tolist()
    [0.2, 1.0, 0.9, 0.5, 0.1, 0.1]
    """

    name = "array"
    paper = ""

    values: tuple[float, ...] | None = None
    file: str | None = None
    sha256: str | None = None
    curve: FloatArray = field(init=False, repr=False, compare=False)

    def check(self) -> None:
        if (self.values is None) == (self.file is None):
            raise InvalidInput("array needs exactly one of values=[...] or file=PATH")
        values = np.asarray(inline_or_file(self, self.values, "multipliers"))
        if values.ndim != 1 or values.size == 0 or not ((values >= 0).all() and (values <= 1).all()):
            raise InvalidInput("array needs one or more multipliers of the peak LR, all in [0, 1]")
        object.__setattr__(self, "curve", values.astype(np.float64))

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        # Step k of the recording sits at progress k / n: index (t - W) n / (T - W), exact at T = n.
        return interpolate((t - warmup_steps) * self.curve.size / (total_steps - warmup_steps), self.curve)

    def is_monotone(self) -> bool:
        return bool((np.diff(self.curve) <= 0).all())

    def ends_at_floor(self) -> bool:
        return bool(self.curve[-1] == 0.0)

    def peaks_at_warmup_end(self) -> bool:
        return False


def inline_or_file(spec: Array | Refined, inline: tuple[float, ...] | None, what: str) -> FloatArray:
    """``inline``, or the numbers of ``spec.file`` checked against ``spec.sha256`` if it names one,
    which is then set to the content's hash."""
    if spec.file is None:
        if spec.sha256 is not None:
            raise InvalidInput(f"sha256 goes with file=PATH, not with inline {what}")
        return np.asarray(inline, dtype=np.float64)
    data = read_bounded(spec.file, what)
    digest = hashlib.sha256(data).hexdigest()[:HASH_CHARS]
    if spec.sha256 is not None and spec.sha256 != digest:
        raise InvalidInput(
            f"file={spec.file!r} changed: its content hash is {digest}, the spec names sha256={spec.sha256}"
        )
    object.__setattr__(spec, "sha256", digest)
    return parse_numbers(data, spec.file, what)


def read_bounded(path: str, what: str) -> bytes:
    """The bytes of regular file ``path``, at most ``MAX_FILE_BYTES`` of them (no device, no pipe)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InvalidInput(f"cannot read {what} from file={path!r}: not a regular file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise InvalidInput(f"cannot read {what} from file={path!r}: {error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"cannot read {what} from file={path!r}: larger than {MAX_FILE_BYTES} bytes")
    return data


def parse_numbers(data: bytes, path: str, what: str) -> FloatArray:
    """``.npy`` bytes, or text with one number per line or comma-separated."""
    try:
        if path.endswith(".npy"):
            return np.asarray(np.load(io.BytesIO(data), allow_pickle=False), dtype=np.float64)
        return np.array([float(v) for v in data.decode().replace(",", " ").split()])
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read {what} from file={path!r}: {error}") from None
