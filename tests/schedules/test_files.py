"""Schedules read from files: bounded reads of regular files only, and the content in the identity."""

import numpy as np
import pytest

import budgetlr
from budgetlr.bench.methods import method
from budgetlr.bench.runner import TrialConfig
from budgetlr.schedules import array


def test_editing_the_file_changes_the_spec_and_the_trial_key(tmp_path):
    path = tmp_path / "curve.txt"
    path.write_text("1\n0.5\n")
    first = method(f"array(file={path})").spec
    path.write_text("1\n0.25\n")
    second = method(f"array(file={path})").spec
    assert first != second
    assert (
        TrialConfig("quadratic", first, 0.1, 0.1, 0).key()
        != TrialConfig("quadratic", second, 0.1, 0.1, 0).key()
    )
    # the hash is the first 16 hex digits of the bytes' sha256 (coreutils: printf '1\n0.25\n' | sha256sum)
    assert second == f"array(file={path}, sha256=35c400b411bb430a)"


def test_a_spec_naming_a_hash_refuses_other_content(tmp_path):
    path = tmp_path / "norms.npy"
    np.save(path, np.array([4.0, 2, 1]))
    spec = str(budgetlr.parse(f"refined(file={path})"))
    assert budgetlr.parse(spec) == budgetlr.parse(f"refined(file={path})")
    np.save(path, np.array([4.0, 2, 2]))
    with pytest.raises(
        ValueError, match=r"changed: its content hash is [0-9a-f]{16}, the spec names sha256="
    ):
        budgetlr.parse(spec)
    with pytest.raises(ValueError, match="sha256 goes with file=PATH"):
        budgetlr.parse("array(values=[1.0], sha256=abc)")


def test_devices_folders_and_huge_files_are_refused_without_reading_them(tmp_path, monkeypatch):
    for path in ("/dev/urandom", "/dev/zero", str(tmp_path)):
        with pytest.raises(ValueError, match="not a regular file"):
            budgetlr.parse(f"array(file={path})")
    monkeypatch.setattr(array, "MAX_FILE_BYTES", 100)
    big = tmp_path / "big.txt"
    big.write_text("0.5\n" * 26)  # 104 bytes
    with pytest.raises(ValueError, match="larger than 100 bytes"):
        budgetlr.parse(f"array(file={big})")
