"""The CLI fuzzed: a few hundred seeded invocations of every subcommand with valid, malformed,
extreme and empty values, against a results database, another program's SQLite file and junk.

Every invocation must exit 0 or 2, never show a traceback, say exactly one line on stderr when it
exits 2, and leave every database unchanged when it fails or only reads. Training is stubbed
(its correctness is tested elsewhere); everything before it, and every reader, runs for real.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import budgetlr.bench.curvature
import budgetlr.bench.sweep
import budgetlr.study.branching
import budgetlr.study.finegrid
import budgetlr.study.pbt
import budgetlr.study.tune
from budgetlr.bench.sweep import SweepSummary
from budgetlr.cli import build_parser, main
from budgetlr.errors import InvalidInput
from tests.helpers import store_and_die, store_synthetic_trials

BUDGETLR = str(Path(sys.executable).parent / "budgetlr")
INVOCATIONS = 300
STUBBED = "training is stubbed in this test"
READ_ONLY = {"list", "show", "report", "export", "recommend", "results", "refine", "plan fit", "plan predict",
             "plan design", "plan lr", "export-runs"}  # fmt: skip
BUDGETS = ["2e9 tokens", "3h", "50", "50 samples", "", "x", "1e39 tokens", "0", "-5 steps", "nan"]

#: Values that each option may take: valid ones and ones that must be refused in one line.
NUMBERS = [
    "0",
    "-1",
    "1",
    "0.5",
    "1e39",
    "1e308",
    "nan",
    "inf",
    "-inf",
    "9223372036854775808",
    "abc",
    "",
    " ",
]
LISTS = ["0.1,0.5", "", ",", "0.1,,0.5", "0.1,x", "-1", "0", "1e39", "9223372036854775808", "nan", "1,2"]
SPECS = ["cosine", "uba(phi=1e17)", "uba(phi=0)", "cosine,ubaa", "", "array(file=/dev/urandom)",
         "cosine(", "refined", "wsd(decay=2)", "array(values=[1, nan])", "quadratic", "nope"]  # fmt: skip
#: Workload specs: the schedule specs' kinds of damage, plug-ins (module:attr) and sizes past a bound.
WORKLOADS = [*SPECS, "tests.bench.custom_workload:ShortQuadratic(dim=8)", "tests.bench.custom_workload:Blobs(centres=2)",
             "tests.bench.custom_workload:make_blobs", ":", " : ", "nope.mod:X", "os:path", "quadratic(dim=1e9)",
             "stdlib-gpt(layers=1000)", "mnist1d-transformer(width=6)", "mnist1d-gru(width=5000)",
             "stdlib-gpt-long(context=4096)", "cifar-resnet"]  # fmt: skip


def options(paths: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """Per subcommand, its options and the values the fuzzer picks from (``""`` key: positionals)."""
    outs = [paths["db"], paths["foreign"], paths["junk"], paths["empty"], paths["file"], "", paths["new"],
            paths["killed"], paths["zero"], paths["read_only"]]  # fmt: skip
    files = [paths["db_file"], paths["foreign_file"], paths["new_file"], "/dev/full", paths["dir"],
             "/nonexistent/x.csv", "", paths["plain"], *paths["side_files"].split("|")]  # fmt: skip
    return {
        "list": {},
        "show": {
            "": [*SPECS, "linear", "rex"],
            "--steps": [*NUMBERS, "1000000000000", "50"],
            "--peak": NUMBERS,
            "--csv": files,
            "--plot": [*files, paths["new_png"]],
        },
        "bench": {
            "--workload": [*WORKLOADS, "quadratic"],
            "--schedules": SPECS,
            "--budgets": LISTS,
            "--lrs": LISTS,
            "--seeds": LISTS,
            "--workers": NUMBERS,
            "--trials": NUMBERS,
            "--suite": ["quick", "fair", "huge", ""],
            "--out": outs,
            "--tuner": ["grid", "optuna", "x"],
        },
        "report": {"--out": outs, "--to": [paths["new"], paths["read_only"], paths["file"], ""]},
        "export": {"": files, "--out": outs},
        "refine": {"--out": outs, "--trial": ["", "zz", paths["key"][:6]], "--smoothing": NUMBERS},
        "suggest-phi": {
            "--workload": WORKLOADS,
            "--budget-fraction": NUMBERS,
            "--seed": NUMBERS,
            "--out": outs,
        },
        "pbt": {
            "--workload": WORKLOADS,
            "--budget-fraction": NUMBERS,
            "--population": NUMBERS,
            "--interval": NUMBERS,
            "--base-lr": NUMBERS,
            "--seed": NUMBERS,
            "--replay-seeds": LISTS,
            "--out": outs,
        },
        "wsd-s": {
            "--workload": WORKLOADS,
            "--budgets": LISTS,
            "--seeds": LISTS,
            "--lr": NUMBERS,
            "--out": outs,
        },
        "recommend": {
            "--budget-fraction": NUMBERS,
            "--workload": WORKLOADS,
            "--out": outs,
            "--suite": ["fair", "study", "huge", ""],
        },
        "lr-transfer": {"--out": outs, "--suite": ["study", "quick", "huge", ""], "--workers": NUMBERS},
        "results": {"--out": outs, "--write": files, "--gpu": outs},
        "plan fit": {
            "": [paths["run_csv"], *files, paths["fit_json"]],
            "--law": ["mpl", "tissue", "reduced", "power", "", "x"],
            "--out": [*files, paths["new_json"], paths["fit_json"]],
            "--plot": [*files, paths["new_png"]],
            "--seed": NUMBERS,
            "--replicates": ["0", "2", "-1", "nan", "", "1e39"],
            "--from-spec": [paths["loss_csv"], paths["run_csv"], *files],
        },
        "plan predict": {
            "": [paths["fit_json"], paths["run_csv"], *files],
            "--schedule": SPECS,
            "--steps": [*NUMBERS, "1000000000000", "50"],
            "--budget": BUDGETS,
            "--tokens-per-step": NUMBERS,
            "--peak": NUMBERS,
            "--plot": [*files, paths["new_png"]],
        },
        "plan design": {
            "": [paths["reduced_json"], paths["fit_json"], paths["run_csv"], *files],
            "--steps": [*NUMBERS, "1000000000000", "50"],
            "--budget": BUDGETS,
            "--tokens-per-step": NUMBERS,
            "--seconds-per-step": NUMBERS,
            "--peak": NUMBERS,
            "--families": ["wsd", "cosine", "power", "x", ""],
            "--warmup-steps": [*NUMBERS, "9223372036854775807"],
            "--baseline": SPECS,
            "--plot": [*files, paths["new_png"]],
        },
        "export-runs": {
            "": [paths["new"], *outs, *files],
            "--out": outs,
            "--workload": WORKLOADS,
            "--schedule": SPECS,
            "--budget-fraction": NUMBERS,
            "--lr": NUMBERS,
            "--seed": NUMBERS,
        },
        "plan lr": {
            "": [paths["run_csv"], paths["run_csv_2"], paths["fit_json"], *files],
            "--schedule": SPECS,
            "--steps": [*NUMBERS, "1000000000000", "50"],
            "--budget": BUDGETS,
            "--samples-per-step": NUMBERS,
            "--seed": NUMBERS,
            "--plot": [*files, paths["new_png"]],
        },
    }


def valid(paths: dict[str, str]) -> dict[str, dict[str, str | None]]:
    """A valid invocation of each subcommand, which the fuzzer mutates."""
    return {
        "list": {},
        "show": {"": "cosine", "--steps": "50"},
        "bench": {
            "--workload": "quadratic",
            "--schedules": "cosine",
            "--budgets": "0.05",
            "--lrs": "0.1",
            "--seeds": "0",
            "--out": paths["new"],
            "--quiet": None,
            "--no-report": None,
        },
        "report": {"--out": paths["db"]},
        "export": {"": paths["new_file"], "--out": paths["db"]},
        "refine": {"--out": paths["db"], "--trial": paths["key"][:6]},
        "suggest-phi": {"--workload": "quadratic", "--budget-fraction": "0.05"},
        "pbt": {"--workload": "quadratic", "--budget-fraction": "0.05", "--quiet": None},
        "wsd-s": {
            "--workload": "quadratic",
            "--budgets": "0.05,0.1",
            "--seeds": "0",
            "--lr": "0.1",
            "--out": paths["new"],
            "--quiet": None,
        },
        "recommend": {"--budget-fraction": "0.05", "--out": paths["db"]},
        "lr-transfer": {"--out": paths["db"], "--suite": "quick", "--quiet": None},
        "results": {"--out": paths["db"], "--write": paths["new_md"]},
        "plan fit": {
            "": paths["run_csv"],
            "--law": "power",
            "--out": paths["new_json"],
            "--replicates": "0",
            "--quiet": None,
        },
        "plan predict": {
            "": paths["fit_json"],
            "--schedule": "cosine",
            "--steps": "50",
            "--peak": "0.1",
            "--json": None,
        },
        "plan design": {
            "": paths["reduced_json"],
            "--steps": "50",
            "--peak": "0.1",
            "--families": "cosine",
            "--json": None,
            "--quiet": None,
        },
        "plan lr": {"": paths["run_csv"], "--schedule": "cosine", "--steps": "300", "--json": None},
        "export-runs": {"": paths["new"], "--out": paths["db"], "--workload": "quadratic"},
    }


def invocation(
    rng: random.Random, table: dict[str, dict[str, list[str]]], base: dict[str, dict[str, str | None]]
) -> list[str]:
    """A valid invocation with up to two options set to random values or dropped."""
    command = rng.choice(sorted(table))
    chosen = dict(base[command])
    for option in rng.sample(sorted(table[command]), k=min(len(table[command]), rng.choice([0, 1, 1, 2]))):
        if option in chosen and rng.random() < 0.15:
            del chosen[option]
        else:
            chosen[option] = rng.choice(table[command][option])
    argv = command.split()
    for option, value in chosen.items():
        if command == "plan lr" and option == "":  # runs at two peak LRs
            argv += [value, str(Path(str(base[command][""])).with_name("run_2.csv"))]
        elif option == "--from-spec":  # LOSSES SPEC STEPS PEAK
            argv += [option, value, rng.choice(SPECS), rng.choice(NUMBERS), rng.choice(NUMBERS)]
        else:
            argv += [value] if option == "" else [option] if value is None else [option, value]
    return argv


def command_of(argv: list[str]) -> str:
    return " ".join(argv[:2]) if argv[0] == "plan" else argv[0]


def parser_commands(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    """Every command the parser knows, a group's commands as ``group command``."""
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= parser_commands(sub, f"{prefix}{name} ") or {f"{prefix}{name}"}
    return found


