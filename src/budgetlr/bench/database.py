"""The results database's file: its schema, and opening it safely.

A file that is not budgetlr's (another program's SQLite, junk bytes, an empty file for a reader)
is refused before anything is written to it. A reader opens the database read-only and sees
every stored trial: where it cannot write the folder, and so SQLite cannot read the write-ahead
log in place, it reads a private copy of the database and its log.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Literal

from budgetlr.errors import InvalidInput
from budgetlr.files import is_sqlite

DB_NAME = "results.db"

#: A trial's outcome: "ok", or "diverged" (its loss not finite or far above its first).
Status = Literal["ok", "diverged"]


@dataclass(frozen=True)
class Trial:
    """A stored trial, a row of the ``trials`` table: the one definition its columns, their SQL
    types (:data:`SCHEMA`) and every query's column list (:data:`COLUMNS`) are derived from."""

    key: str = field(metadata={"sql": "PRIMARY KEY"})
    version: str
    semantics: int
    workload: str
    schedule: str
    budget: float
    lr: float
    seed: int
    steps: int
    status: Status
    metric: str
    higher_is_better: bool
    val_metric: float | None
    test_metric: float | None
    wall_time: float
    #: steps per second of training, evaluation excluded (before eval_time was recorded: included)
    steps_per_second: float
    finished_at: str = field(metadata={"sql": "DEFAULT (datetime('now'))"})
    #: seconds spent evaluating (None for trials stored before it was recorded)
    eval_time: float | None = None
    #: held-out losses and the test loss's standard error (None before trial semantics 2, for
    #: diverged trials and for workloads that define no loss)
    val_loss: float | None = None
    test_loss: float | None = None
    test_loss_se: float | None = None


SQL_TYPES = {"str": "TEXT", "Status": "TEXT", "int": "INTEGER", "bool": "INTEGER", "float": "REAL"}


def column_definition(column: Field[object]) -> str:
    kind, *rest = str(column.type).split(" | ")
    nullable = "None" in rest
    parts = [
        column.name,
        SQL_TYPES[kind],
        *([] if nullable else ["NOT NULL"]),
        column.metadata.get("sql", ""),
    ]
    return " ".join(part for part in parts if part)


COLUMNS = tuple(column.name for column in fields(Trial))
#: What a trial's insert writes: every column but those SQLite fills in.
INSERTED = tuple(column.name for column in fields(Trial) if "DEFAULT" not in column.metadata.get("sql", ""))
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS trials (\n    "
    + ",\n    ".join(column_definition(column) for column in fields(Trial))
    + "\n);\n"
    + """CREATE TABLE IF NOT EXISTS curves (
    key TEXT NOT NULL REFERENCES trials(key) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    train_loss REAL,
    val_metric REAL,
    lr REAL NOT NULL,
    PRIMARY KEY (key, step)
);
CREATE TABLE IF NOT EXISTS series (
    key TEXT PRIMARY KEY REFERENCES trials(key) ON DELETE CASCADE,
    points BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS grad_norms (
    key TEXT NOT NULL REFERENCES trials(key) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    norms BLOB NOT NULL,
    PRIMARY KEY (key, kind)
);
CREATE TABLE IF NOT EXISTS notes (
    key TEXT PRIMARY KEY REFERENCES trials(key) ON DELETE CASCADE,
    notes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);
"""
)

#: Columns added since, each by ``ALTER TABLE`` when a sweep opens an older database; read as
#: empty from an older database opened read-only.
LOSS_COLUMNS = ("val_loss", "test_loss", "test_loss_se")
#: The columns of budgetlr 0.2.0's trials table, which every budgetlr database has (older ones are
#: migrated when a sweep opens them).
LEGACY_COLUMNS = set(COLUMNS) - {"semantics", "eval_time", *LOSS_COLUMNS}


