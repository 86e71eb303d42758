"""Rules for the files budgetlr writes, shared by the library and the application."""

from __future__ import annotations

from pathlib import Path

from budgetlr.errors import InvalidInput

SQLITE_HEADER = b"SQLite format 3\x00"
#: How SQLite's write-ahead logs (either byte order of their checksums) and rollback journals
#: start, so that a log is recognised under any name (a hard link, a copy).
SIDE_FILE_HEADERS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83", b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7")
#: The files SQLite keeps beside a database: its write-ahead log, the log's index, and its
#: rollback journal. Until a checkpoint, a database's latest trials live in its ``-wal`` alone.
SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")


def is_sqlite(path: Path) -> bool:
    """True if ``path`` is a file that starts as every SQLite database does: budgetlr never writes
    over one (a results database holds trials that took hours)."""
    return starts_with(path, (SQLITE_HEADER,))


def starts_with(path: Path, headers: tuple[bytes, ...]) -> bool:
    """True if ``path`` is a readable file that starts with one of ``headers``."""
    try:
        with Path(path).open("rb") as handle:
            start = handle.read(max(map(len, headers)))
    except OSError:
        return False
    return any(start.startswith(header) for header in headers)


def database_of(path: str | Path) -> Path | None:
    """The SQLite database that ``path`` is part of, whatever path (relative, ``..``, a symlink)
    leads to it: a database itself, one whose log or journal is beside it (its content may be
    there alone), a database's side file (``-wal``, ``-shm``, ``-journal``), or a file that starts
    as a log or a journal does (a hard link to one). None otherwise.

    >>> import sqlite3, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> sqlite3.connect(folder / "results.db").execute("CREATE TABLE t (x)").connection.close()
    >>> database_of(folder / "results.db-wal") == (folder / "results.db").resolve()
    True
    >>> database_of(folder / "notes.csv") is None
    True
    """
    resolved = Path(path).resolve()
    if is_sqlite(resolved) or any(resolved.with_name(resolved.name + s).exists() for s in SIDE_FILE_SUFFIXES):
        return resolved
    for suffix in SIDE_FILE_SUFFIXES:
        if resolved.name.endswith(suffix):
            base = resolved.with_name(resolved.name.removesuffix(suffix))
            if base.exists() or resolved.exists():
                return base
    if starts_with(resolved, SIDE_FILE_HEADERS):  # a log or journal under another name
        return resolved
    return None


def refuse_database_file(path: str | Path) -> None:
    """Raise :class:`InvalidInput` if writing ``path`` would write over part of a database."""
    database = database_of(path)
    if database is None:
        return
    if database == Path(path).resolve():
        kind = "log or journal" if starts_with(database, SIDE_FILE_HEADERS) else "database"
        raise InvalidInput(f"refusing to write over {path}: it is a SQLite {kind}")
    raise InvalidInput(f"refusing to write over {path}: it belongs to the SQLite database {database}")