def test_the_fuzzer_knows_every_command(world):
    assert set(options(world)) == parser_commands(build_parser())


def test_each_valid_invocation_the_fuzzer_mutates_is_accepted(world, no_training, capsys, monkeypatch):
    monkeypatch.chdir(world["root"])
    for command, chosen in valid(world).items():
        argv = invocation(random.Random(0), {command: {}}, {command: chosen})
        code = main(argv)
        err = capsys.readouterr().err
        # The synthetic database has too few budgets and seeds for a transfer: refused after parsing.
        # Its curves hold one point each: too coarse to export as runs.
        refusal = {"lr-transfer": "no schedule in", "export-runs": "no run to write"}.get(command, STUBBED)
        assert code == 0 or (code == 2 and refusal in err and err.count("\n") == 1), (argv, err)


def digest(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("fuzz")
    db = root / "db"
    key = store_synthetic_trials(db)[0]
    foreign = root / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "results.db") as connection:
        connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance REAL)")
        connection.execute("INSERT INTO accounts VALUES (1, 100.0)")
    junk = root / "junk"
    junk.mkdir()
    (junk / "results.db").write_bytes(bytes(range(256)) * 8)
    (root / "empty").mkdir()
    store_and_die(root / "killed")  # a sweep killed with -9: its trials are in the log alone
    shutil.copytree(root / "killed", root / "read_only")  # read through read_only_folders()
    (root / "zero").mkdir()
    (root / "zero" / "results.db").write_bytes(b"")
    (root / "wal-link.csv").symlink_to(root / "killed" / "results.db-wal")
    side_files = [root / "killed" / f"results.db{side}" for side in ("-wal", "-shm", "-journal")]
    (root / "plain.txt").write_text("not a database\n")
    (root / "run.csv").write_text(
        "step,lr,loss\n0,0.1,\n"
        + "".join(f"{s},{0.1 - s / 2500},{2 + s**-0.5}\n" for s in range(10, 200, 10))
    )
    (root / "run_2.csv").write_text(  # the same run at twice the peak LR
        "step,lr,loss\n0,0.2,\n"
        + "".join(f"{s},{0.2 - s / 1250},{2 + s**-0.5 + 0.01 * (s / 200) ** 2}\n" for s in range(10, 200, 10))
    )
    (root / "losses.csv").write_text(
        "step,loss\n" + "".join(f"{s},{2 + s**-0.5}\n" for s in range(10, 50, 5))
    )
    fit = {"format": "budgetlr-fit", "version": 1, "law": "power", "parameters": {"L0": 2.0, "A": 1.0, "alpha": 0.5},
           "objective": 0.0, "runs": [{"name": "run", "total_steps": 200, "peak": 0.1, "points": 19, "pred_e": 0.0}],
           "samples": [[2.0, 1.0, 0.5], [2.1, 1.0, 0.5]], "seed": 0, "seconds": 0.0}  # fmt: skip
    (root / "fit.json").write_text(json.dumps(fit))
    reduced = fit | {"law": "reduced", "parameters": {"L0": 2.0, "A": 1.0, "alpha": 0.5, "B": 0.5},
                     "samples": [[2.0, 1.0, 0.5, 0.4], [2.1, 1.0, 0.5, 0.6]]}  # fmt: skip
    (root / "reduced.json").write_text(json.dumps(reduced))
    return {
        "root": str(root), "db": str(db), "foreign": str(foreign), "junk": str(junk),
        "empty": str(root / "empty"), "file": str(root / "plain.txt"), "new": str(root / "new"),
        "db_file": str(db / "results.db"), "foreign_file": str(foreign / "results.db"),
        "new_file": str(root / "out.csv"), "new_png": str(root / "out.png"), "new_md": str(root / "page.md"), "dir": str(root),
        "plain": str(root / "plain.txt"), "key": key, "run_csv": str(root / "run.csv"), "run_csv_2": str(root / "run_2.csv"),
        "killed": str(root / "killed"), "zero": str(root / "zero"), "read_only": str(root / "read_only"),
        "side_files": "|".join(map(str, [*side_files, root / "wal-link.csv", root / "killed" / ".." / "killed" / "results.db-wal"])),
        "loss_csv": str(root / "losses.csv"), "fit_json": str(root / "fit.json"), "reduced_json": str(root / "reduced.json"), "new_json": str(root / "new.json"),
    }  # fmt: skip


