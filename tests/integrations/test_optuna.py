"""Optuna: per-cell TPE studies over the peak LR (and phi for UBA), no pruner, resumable."""

import signal
import subprocess

import optuna
import pytest

from budgetlr.cli import main
from budgetlr.study.tune import OPTUNA_DB, PHI_CHOICES
from tests.helpers import BUDGETLR, GATED, command_env, hide_module, start_and_stop, stored_keys

#: Every test here trains a model, starts Ray or runs the CLI's sweeps.
pytestmark = pytest.mark.slow

ARGS = ["bench", "--workload", "quadratic(dim=8)", "--schedules", "cosine,uba", "--budgets", "0.1",
        "--lrs", "0.1,0.3", "--seeds", "0,1", "--tuner", "optuna", "--quiet", "--no-report"]  # fmt: skip


def studies(out):
    storage = f"sqlite:///{out / OPTUNA_DB}"
    return {s.study_name: optuna.load_study(study_name=s.study_name, storage=storage)
            for s in optuna.get_all_study_summaries(storage)}  # fmt: skip


def test_studies_tune_lr_and_phi_without_pruning_and_grow_on_rerun(tmp_path):
    assert main([*ARGS, "--trials", "2", "--out", str(tmp_path)]) == 0
    found = studies(tmp_path)
    assert set(found) == {"quadratic(dim=8) | cosine | budget 0.1", "quadratic(dim=8) | uba | budget 0.1"}
    for name, study in found.items():
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert len(complete) == 2 and not any(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
        for trial in complete:
            assert 0.1 / 3 <= trial.params["lr"] <= 0.3 * 3
            assert ("phi" in trial.params) == ("uba" in name)
            if "phi" in trial.params:
                assert trial.params["phi"] in PHI_CHOICES
    assert len(stored_keys(tmp_path)) == 2 * 2 * 2  # schedules x trials x seeds, each a stored trial
    assert main([*ARGS, "--trials", "4", "--out", str(tmp_path)]) == 0
    grown = studies(tmp_path).values()
    assert [len(s.trials) for s in grown] == [4, 4]
    assert all(len({t.params["lr"] for t in s.trials}) == 4 for s in grown)  # no point repeated on resume
    assert len(stored_keys(tmp_path)) == 2 * 4 * 2


def test_an_interrupted_study_resumes_with_every_asked_trial_finished_and_none_left_running(tmp_path):
    out = tmp_path / "out"
    gated = [arg if arg != "quadratic(dim=8)" else GATED for arg in ARGS]
    command = [BUDGETLR, *gated, "--trials", "5", "--workers", "2", "--out", str(out)]
    start_and_stop(command, out, 6, signal.SIGKILL, tmp_path / "gate").communicate()
    assert subprocess.run(command, capture_output=True, timeout=600, env=command_env()).returncode == 0
    for study in studies(out).values():
        states = [t.state for t in study.trials]
        assert states.count(optuna.trial.TrialState.RUNNING) == 0
        assert (
            states.count(optuna.trial.TrialState.COMPLETE) + states.count(optuna.trial.TrialState.FAIL) >= 5
        )
    keys = stored_keys(out)
    assert len(keys) == len(set(keys))


def test_trials_must_be_positive(tmp_path, capsys):
    assert main([*ARGS, "--trials", "0", "--out", str(tmp_path)]) == 2
    assert "argument --trials: must be a whole number >= 1, got 0" in capsys.readouterr().err


def test_a_missing_extra_is_one_line_naming_the_install_command(tmp_path, monkeypatch, capsys):
    hide_module(monkeypatch, "optuna")
    assert main([*ARGS, "--trials", "2", "--out", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err
        == "budgetlr: error: --tuner optuna needs optuna: pip install 'budgetlr[optuna]'\n"
    )