@contextmanager
def database_errors(path: Path) -> Iterator[None]:
    """SQLite's errors as the project's: a file it cannot read as a database is bad input; one it
    cannot write (read-only file system, disk full, locked) is an operating-system error."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        if isinstance(error, sqlite3.OperationalError):
            raise OSError(f"cannot use the results database {path}: {error}") from None
        raise InvalidInput(f"{path} is not a budgetlr results database: {error}") from None


def check_budgetlr_database(path: Path) -> None:
    """Refuse ``path`` unless it is empty or a SQLite file whose tables are budgetlr's; reads only."""
    check_database_file(path)
    if path.exists() and (path.stat().st_size > 0 or has_pending_log(path)):
        with ExitStack() as resources:
            check_tables(open_read_only(path, resources), path)


def check_database_file(path: Path, read_only: bool = False) -> None:
    """Refuse a ``path`` that is not a file or not SQLite's; a reader also refuses one that holds
    nothing (absent, or empty with no log beside it)."""
    if path.exists() and not path.is_file():
        raise InvalidInput(f"{path} is not a file")
    empty = not path.exists() or path.stat().st_size == 0
    if empty and read_only and not has_pending_log(path):
        raise InvalidInput(
            f"{path} is an empty file, not a results database: 'budgetlr bench --out {path.parent}' stores trials there"
        )
    if not empty and not is_sqlite(path):
        raise InvalidInput(f"{path} is not a budgetlr results database (not a SQLite file)")


def check_tables(connection: sqlite3.Connection, path: Path, read_only: bool = False) -> None:
    """Refuse a database that is corrupt or another program's; a reader also refuses one without
    trials, or one that an older budgetlr wrote."""
    with database_errors(path):
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        columns = {row[1] for row in connection.execute("PRAGMA table_info(trials)")}
        health = connection.execute("PRAGMA quick_check(1)").fetchone()[0]
    if health != "ok":
        raise InvalidInput(f"{path} is a corrupt SQLite database ({health})")
    if tables and not columns >= LEGACY_COLUMNS:
        raise InvalidInput(
            f"{path} is another program's SQLite database (tables: {', '.join(sorted(tables))}); "
            "budgetlr leaves it alone"
        )
    if read_only and not tables:
        raise InvalidInput(
            f"{path} holds no trials yet (a database without tables): 'budgetlr bench --out {path.parent}' stores some"
        )
    if read_only and not set(COLUMNS) - set(LOSS_COLUMNS) <= columns:
        raise InvalidInput(
            f"{path} was written by an older budgetlr; 'budgetlr bench --out {path.parent}' upgrades it in place"
        )


def has_pending_log(path: Path) -> bool:
    """True if ``path``'s write-ahead log holds anything: trials not yet in the database file."""
    log = Path(f"{path}-wal")
    return log.is_file() and log.stat().st_size > 0


def open_read_only(path: Path, resources: ExitStack) -> sqlite3.Connection:
    """A connection that cannot change ``path`` and sees every trial stored there.

    SQLite reads a database's write-ahead log through a shared-memory file beside it, which it
    cannot make in a folder this process may not write (a shared results folder). There, a
    database with an empty log is read as immutable, and one whose log holds trials (a killed
    sweep's) is read from a private copy of the two files, made in a temporary folder that
    ``resources`` removes.
    """
    absolute = Path(path).resolve()
    uri = f"{absolute.as_uri()}?mode=ro"
    if not os.access(absolute.parent, os.W_OK):
        if has_pending_log(absolute):
            absolute = private_copy(absolute, resources)
            uri = f"{absolute.as_uri()}?mode=ro"
        else:
            uri += "&immutable=1"
    with database_errors(path):
        connection = sqlite3.connect(uri, uri=True, timeout=30)
    resources.callback(connection.close)
    return connection


def private_copy(database: Path, resources: ExitStack) -> Path:
    """``database`` and its write-ahead log copied into a temporary folder that ``resources``
    removes; one line saying why and what to do when they cannot be read."""
    folder = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="budgetlr-read-")))
    try:
        for source in (database, Path(f"{database}-wal")):
            shutil.copyfile(source, folder / source.name.replace(database.name, DB_NAME))
    except OSError as error:
        raise InvalidInput(
            f"cannot read the trials in the write-ahead log beside {database} ({error.strerror or error}) from "
            f"this read-only folder: ask its owner to rerun the sweep there, which moves them into the database when "
            "it ends, or copy the folder somewhere you can write"
        ) from None
    return folder / DB_NAME
