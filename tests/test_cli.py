"""The ``budgetlr`` command: output, files, exit codes and one-line errors."""

import csv
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

from budgetlr.cli import main
from budgetlr.schedules import FAMILIES

BUDGETLR = str(Path(sys.executable).parent / "budgetlr")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_list_names_every_family_with_keys_defaults_and_papers(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name, family in FAMILIES.items():
        assert f"\n{name}" in f"\n{out}"
        if family.paper:
            assert f"arXiv {family.paper}" in out
    assert "phi=1.0" in out and "floor=0.01" in out and "decay defaults to 0.2 of total_steps" in out


def test_list_marks_budgetlrs_own_extensions(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    uba = out[out.index("\nuba  [arXiv") : out.index("\nwsd  [arXiv")]
    assert "budgetlr's own (phases): phases > 1" in uba
    assert "budgetlr's own (phi): the default phi=1 is budgetlr's choice; phi > 2 goes beyond" in uba
    assert "budgetlr's own (shape): shifted-exp" in out[out.index("\nwsd  [arXiv") :]
    assert "linear, 1-sqrt, cosine, square  [arXiv 2405.18392]" in out
    assert "budgetlr's own: shifted-exp = (0.01^x - 0.01) / 0.99" in out


def test_show_prints_a_compact_table_and_writes_csv_and_plot(tmp_path, capsys):
    plot, table = tmp_path / "uba.png", tmp_path / "curves.csv"
    args = ["show", "uba(phi=0.5)", "cosine", "--steps", "1000", "--peak", "0.1", "--plot", str(plot)]
    assert main([*args, "--csv", str(table)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0].split(), [line.split() for line in lines[1:] if line[:8].strip().isdigit()]
    assert header == ["step", "uba(phi=0.5)", "cosine"]
    assert 20 <= len(rows) <= 40
    assert rows[0] == ["0", "0.1", "0.1"]
    assert rows[-1] == ["1000", "0", "0"]
    assert ["500", "0.08", "0.05"] in rows

    with table.open() as handle:
        records = list(csv.reader(handle))
    assert records[0] == ["step", "uba(phi=0.5)", "cosine"]
    assert len(records) == 1002
    assert float(records[501][1]) == pytest.approx(0.08) and float(records[501][2]) == pytest.approx(0.05)

    assert plot.read_bytes()[:8] == PNG_MAGIC
    image = matplotlib.image.imread(plot)
    assert image.shape[0] > 300 and image.shape[1] > 600


def test_show_previews_a_budget_in_tokens_in_its_unit(tmp_path, capsys):
    # 1e6 tokens at 1e4 a step are the 100-step curve: cosine's warmup ends at step 10 (1e5 tokens).
    table = tmp_path / "tokens.csv"
    args = ["show", "cosine(warmup=0.1)", "--budget", "1e6 tokens", "--per-step", "1e4", "--peak", "0.1"]
    assert main([*args, "--csv", str(table), "--plot", str(tmp_path / "tokens.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[1:] if line[:8].strip().isdigit()]
    assert lines[0].split() == ["step", "tokens", "cosine(warmup=0.1)"]
    assert ["0", "0", f"{0.1 / 11:.6g}"] in rows and ["10", "100000", "0.1"] in rows
    assert ["50", "500000", "0.0586824"] in rows  # 0.1 (1 + cos(pi 40 / 90)) / 2
    assert rows[-1] == ["100", "1e+06", "0"]
    with table.open() as handle:
        records = list(csv.reader(handle))
    assert records[0] == ["step", "tokens", "cosine(warmup=0.1)"] and len(records) == 102
    assert (tmp_path / "tokens.png").read_bytes()[:8] == PNG_MAGIC


def test_show_with_a_budget_in_steps_is_show_with_steps(capsys):
    assert main(["show", "cosine(warmup=0.1)", "--steps", "100"]) == 0
    with_steps = capsys.readouterr().out
    assert main(["show", "cosine(warmup=0.1)", "--budget", "100 steps"]) == 0
    assert capsys.readouterr().out == with_steps


def test_show_previews_a_time_budget_as_a_steady_run(capsys):
    # One hour at 2.5 s a step: 1440 steps, the LR at the floor at 3600 s.
    assert main(["show", "linear(floor=0.1)", "--budget", "1h", "--per-step", "2.5"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert ["720", "1800", "0.55"] in rows and rows[-1] == ["1440", "3600", "0.1"]


def test_show_marks_the_warmup_end_in_the_table(capsys):
    assert main(["show", "cosine(warmup_steps=37)", "--steps", "1000"]) == 0
    assert any(line.split()[:2] == ["37", "1"] for line in capsys.readouterr().out.splitlines()[1:])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "ubaa", "--steps", "10"], "unknown schedule 'ubaa'; valid names:"),
        (["show", "uba(phi=-1)", "--steps", "10"], "phi=-1.0 must be > 0"),
        (["show", "uba", "--steps", "0"], "argument --steps: must be a whole number >= 1, got 0"),
        (["show", "uba", "--steps", "ten"], "argument --steps: 'ten' is not a whole number"),
        (["show", "uba"], "one of the arguments --steps --budget is required"),
        *(
            ([*command, "--budget", "0.5"], "a fraction of the full budget is --budget-fraction")
            for command in (["suggest-phi", "--workload", "quadratic"], ["recommend"], ["export-runs", "x"])
        ),
        (
            ["show", "uba", "--steps", "10", "--budget", "1h"],
            "argument --budget: not allowed with argument --steps",
        ),
        (["show", "uba", "--budget", "2e9 bananas", "--per-step", "1"], "malformed budget '2e9 bananas'"),
        (
            ["show", "uba", "--budget", "2e9 tokens"],
            "a --budget in tokens needs --per-step: the tokens each step",
        ),
        (
            ["show", "uba", "--budget", "1h", "--per-step", "0"],
            "argument --per-step: must be a positive number, got 0",
        ),
        (
            ["show", "uba", "--budget", "1e9 tokens", "--per-step", "1"],
            "1e+09 steps; the preview steps through at most",
        ),
        (
            ["show", "uba", "--budget", "100 steps", "--per-step", "1"],
            "--per-step goes with a --budget in tokens",
        ),
        (
            ["show", "onecycle", "--budget", "1e6 samples", "--per-step", "1e3"],
            "onecycle is torch's OneCycleLR, whose phases end at optimizer-step indices",
        ),
        (
            ["show", "exponential(gamma=0.99)", "--budget", "1e5 tokens", "--per-step", "1e3"],
            "exponential's gamma is a factor per optimizer step",
        ),
        (
            ["show", "wsd(decay_steps=5)", "--budget", "1h", "--per-step", "1"],
            "decay_steps counts optimizer steps",
        ),
        (
            ["show", "uba", "--steps", "10", "--peak", "-1"],
            "argument --peak: must be a positive number, got -1",
        ),
        (
            ["show", "uba", "--steps", "10", "--plot", "/nonexistent/x.png"],
            "folder /nonexistent does not exist",
        ),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: command"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(args, message, capsys):
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("budgetlr: error: ") and message in captured.err


def test_installed_entry_point_runs_without_a_traceback(tmp_path):
    executable = shutil.which("budgetlr", path=str(Path(sys.executable).parent))
    assert executable, "the budgetlr console script is not installed"
    good = subprocess.run([executable, "show", "rex", "--steps", "20"], capture_output=True, text=True)
    assert good.returncode == 0 and good.stdout.startswith("    step")
    bad = subprocess.run([executable, "show", "rex(beta=2)", "--steps", "20"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr == "budgetlr: error: rex: beta=2.0 must lie in [0, 1)\n"
    module = subprocess.run([sys.executable, "-m", "budgetlr", "list"], capture_output=True, text=True)
    assert module.returncode == 0 and "uba" in module.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # ranges checked when parsed: nothing starts that cannot be trained or stored
        (
            ["bench", "--lrs", "1e39"],
            "argument --lrs: peak LR 1e+39 must be a positive number in [1.401e-45, 3.403e+38]",
        ),
        (
            ["bench", "--lrs", "1e-320"],
            "argument --lrs: peak LR 1e-320 must be a positive number in [1.401e-45, 3.403e+38]",
        ),
        (["show", "cosine", "--budget", "99:99:99"], "malformed budget '99:99:99': a clock time is H:MM:SS"),
        (
            ["show", "cosine", "--budget", "1:02:60:00"],
            "malformed budget '1:02:60:00': a clock time is H:MM:SS",
        ),
        (
            ["bench", "--seeds", "9223372036854775808"],
            "seed 9223372036854775808 must be a whole number in [0, ",
        ),
        (["wsd-s", "--workload", "quadratic", "--lr", "1e308"], "argument --lr: peak LR 1e+308 must be"),
        (
            ["wsd-s", "--workload", "quadratic", "--seeds", "-1"],
            "argument --seeds: seed -1 must be a whole number",
        ),
        (
            ["pbt", "--workload", "quadratic", "--budget-fraction", "0.1", "--base-lr", "inf"],
            "'inf' must be a finite number",
        ),
        # an empty value is an error, never the suite's default
        (["bench", "--schedules", ""], "argument --schedules: must not be empty"),
        (["bench", "--budgets", ""], "argument --budgets: must not be empty"),
        (["bench", "--lrs", ""], "argument --lrs: must not be empty"),
        (["bench", "--seeds", ""], "argument --seeds: must not be empty"),
        (["bench", "--workload", ""], "argument --workload: must not be empty"),
        (["bench", "--out", ""], "argument --out: must not be empty"),
        # outputs: never over a SQLite file, never into a device, always with the plot's format named
        (
            ["show", "cosine", "--steps", "10", "--plot", "{tmp}"],
            "--plot: cannot write {tmp}: it exists and is not",
        ),
        (["show", "cosine", "--steps", "10", "--plot", "{tmp}/curve"], "must end in one of .png, .pdf, .svg"),
        (
            ["show", "cosine", "--steps", "10", "--plot", "/dev/full"],
            "cannot write /dev/full: it exists and is not",
        ),
        (
            ["show", "cosine", "--steps", "10", "--csv", "{tmp}/x.db"],
            "refusing to write over {tmp}/x.db: it is a SQLite",
        ),
        (["results", "--write", "{tmp}/x.db"], "refusing to write over {tmp}/x.db: it is a SQLite database"),
        (
            ["wsd-s", "--workload", "quadratic", "--out", "{tmp}/x.db"],
            "argument --out: {tmp}/x.db is not a folder",
        ),
        (["show", "cosine", "--steps", "1000000000000", "--csv", "{tmp}/c.csv"], "at most 999999 --steps"),
    ],
)
def test_bad_values_are_refused_when_parsed_in_one_line(args, message, tmp_path, capsys):
    sqlite3.connect(tmp_path / "x.db").execute("CREATE TABLE t (x)")
    before = (tmp_path / "x.db").read_bytes()
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message.format(tmp=tmp_path) in err
    assert (tmp_path / "x.db").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.db"]


def test_show_with_a_huge_budget_computes_only_what_it_prints_and_plots(tmp_path, capsys):
    plot = tmp_path / "huge.png"
    assert main(["show", "cosine", "--steps", "1000000000000", "--plot", str(plot)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.splitlines()[-1] == f"wrote {plot}" and plot.is_file()
    # cosine at half the budget is 0.5; the table's middle row
    assert "500000000000           0.5" in out


def test_a_bug_keeps_its_traceback_and_debug_shows_every_one(monkeypatch, capsys):
    import budgetlr.cli.schedules

    def buggy(args):
        return min([])

    monkeypatch.setattr(budgetlr.cli.schedules, "list_families", buggy)
    with pytest.raises(ValueError, match="empty"):  # not one line: a bug in budgetlr, not bad input
        main(["list"])
    with pytest.raises(ValueError, match="unknown schedule 'ubaa'"):
        main(["--debug", "show", "ubaa", "--steps", "10"])
    monkeypatch.setenv("BUDGETLR_DEBUG", "1")
    with pytest.raises(ValueError, match="unknown schedule 'ubaa'"):
        main(["show", "ubaa", "--steps", "10"])


def test_a_reader_that_stops_early_gets_no_error():
    listing = subprocess.Popen([BUDGETLR, "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    listing.stdout.close()  # before it starts writing: as `budgetlr list | head` when head is done
    assert listing.wait(timeout=60) == 141  # as a process killed by SIGPIPE, the shell's convention
    assert listing.stderr.read() == b""
