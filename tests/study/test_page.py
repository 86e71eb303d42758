"""The committed study pages and their databases: the page is what `budgetlr results` makes of them."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BUDGETLR

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize(("suite", "name"), [("study", "study"), ("fair", "results")])
def test_the_committed_results_page_is_regenerated_byte_for_byte(tmp_path, suite, name):
    folder = tmp_path / "docs" / name
    folder.mkdir(parents=True)
    for kept in ("results.db", "wsd-s.json"):
        if (ROOT / "docs" / name / kept).exists():
            shutil.copy(ROOT / "docs" / name / kept, folder / kept)
    done = subprocess.run(
        [BUDGETLR, "results", "--suite", suite, "--out", f"docs/{name}", "--write", f"docs/{name}.md"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "docs" / f"{name}.md").read_text() == (ROOT / "docs" / f"{name}.md").read_text()


@pytest.mark.slow
def test_a_missing_gpu_folder_is_refused_before_the_page_or_a_plot_is_written(tmp_path):
    done = subprocess.run(
        [BUDGETLR, "results", "--out", str(ROOT / "docs" / "study"), "--write", str(tmp_path / "page.md"),
         "--gpu", str(tmp_path / "nonexistent")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and "no results database in" in done.stderr
    assert list(tmp_path.iterdir()) == []