@pytest.fixture
def no_training(monkeypatch):
    """Whatever passes validation stops where training would start."""

    def no_sweep(plans, out, *args, **kwargs):
        return SweepSummary(sum(len(plan.trials()) for plan in plans), 0, 0, 0)

    def refuse(*args, **kwargs):
        raise InvalidInput(STUBBED)

    monkeypatch.setattr(budgetlr.bench.sweep, "run_sweep", no_sweep)
    monkeypatch.setattr(
        budgetlr.bench.sweep, "run_configs", lambda configs, *a, **k: SweepSummary(len(configs), 0, 0, 0)
    )
    monkeypatch.setattr(
        budgetlr.study.finegrid,
        "run_fine_sweep",
        lambda plans, *a, **k: budgetlr.study.finegrid.FineSweep(no_sweep(plans, None), 0, {}),
    )
    monkeypatch.setattr(budgetlr.study.tune, "tune_with_optuna", refuse)
    monkeypatch.setattr(budgetlr.study.branching, "measure", refuse)
    monkeypatch.setattr(budgetlr.study.pbt, "run_pbt", refuse)
    monkeypatch.setattr(budgetlr.bench.curvature, "estimate_for_workload", refuse)


@pytest.fixture
def read_only_folders(world, monkeypatch):
    """The ``read_only`` folder is one this process cannot write (root writes anywhere, so it is
    what os.access reports)."""
    access = os.access
    read_only = Path(world["read_only"]).resolve()

    def writable(path, mode):
        return access(path, mode) and (
            mode != os.W_OK or read_only not in (Path(path).resolve(), *Path(path).resolve().parents)
        )

    monkeypatch.setattr(os, "access", writable)


