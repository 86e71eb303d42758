"""No command loses or hides a stored trial: a database's write-ahead log, its index and its
journal are never written over, whatever path leads to them; a reader that cannot write the
folder still sees the trials a killed sweep left in the log; an empty file is refused in one line."""

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

import budgetlr.bench.database
import budgetlr.bench.store
from budgetlr.bench.store import Store
from budgetlr.cli import main
from tests.helpers import store_and_die

KILLED_TRIALS = 8


@pytest.fixture(scope="module")
def killed_once(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("killed") / "w"
    store_and_die(out)
    assert (out / "results.db-wal").stat().st_size > 0
    return out


@pytest.fixture
def killed(killed_once, tmp_path) -> Path:
    """A results folder as a sweep killed with -9 leaves it: every trial in the log."""
    return Path(shutil.copytree(killed_once, tmp_path / "w"))


def digests(folder: Path) -> dict[str, str]:
    """Every file's digest but the log's index (``-shm``), which SQLite's readers update."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith("-shm")
    }


def count(out: Path) -> int:
    with Store.existing(out) as store:
        return len(store.trials())


@pytest.mark.parametrize("side", ["results.db-wal", "results.db-shm", "results.db-journal"])
@pytest.mark.parametrize(
    "command",
    [
        ["export", "--out", "{out}", "{target}"],
        ["results", "--out", "{out}", "--write", "{target}"],
        ["show", "cosine", "--steps", "10", "--csv", "{target}"],
        ["export-runs", "--out", "{out}", "{out}"],  # names its own files: never a side file
    ],
)
def test_no_command_writes_over_a_databases_log_index_or_journal(killed, side, command, capsys):
    before = digests(killed)
    code = main([a.format(out=killed, target=killed / side) for a in command])
    err = capsys.readouterr().err
    if command[0] != "export-runs":
        assert code == 2 and "refusing to write over" in err and "belongs to the SQLite database" in err
    assert digests(killed) == before
    assert count(killed) == KILLED_TRIALS


@pytest.mark.parametrize(
    "how", ["symlink", "hard link", "dot-dot", "relative", "empty database beside its log"]
)
def test_every_path_to_the_log_is_refused(killed, tmp_path, monkeypatch, how, capsys):
    if how == "symlink":
        target = tmp_path / "innocent.csv"
        target.symlink_to(killed / "results.db-wal")
    elif how == "hard link":
        target = tmp_path / "innocent.csv"
        target.hardlink_to(killed / "results.db-wal")
    elif how == "dot-dot":
        (killed / "sub").mkdir()
        target = killed / "sub" / ".." / "results.db-wal"
    elif how == "relative":
        monkeypatch.chdir(killed)
        target = Path("results.db-wal")
    else:  # a database whose file is empty and whose content is all in its log
        copy = tmp_path / "copy"
        copy.mkdir()
        (copy / "results.db").write_bytes(b"")
        (copy / "results.db-wal").write_bytes((killed / "results.db-wal").read_bytes())
        target = copy / "results.db"
    before = digests(killed)
    assert main(["export", "--out", str(killed), str(target)]) == 2
    assert "refusing to write over" in capsys.readouterr().err
    assert digests(killed) == before


def test_the_run_recorder_and_write_run_refuse_a_log(killed):
    from budgetlr.plan.runs import Run, write_run
    from budgetlr.recording import RunRecorder

    with Store(killed):
        pass  # a writer's close empties the log: a recorder would take it for a new file
    (killed / "results.db-wal").write_bytes(b"")
    with pytest.raises(ValueError, match="belongs to the SQLite database"):
        RunRecorder(killed / "results.db-wal").record(0, 0.1, 1.0)
    with pytest.raises(ValueError, match="belongs to the SQLite database"):
        write_run(Run("r", [0.1, 0.1], [1], [1.0]), killed / "results.db-journal")
    assert count(killed) == KILLED_TRIALS


@pytest.fixture
def read_only_folder(monkeypatch):
    """Folders this process cannot write, as a shared results folder is (root writes anywhere, so
    it is what os.access reports)."""
    monkeypatch.setattr(budgetlr.bench.store.os, "access", lambda path, mode: False)


def test_a_reader_of_a_read_only_folder_sees_every_trial_a_killed_sweep_left_in_the_log(
    killed, read_only_folder, tmp_path, capsys
):
    before = digests(killed)
    assert count(killed) == KILLED_TRIALS
    assert main(["export", "--out", str(killed), str(tmp_path / "t.csv")]) == 0
    assert f"wrote {KILLED_TRIALS} trials" in capsys.readouterr().out
    assert main(["recommend", "--out", str(killed), "--budget-fraction", "0.05"]) == 0
    assert "cosine" in capsys.readouterr().out
    assert main(["report", "--out", str(killed)]) == 2
    assert "give 'budgetlr report --to FOLDER'" in capsys.readouterr().err
    assert main(["report", "--out", str(killed), "--to", str(tmp_path / "mine")]) == 0
    assert f"{KILLED_TRIALS} trials from" in (tmp_path / "mine" / "report.md").read_text()
    assert digests(killed) == before, "the folder is exactly as the killed sweep left it"


def test_a_log_that_cannot_be_read_from_a_read_only_folder_is_one_line_saying_what_to_do(
    killed, read_only_folder, monkeypatch, capsys
):
    def unreadable(source, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(budgetlr.bench.database.shutil, "copyfile", unreadable)
    assert main(["export", "--out", str(killed), str(killed.parent / "t.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "write-ahead log" in err and "rerun the sweep there" in err


def test_a_sweep_moves_its_log_into_the_database_when_it_closes(killed):
    with Store(killed):
        pass
    assert not (killed / "results.db-wal").exists() or (killed / "results.db-wal").stat().st_size == 0
    connection = sqlite3.connect(f"{(killed / 'results.db').as_uri()}?mode=ro&immutable=1", uri=True)
    assert connection.execute("SELECT COUNT(*) FROM trials").fetchone() == (KILLED_TRIALS,)
    connection.close()


def test_the_committed_study_database_holds_no_pending_log():
    committed = Path(__file__).parents[2] / "docs" / "results" / "results.db"
    assert not any(Path(f"{committed}{side}").exists() for side in ("-wal", "-journal"))
    assert committed.read_bytes()[18:20] == b"\x01\x01", "a rollback-journal file: nothing lives in a log"


READERS = [
    ["report", "--out", "{out}"],
    ["export", "--out", "{out}", "{tmp}/t.csv"],
    ["recommend", "--out", "{out}", "--budget-fraction", "0.5"],
    ["refine", "--out", "{out}", "--trial", "abc"],
    ["results", "--out", "{out}", "--write", "{tmp}/page.md"],
    ["lr-transfer", "--out", "{out}", "--suite", "quick"],
    ["suggest-phi", "--workload", "quadratic", "--budget-fraction", "0.5", "--out", "{out}"],
    ["export-runs", "--out", "{out}", "{tmp}/runs"],
    ["wsd-s", "--workload", "quadratic", "--budgets", "0.5,1", "--out", "{out}"],
]


@pytest.mark.parametrize("content", ["0-byte file", "SQLite file without tables"])
@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_an_empty_database_is_one_line_and_exit_2_before_anything_is_made(tmp_path, content, command, capsys):
    out = tmp_path / "out"
    out.mkdir()
    if content == "0-byte file":
        (out / "results.db").write_bytes(b"")
    else:
        sqlite3.connect(out / "results.db").execute("PRAGMA user_version = 1").connection.close()
    before = digests(out)
    assert main([a.format(out=out, tmp=tmp_path) for a in command]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("empty file" in err or "holds no trials yet" in err), err
    assert digests(out) == before and sorted(os.listdir(tmp_path)) == ["out"]
