"""The results database is never lost or changed by accident: read-only commands open it
read-only, foreign or broken files are refused in one line, sweeps claim their trials."""

import hashlib
import json
import socket
import sqlite3
from pathlib import Path

import pytest

import budgetlr.bench.store
from budgetlr.bench.store import Store
from budgetlr.cli import main
from budgetlr.study.analysis import cells
from budgetlr.study.recommend import recommend
from tests.helpers import store_synthetic_trials

COMMITTED = Path(__file__).parents[2] / "docs" / "results" / "results.db"


@pytest.fixture
def database(tmp_path):
    out = tmp_path / "r"
    store_synthetic_trials(out)
    return out


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--out", "{out}", "{out}/results.db"],
        ["results", "--out", "{out}", "--write", "{out}/results.db"],
    ],
)
def test_no_command_writes_over_a_results_database(database, args, capsys):
    before = sha(database / "results.db")
    assert main([a.format(out=database) for a in args]) == 2
    assert "refusing to write over" in capsys.readouterr().err
    assert sha(database / "results.db") == before
    with Store.existing(database) as store:
        assert len(store.trials()) == 8


def test_read_only_commands_change_neither_the_file_nor_its_journal_mode(tmp_path, capsys):
    out = tmp_path / "old"
    out.mkdir()
    # a database as an earlier budgetlr left it: rollback journal, no claims table
    with sqlite3.connect(out / "results.db") as connection:
        connection.executescript(budgetlr.bench.store.SCHEMA.split("CREATE TABLE IF NOT EXISTS claims")[0])
    store_synthetic_trials(out)  # writes through WAL: make it a rollback-journal file again
    with sqlite3.connect(out / "results.db") as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("DROP TABLE claims")
    before = sha(out / "results.db")
    for args in (["report"], ["export", str(tmp_path / "t.csv")], ["recommend", "--budget-fraction", "0.05"],
                 ["results", "--write", str(tmp_path / "page.md")], ["refine", "--trial", ""]):  # fmt: skip
        main([*args, "--out", str(out)])
    capsys.readouterr()
    assert sha(out / "results.db") == before
    with sqlite3.connect(f"file:{out / 'results.db'}?mode=ro", uri=True) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert "claims" not in {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01junk" * 500, "is not a budgetlr results database (not a SQLite file)"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "is not a budgetlr results database"),
        (None, "is another program's SQLite database (tables: accounts); budgetlr leaves it alone"),
    ],
)
@pytest.mark.parametrize("command", ["report", "export", "recommend", "results", "refine", "bench"])
def test_a_foreign_or_broken_file_is_refused_in_one_line_and_left_alone(
    tmp_path, content, message, command, capsys
):
    path = tmp_path / "results.db"
    if content is None:
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE accounts (id INTEGER, balance REAL)")
    else:
        path.write_bytes(content)
    before = sha(path)
    extra = {"export": [str(tmp_path / "t.csv")], "recommend": ["--budget-fraction", "0.5"],
             "results": ["--write", str(tmp_path / "p.md")], "refine": ["--trial", "ab"],
             "bench": ["--workload", "quadratic", "--schedules", "cosine", "--budgets", "0.05", "--lrs", "0.1",
                       "--seeds", "0"]}.get(command, [])  # fmt: skip
    assert main([command, "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert sha(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["results.db"]


def test_on_a_read_only_file_system_the_database_is_read_as_immutable(database, monkeypatch):
    # Root writes anywhere, so the read-only file system is what os.access reports.
    monkeypatch.setattr(budgetlr.bench.store.os, "access", lambda path, mode: False)
    opened = []
    connect = sqlite3.connect
    monkeypatch.setattr(
        budgetlr.bench.store.sqlite3,
        "connect",
        lambda target, **kw: opened.append(target) or connect(target, **kw),
    )
    before = sha(database / "results.db")
    with Store.existing(database) as store:
        assert len(store.trials()) == 8
    assert opened and all(uri.endswith("?mode=ro&immutable=1") for uri in opened)
    assert sha(database / "results.db") == before


def test_recommend_names_the_cells_whose_every_lr_diverged(database):
    with Store.existing(database) as store:
        diverged = [t for t in store.trials() if t.status == "diverged"]
    with pytest.raises(ValueError, match=r"at budget 0.05 a workload has no finished trial \(every peak LR "
                       r"diverged\) in: quadratic cosine, quadratic linear"):  # fmt: skip
        recommend(cells(diverged), 0.05)


def test_a_report_shows_the_budget_in_planned_steps_when_every_trial_diverged(database, capsys):
    with Store(database) as store:
        store.connection.execute("DELETE FROM trials WHERE status = 'ok'")
        store.connection.commit()
    assert main(["report", "--out", str(database)]) == 0
    assert capsys.readouterr().err == ""  # no matplotlib warning about empty legends either
    report = (database / "report.md").read_text()
    assert "| 0.05 (100 steps) | diverged | diverged |" in report  # 0.05 x quadratic's 2000 steps
    assert main(["recommend", "--budget-fraction", "0.05", "--out", str(database)]) == 2
    assert "quadratic cosine, quadratic linear" in capsys.readouterr().err
    assert main(["results", "--out", str(database), "--write", str(database / "page.md")]) == 0


def test_claims_are_exclusive_until_their_lease_expires_and_a_stored_trial_frees_its_claim(database):
    with Store(database) as store:
        assert store.claim(["a", "b"], "one", 60) == ["a", "b"]
        assert store.claim(["a", "b", "c"], "two", 60) == ["c"]
        assert store.claim(["a"], "one", 60) == ["a"]  # an owner may renew its own
        store.release("two")
        assert store.claim(["c"], "three", -1) == ["c"]  # a lease that has already expired...
        assert store.claim(["c"], "four", 60) == ["c"]  # ...is taken over
        assert store.claim(["e"], "other-host:1:x", 60) == ["e"]
        assert store.claim(["e"], "six", 60) == []  # another machine's live claim is respected...
        assert store.claim(["f"], f"{socket.gethostname()}:999999999:x", 60) == ["f"]
        assert store.claim(["f"], "seven", 60) == ["f"]  # ...one of a process here that is gone is not
        stored = store.trials()[0].key
        assert store.claim([stored, "d"], "five", 60) == ["d"]  # stored trials are never claimed
        assert store.claim(["g", "d", "h", "i"], "eight", 60, limit=2) == ["g", "h"]  # a few at a time
        assert store.claim(["g", "h", "i"], "nine", 60, limit=2) == ["i"]


def test_no_stored_spec_names_an_absolute_path():
    with sqlite3.connect(f"file:{COMMITTED}?mode=ro", uri=True) as connection:
        specs = [row[0] for row in connection.execute("SELECT DISTINCT schedule FROM trials")]
        notes = [json.loads(row[0]) for row in connection.execute("SELECT notes FROM notes")]
    assert not [s for s in specs if "file=/" in s or "file=~" in s]
    assert not [n for n in notes if any(str(v).startswith("/") for v in n.values())]


def test_a_full_disk_is_one_error_and_keeps_the_stored_trials(database):
    from budgetlr.bench.runner import TrialConfig, TrialResult

    with Store(database) as store:
        pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
        store.connection.execute(f"PRAGMA max_page_count = {pages}")  # what a full disk looks like to SQLite
        big = TrialResult(TrialConfig("quadratic", "rex", 0.05, 0.1, 0), 100, "ok", 0.5, 0.5, 1.0, 1.0,
                          grad_norms={"l2": [1.0] * 200_000})  # fmt: skip
        with pytest.raises(OSError, match="database or disk is full"):
            store.save(big, "loss", False)
    with Store.existing(database) as store:
        assert len(store.trials()) == 8 and "rex" not in {t.schedule for t in store.trials()}
