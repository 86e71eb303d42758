"""A trial's identity: its configuration, its workload's data and the trial semantics, never the
package version; a database keyed by version (budgetlr <= 0.2.0) is re-keyed in place."""

import hashlib
import json
import sqlite3

import budgetlr
import budgetlr.bench.runner
import budgetlr.bench.store
from budgetlr.bench.executors import Execution
from budgetlr.bench.runner import TRIAL_SEMANTICS, CurvePoint, TrialConfig, TrialResult, trial_key
from budgetlr.bench.store import Store
from budgetlr.bench.sweep import run_configs
from budgetlr.bench.workloads import resolve_workload
from budgetlr.cli.bench import not_reused_line

CONFIGS = [TrialConfig("quadratic(dim=8)", "cosine", 0.1, lr, 0) for lr in (0.1, 0.3)]

# budgetlr 0.2.0's tables and key: sha256 of the configuration and the package version.
SCHEMA_0_2_0 = """
CREATE TABLE trials (key TEXT PRIMARY KEY, version TEXT NOT NULL, workload TEXT NOT NULL,
    schedule TEXT NOT NULL, budget REAL NOT NULL, lr REAL NOT NULL, seed INTEGER NOT NULL,
    steps INTEGER NOT NULL, status TEXT NOT NULL, metric TEXT NOT NULL, higher_is_better INTEGER NOT NULL,
    val_metric REAL, test_metric REAL, wall_time REAL NOT NULL, steps_per_second REAL NOT NULL,
    finished_at TEXT NOT NULL DEFAULT (datetime('now')));
CREATE TABLE curves (key TEXT NOT NULL REFERENCES trials(key) ON DELETE CASCADE, step INTEGER NOT NULL,
    train_loss REAL, val_metric REAL, lr REAL NOT NULL, PRIMARY KEY (key, step));
"""


def key_0_2_0(config, version):
    text = json.dumps({**config.__dict__, "version": version}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def store_results(out, configs):
    with Store(out) as store:
        for config in configs:
            result = TrialResult(config, 20, "ok", 0.5, 0.6, 1.0, 20.0, [CurvePoint(20, 0.4, 0.5, 0.0)])
            store.save(result, "excess_risk", False)


def test_a_new_package_version_reuses_every_stored_trial(tmp_path, monkeypatch):
    monkeypatch.setattr(budgetlr, "__version__", "0.2.0")
    store_results(tmp_path, CONFIGS)
    monkeypatch.setattr(budgetlr, "__version__", "0.3.0")
    summary = run_configs(CONFIGS, tmp_path, Execution(progress=False))
    assert (summary.already_stored, summary.ran, summary.not_reused) == (2, 0, {})
    with Store(tmp_path) as store:
        assert {(t.version, t.semantics) for t in store.trials()} == {("0.2.0", TRIAL_SEMANTICS)}


def test_trials_of_other_semantics_are_counted_and_not_reused(tmp_path, monkeypatch):
    for module in (budgetlr.bench.runner, budgetlr.bench.store):
        monkeypatch.setattr(module, "TRIAL_SEMANTICS", TRIAL_SEMANTICS + 1)
    store_results(tmp_path, CONFIGS[:1])
    monkeypatch.undo()
    with Store(tmp_path) as store:
        assert CONFIGS[0].key() not in store.done_keys()
        assert store.not_reused(CONFIGS) == {TRIAL_SEMANTICS + 1: 1}
    line = not_reused_line(TRIAL_SEMANTICS + 1, 1)
    assert f"trial semantics {TRIAL_SEMANTICS + 1}" in line
    assert f"semantics {TRIAL_SEMANTICS}," in line


def test_a_database_keyed_by_version_is_rekeyed_to_semantics_1(tmp_path):
    current, older = CONFIGS
    with sqlite3.connect(tmp_path / "results.db") as connection:
        connection.executescript(SCHEMA_0_2_0)
        for config, version in ((current, "0.2.0"), (older, "0.1.0")):
            connection.execute(
                "INSERT INTO trials (key, version, workload, schedule, budget, lr, seed, steps, status, metric,"
                " higher_is_better, val_metric, test_metric, wall_time, steps_per_second)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 20, 'ok', 'excess_risk', 0, 0.5, 0.6, 1.0, 20.0)",
                (key_0_2_0(config, version), version, *config.__dict__.values()),
            )
        connection.execute("INSERT INTO curves VALUES (?, 20, 0.4, 0.5, 0.0)", (key_0_2_0(current, "0.2.0"),))
    with Store(tmp_path) as store:
        by_lr = {t.lr: t for t in store.trials()}
        semantics_1 = trial_key(current, "", 1)  # quadratic's data depend on its spec alone
        assert (by_lr[current.lr].key, by_lr[current.lr].semantics) == (semantics_1, 1)
        assert store.curve(semantics_1) == [CurvePoint(20, 0.4, 0.5, 0.0)]  # from the old table
        # 0.1.0 is not known to compute what semantics 1 computes: kept, never reused.
        assert (by_lr[older.lr].key, by_lr[older.lr].semantics) == (key_0_2_0(older, "0.1.0"), 0)
        # semantics 2 records held-out losses: trials of semantics 1 are kept but run again
        assert store.not_reused(CONFIGS) == {0: 1, 1: 1}
    with Store(tmp_path) as store:  # a second opening changes nothing
        assert {t.key for t in store.trials()} == {semantics_1, key_0_2_0(older, "0.1.0")}


def test_a_workloads_data_is_in_its_fingerprint_and_its_path_is_not(tmp_path):
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(200))
    for name, content in (("a.txt", text), ("b.txt", text), ("c.txt", text.upper())):
        (tmp_path / name).write_text(content)
    spec = "stdlib-gpt(path={}, context=16, eval_windows=8)"
    same, moved, other = (
        resolve_workload(spec.format(tmp_path / n)).data_fingerprint() for n in ("a.txt", "b.txt", "c.txt")
    )
    assert same == moved != other and len(same) == 16


def test_a_phi_auto_trial_made_under_another_phi_rule_is_run_again_and_no_other_trial_is(
    tmp_path, monkeypatch
):
    import budgetlr.adaptive.phi

    auto = TrialConfig("quadratic(dim=8)", "uba(phi=auto, warmup=0.05)", 0.1, 0.1, 0)
    with Store(tmp_path) as store:
        for config in (auto, *CONFIGS):
            store.save(TrialResult(config, 200, "ok", 0.5, 0.5, 1.0, 200.0), "loss", False)
        monkeypatch.setattr(
            budgetlr.adaptive.phi, "RULE_INTERCEPT", budgetlr.adaptive.phi.RULE_INTERCEPT + 0.5
        )
        assert store.done_keys() & {c.key() for c in (auto, *CONFIGS)} == {c.key() for c in CONFIGS}
        assert store.not_reused([auto, *CONFIGS]) == {None: 1}
    assert "the rule that sets uba(phi=auto)'s phi" in not_reused_line(None, 1)
