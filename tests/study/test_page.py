"""The committed study page and its database: the page is what `budgetlr results` makes of them."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BUDGETLR

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_committed_results_page_is_regenerated_byte_for_byte(tmp_path):
    folder = tmp_path / "docs" / "results"
    folder.mkdir(parents=True)
    for name in ("results.db", "wsd-s.json"):
        shutil.copy(ROOT / "docs" / "results" / name, folder / name)
    done = subprocess.run(
        [BUDGETLR, "results", "--out", "docs/results", "--write", "docs/results.md"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "docs" / "results.md").read_text() == (ROOT / "docs" / "results.md").read_text()


@pytest.mark.slow
def test_a_missing_gpu_folder_is_refused_before_the_page_or_a_plot_is_written(tmp_path):
    done = subprocess.run(
        [BUDGETLR, "results", "--out", str(ROOT / "docs" / "results"), "--write", str(tmp_path / "page.md"),
         "--gpu", str(tmp_path / "nonexistent")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and "no results database in" in done.stderr
    assert list(tmp_path.iterdir()) == []
