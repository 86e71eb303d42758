"""The results database: SQLite, one row per trial keyed by the hash of what determines its result
(:meth:`TrialConfig.key`), its curve in a child table. Only the sweep's parent process writes, one
transaction per finished trial, so an interrupted sweep loses at most the trials in flight. Each
trial records the package version that ran it and the trial semantics it was made under.

Commands that only read open the file read-only (:meth:`Store.existing`) and never change it; the
file's schema and the checks made before opening it are in :mod:`budgetlr.bench.database`. Sweeps
sharing a folder claim trials before running them (:meth:`Store.claim`): a claim is a lease that
its owner renews while it lives, so a killed sweep's trials are free again once its lease expires.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import asdict, astuple, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

import budgetlr
from budgetlr.bench.curves import finite_or_none, pack_curve, unpack_curve
from budgetlr.bench.database import (
    COLUMNS,
    DB_NAME,
    INSERTED,
    LOSS_COLUMNS,
    SCHEMA,
    Trial,
    check_budgetlr_database,
    check_database_file,
    check_tables,
    database_errors,
    open_read_only,
)
from budgetlr.bench.runner import (
    TRIAL_SEMANTICS,
    CurvePoint,
    TrialConfig,
    TrialResult,
    data_fingerprint,
    trial_key,
)
from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray

DEFAULT_DIR = Path("budgetlr-results")
#: Before trial semantics were recorded, keys hashed the package version. Trials stored by these
#: versions were made under these semantics (budgetlr 0.2.0 defined semantics 1).
SEMANTICS_OF_VERSION = {"0.2.0": 1}
#: How often (0.1 s apart) a sweep tries to open a database that another is creating.
OPEN_ATTEMPTS = 300


class Store:
    """``results.db`` in folder ``out`` (created on first use), in WAL mode; ``read_only`` opens an
    existing one without ever writing to it."""

    def __init__(self, out: Path = DEFAULT_DIR, *, read_only: bool = False) -> None:
        self.path = Path(out) / DB_NAME
        self.read_only = read_only
        self.resources = ExitStack()
        if read_only:
            check_database_file(self.path, read_only=True)
            self.connection = open_read_only(self.path, self.resources)
            try:
                check_tables(self.connection, self.path, read_only=True)
            except BaseException:
                self.resources.close()  # a refused database leaves no connection or copy behind
                raise
            return
        if self.path.exists():
            check_budgetlr_database(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with database_errors(self.path):
            for attempt in itertools.count():
                try:
                    self.open_writable()
                    break
                except sqlite3.OperationalError as error:
                    # Two sweeps creating one database at once: SQLite reports the lock of the
                    # other's switch to WAL mode at once instead of waiting for it. Every step
                    # of the opening is idempotent, so it is tried again.
                    if "locked" not in str(error) or attempt >= OPEN_ATTEMPTS:
                        raise
                    time.sleep(0.1)

    def open_writable(self) -> None:
        """Connect in WAL mode, create the tables and migrate older ones; closed again on failure."""
        self.connection = sqlite3.connect(self.path, timeout=30)
        try:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            self.connection.executescript(SCHEMA)
            columns = {row[1] for row in self.connection.execute("PRAGMA table_info(trials)")}
            if "semantics" not in columns:
                self.migrate_version_keys()
            for column in ("eval_time", *LOSS_COLUMNS):
                if column not in columns:
                    self.connection.execute(f"ALTER TABLE trials ADD COLUMN {column} REAL")
        except BaseException:
            self.connection.close()
            raise

    @classmethod
    def existing(cls, out: Path) -> Store:
        """Open the database of ``out``, which must exist already, read-only."""
        if not (Path(out) / DB_NAME).is_file():
            raise InvalidInput(f"no results database in {str(out)!r}; run 'budgetlr bench --out {out}' first")
        return cls(out, read_only=True)

    def close(self) -> None:
        """Close the database. A writer first moves its write-ahead log into the database file, so
        that the file alone holds every trial (a reader that cannot write the folder then reads it
        as immutable instead of copying it with its log)."""
        if self.read_only:
            self.resources.close()  # the connection, and a private copy if one was made
            return
        try:
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass  # another sweep is busy with the database: the trials stay in the log, whole, until a sweep ends
        finally:
            self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_keys(self) -> set[str]:
        return {row[0] for row in self.connection.execute("SELECT key FROM trials")}

    def claim(
        self, keys: Iterable[str], owner: str, lease_seconds: float, limit: int | None = None
    ) -> list[str]:
        """Claim for ``owner`` the first ``limit`` (default: all) of ``keys`` that are neither
        stored nor claimed by a live owner (expired claims, and those of a process of this machine
        that is gone, are taken over), in one transaction; returns the keys claimed. Owners are
        named ``host:pid:...``."""
        now = time.time()
        with database_errors(self.path):
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                taken = self.done_keys() | {
                    key
                    for key, other in self.connection.execute(
                        "SELECT key, owner FROM claims WHERE expires >= ? AND owner != ?", (now, owner)
                    )
                    if is_alive(other)
                }
                mine = [k for k in dict.fromkeys(keys) if k not in taken][:limit]
                self.connection.executemany(
                    "INSERT OR REPLACE INTO claims (key, owner, expires) VALUES (?, ?, ?)",
                    [(k, owner, now + lease_seconds) for k in mine],
                )
                self.connection.execute("COMMIT")
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
        return mine

    def renew(self, owner: str, lease_seconds: float) -> None:
        """Extend every claim of ``owner``: it is alive."""
        with database_errors(self.path), self.connection:
            self.connection.execute(
                "UPDATE claims SET expires = ? WHERE owner = ?", (time.time() + lease_seconds, owner)
            )

    def release(self, owner: str) -> None:
        """Drop every claim of ``owner`` (its sweep ended; unfinished trials are free again)."""
        with database_errors(self.path), self.connection:
            self.connection.execute("DELETE FROM claims WHERE owner = ?", (owner,))

    def save(self, result: TrialResult, metric: str, higher_is_better: bool) -> None:
        """Store a finished trial and its curve in one transaction, releasing its claim; a stored
        key is kept as is."""
        with database_errors(self.path):
            self.insert(result, metric, higher_is_better)

    def insert(self, result: TrialResult, metric: str, higher_is_better: bool) -> None:
        c = result.config
        with self.connection:
            self.connection.execute("DELETE FROM claims WHERE key = ?", (c.key(),))
            inserted = self.connection.execute(
                f"INSERT OR IGNORE INTO trials ({', '.join(INSERTED)}) VALUES ({', '.join('?' * len(INSERTED))})",
                stored_row(result, metric, higher_is_better),
            ).rowcount
            if inserted:
                self.connection.execute(
                    "INSERT INTO series (key, points) VALUES (?, ?)", (c.key(), pack_curve(result.curve))
                )
                self.connection.executemany(
                    "INSERT INTO grad_norms (key, kind, norms) VALUES (?, ?, ?)",
                    [
                        (c.key(), kind, np.asarray(v, dtype="<f4").tobytes())
                        for kind, v in result.grad_norms.items()
                    ],
                )
                if result.notes:
                    self.connection.execute(
                        "INSERT INTO notes (key, notes) VALUES (?, ?)", (c.key(), json.dumps(result.notes))
                    )

    def migrate_version_keys(self) -> None:
        """Re-key a database whose keys hashed the package version (budgetlr <= 0.2.0). Trials of
        the versions in :data:`SEMANTICS_OF_VERSION` get today's key; the others, and those whose
        workload no longer resolves, keep their old key under semantics 0: never reused."""
        rows = list(
            self.connection.execute("SELECT key, version, workload, schedule, budget, lr, seed FROM trials")
        )
        self.connection.execute(
            "PRAGMA foreign_keys=OFF"
        )  # a parent's and its children's keys change together
        with self.connection:
            self.connection.execute("BEGIN")
            self.connection.execute("ALTER TABLE trials ADD COLUMN semantics INTEGER NOT NULL DEFAULT 0")
            for old, version, *config in rows:
                semantics, key = 0, old
                if version in SEMANTICS_OF_VERSION:
                    try:
                        fingerprint = data_fingerprint(config[0])
                        semantics = SEMANTICS_OF_VERSION[version]
                        key = trial_key(TrialConfig(*config), fingerprint, semantics)
                    except ValueError:  # its workload no longer resolves
                        pass
                for table in ("trials", "curves", "grad_norms", "notes"):
                    self.connection.execute(f"UPDATE {table} SET key = ? WHERE key = ?", (key, old))
                self.connection.execute("UPDATE trials SET semantics = ? WHERE key = ?", (semantics, key))
        self.connection.execute("PRAGMA foreign_keys=ON")

    def not_reused(self, configs: Iterable[TrialConfig]) -> Counter[int | None]:
        """Of ``configs`` not stored under their key, how many are stored under another one: by
        the trial semantics they were made under, or None where only the workload's data differ."""
        stored: dict[tuple[Any, ...], list[tuple[str, int]]] = {}
        for key, semantics, *config in self.connection.execute(
            "SELECT key, semantics, workload, schedule, budget, lr, seed FROM trials"
        ):
            stored.setdefault(tuple(config), []).append((key, semantics))
        counts: Counter[int | None] = Counter()
        for config in configs:
            matches = stored.get(astuple(config), [])
            if matches and config.key() not in {key for key, _ in matches}:
                semantics = {s for _, s in matches} - {TRIAL_SEMANTICS}
                counts[max(semantics) if semantics else None] += 1
        return counts

    def grad_norms(self, key: str, kind: str) -> FloatArray | None:
        """The per-step gradient norms (``"l2"`` or ``"l1"``) a trial recorded, or None."""
        row = self.connection.execute(
            "SELECT norms FROM grad_norms WHERE key = ? AND kind = ?", (key, kind)
        ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype="<f4").astype(np.float64)

    def notes(self, key: str) -> dict[str, Any]:
        """What a trial's method measured to set itself up (empty for plain schedules)."""
        row = self.connection.execute("SELECT notes FROM notes WHERE key = ?", (key,)).fetchone()
        return {} if row is None else json.loads(row[0])

    def find(self, prefix: str) -> Trial:
        """The one stored trial whose key starts with ``prefix``."""
        matches = [t for t in self.trials() if t.key.startswith(prefix)] if prefix else []
        if len(matches) != 1:
            found = "no stored trial" if not matches else f"{len(matches)} stored trials"
            raise InvalidInput(
                f"{found} has a key starting with {prefix!r}; 'budgetlr export' lists the keys"
            )
        return matches[0]

    def trials(self) -> list[Trial]:
        present = {row[1] for row in self.connection.execute("PRAGMA table_info(trials)")}
        selected = (c if c in present else f"NULL AS {c}" for c in COLUMNS)
        rows = self.connection.execute(
            f"SELECT {', '.join(selected)} FROM trials ORDER BY workload, schedule, budget, lr, seed"
        )
        return [to_trial(row) for row in rows]

    def trials_by_key(self, keys: list[str]) -> dict[str, Trial]:
        return {t.key: t for t in self.trials() if t.key in set(keys)}

    @cached_property
    def has_series(self) -> bool:
        """Whether the database has the ``series`` table (a database made before trial semantics 3
        and opened read-only has not); asked once, not for each of thousands of curves."""
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'series'"
        return self.connection.execute(query).fetchone() is not None

    def curve(self, key: str) -> list[CurvePoint]:
        """The curve of one trial, by step (a trial stored before trial semantics 3 has one row per
        point in the ``curves`` table, and no validation loss)."""
        if self.has_series:
            row = self.connection.execute("SELECT points FROM series WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return unpack_curve(row[0])
        rows = self.connection.execute(
            "SELECT step, train_loss, val_metric, lr FROM curves WHERE key = ? ORDER BY step", (key,)
        )
        return [CurvePoint(*row) for row in rows]

    def export_csv(self, path: Path) -> int:
        """Write every trial as a CSV row (one header line); returns the number of trials."""
        trials = self.trials()
        with Path(path).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(trial_row(t) for t in trials)
        return len(trials)


def stored_row(result: TrialResult, metric: str, higher_is_better: bool) -> list[object]:
    """The :data:`~budgetlr.bench.database.INSERTED` columns of ``result``: its configuration,
    identity and what it measured, by the names :class:`Trial` and :class:`TrialResult` share."""
    config = result.config
    values: dict[str, object] = {
        **asdict(config),
        **{name: getattr(result, name) for name in MEASURED},
        "key": config.key(),
        "version": budgetlr.__version__,
        "semantics": TRIAL_SEMANTICS,
        "metric": metric,
        "higher_is_better": int(higher_is_better),
    }
    for name in LOSS_COLUMNS:
        values[name] = finite_or_none(getattr(result, name))
    return [values[name] for name in INSERTED]


#: What a trial measured: the fields of :class:`TrialResult` that are columns of :class:`Trial`.
MEASURED = tuple(f.name for f in fields(TrialResult) if f.name in COLUMNS)


def to_trial(row: Iterable[Any]) -> Trial:
    values = dict(zip(COLUMNS, row, strict=True))
    return Trial(**{**values, "higher_is_better": bool(values["higher_is_better"])})


def is_alive(owner: str) -> bool:
    """False if ``owner`` (``host:pid:...``) names a process of this machine that has ended; an
    owner on another machine counts as alive until its lease expires."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def trial_row(trial: Trial) -> Iterable[object]:
    return (getattr(trial, column) for column in COLUMNS)


__all__ = ["DB_NAME", "DEFAULT_DIR", "Store", "Trial", "TrialConfig"]