def databases(world: dict[str, str]) -> list[Path]:
    """Every database and its log (a reader may update the log's index, ``-shm``, as SQLite does)."""
    return sorted(p for p in Path(world["root"]).rglob("results.db*") if not p.name.endswith("-shm"))


def test_hundreds_of_invocations_exit_0_or_2_in_one_line_and_change_no_database(
    world, no_training, read_only_folders, capsys, monkeypatch
):
    monkeypatch.chdir(world["root"])  # defaults such as --write docs/results.md land there
    rng = random.Random(13)
    table, base = options(world), valid(world)
    start = time.monotonic()
    seen = {run_and_check(invocation(rng, table, base), world, capsys) for _ in range(INVOCATIONS)}
    assert {command for command, _ in seen} == set(table), "every subcommand was tried"
    assert {code for _, code in seen} == {0, 2}
    assert time.monotonic() - start < 120


def run_and_check(argv: list[str], world: dict[str, str], capsys) -> tuple[str, int]:
    """Run ``argv``: it exits 0 or 2, never with a traceback, says one line when it exits 2, and
    changes no database when it fails or only reads. Returns its command and exit code."""
    before = digest(databases(world))
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's --help
        code = exit.code
    captured = capsys.readouterr()
    assert code in (0, 2), (argv, code, captured.err)
    assert "Traceback" not in captured.err, (argv, captured.err)
    if code == 2:
        assert captured.err.count("\n") == 1 and captured.err.startswith("budgetlr: error: "), (
            argv,
            captured.err,
        )
    if code == 2 or command_of(argv) in READ_ONLY:
        assert digest(databases(world)) == before, argv
    return command_of(argv), code


