"""A consistent copy of a results database, which another process may be writing, without the
tables named (their rows deleted): the copies committed next to a study's page.

    python benchmarks/copy_database.py SOURCE TARGET [TABLE ...]
"""

from __future__ import annotations

import os
import sqlite3
import sys


def copy_database(source: str, target: str, drop: list[str]) -> None:
    partial = target + ".tmp"
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as db:
        db.execute("VACUUM INTO ?", (partial,))
    db = sqlite3.connect(partial)
    with db:
        for table in drop:
            db.execute(f"DELETE FROM {table}")
    db.execute("VACUUM")
    db.close()
    os.replace(partial, target)


if __name__ == "__main__":
    copy_database(sys.argv[1], sys.argv[2], sys.argv[3:])
