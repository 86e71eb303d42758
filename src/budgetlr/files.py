"""Rules for the files budgetlr writes, shared by the library and the application."""

from __future__ import annotations

from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite(path: Path) -> bool:
    """True if ``path`` is a file that starts as every SQLite database does: budgetlr never writes
    over one (a results database holds trials that took hours)."""
    try:
        with Path(path).open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False
