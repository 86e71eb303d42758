"""The committed locks: current with pyproject.toml, and a stale one refused in one line."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def checkout(tmp_path):
    """What scripts/check_locks.py reads, copied to a scratch checkout."""
    for name in ("pyproject.toml", "scripts/check_locks.py", "scripts/lock.sh", "locks"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, tmp_path / name)
    return tmp_path


def check(checkout, *args):
    return subprocess.run(
        [sys.executable, str(checkout / "scripts" / "check_locks.py"), *args], capture_output=True, text=True
    )


def test_the_committed_locks_are_current(checkout):
    assert check(checkout).returncode == 0


@pytest.mark.parametrize(
    ("old", "new"),
    [('"tqdm>=4.60"', '"tqdm>=4.61"'), ('optuna = ["optuna>=4.0"]', 'optuna = ["optuna>=4.0", "rich"]')],
)
def test_a_dependency_changed_without_a_refresh_fails_in_one_line_naming_the_refresh(checkout, old, new):
    pyproject = checkout / "pyproject.toml"
    assert old in pyproject.read_text()
    pyproject.write_text(pyproject.read_text().replace(old, new))
    result = check(checkout)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.rstrip().endswith("run scripts/lock.sh")


def test_a_bound_below_what_the_floor_lock_holds_is_not_recorded(checkout):
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"scipy>=1.13"', '"scipy>=1.10"'))
    result = check(checkout, "--write")
    assert result.returncode == 1
    assert "scipy: pyproject.toml says >=1.10, the floor lock resolved 1.13.0" in result.stdout
    assert check(checkout).returncode == 1  # the digest was not rewritten