def test_every_database_part_and_workload_value_is_tried_with_every_option_that_takes_it(
    world, no_training, read_only_folders, capsys, monkeypatch
):
    """Beyond the random sample: each database side file, killed, empty or read-only results
    folder, plug-in and oversized workload, once in every option that may receive it."""
    monkeypatch.chdir(world["root"])
    targets = {
        world["killed"],
        world["zero"],
        world["read_only"],
        *world["side_files"].split("|"),
        *WORKLOADS[len(SPECS) :],
    }
    table, base = options(world), valid(world)
    tried = 0
    for command, choices in sorted(table.items()):
        for option, values in sorted(choices.items()):
            for value in sorted(targets & set(values)):
                argv = invocation(
                    random.Random(0), {command: {}}, {command: {**base[command], option: value}}
                )
                run_and_check(argv, world, capsys)
                tried += 1
    assert tried > 100


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "--out", "{junk}"], "is not a budgetlr results database (not a SQLite file)"),
        (
            ["export", "--out", "{foreign}", "{root}/x.csv"],
            "is another program's SQLite database (tables: accounts)",
        ),
        (["export", "--out", "{db}", "{db}/results.db"], "refusing to write over"),
        (["bench", "--workload", "quadratic", "--out", "{foreign}"], "is another program's SQLite database"),
        (["export", "--out", "{killed}", "{killed}/results.db-wal"], "belongs to the SQLite database"),
        (["report", "--out", "{zero}"], "is an empty file, not a results database"),
        (
            ["bench", "--workload", "quadratic(dim=1e9)", "--out", "{root}/new-big"],
            "dim must be in [1, 100000]",
        ),
    ],
)
def test_real_processes_refuse_in_one_line_and_leave_the_files_alone(world, argv, message):
    argv = [a.format(**world) for a in argv]
    before, entries = digest(databases(world)), sorted(os.listdir(world["root"]))
    result = subprocess.run([BUDGETLR, *argv], capture_output=True, text=True, timeout=60, cwd=world["root"])
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert digest(databases(world)) == before and sorted(os.listdir(world["root"])) == entries
