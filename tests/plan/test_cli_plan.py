import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from benchmarks.plan_mpl import DATA

from budgetlr.cli import main
from budgetlr.plan import predicted_loss

BUDGETLR = str(Path(sys.executable).parent / "budgetlr")
TRUE_POWER = [2.0, 3.0, 0.3]  # L0 A alpha
POWER_FIT = {"format": "budgetlr-fit", "version": 1, "law": "power", "parameters": {"L0": 1.0, "A": 1.0, "alpha": 0.5},
             "objective": 0.0, "runs": [{"name": "a", "total_steps": 10, "peak": 1.0, "points": 5, "pred_e": 0.0}],
             "samples": [], "seed": 0, "seconds": 0.0}  # fmt: skip


def write_run(folder, name, lrs, steps, losses):
    rows = ["step,lr,loss", f"0,{lrs[0]},"] + [
        f"{s},{lrs[s]},{loss}" for s, loss in zip(steps, losses, strict=True)
    ]
    path = folder / f"{name}.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def power_runs(tmp_path):
    paths = []
    for name, lrs in [("constant", np.full(2000, 0.1)), ("linear", np.linspace(0.1, 0.001, 2000))]:
        steps = np.arange(50, 2000, 50)
        paths.append(write_run(tmp_path, name, lrs, steps, predicted_loss("power", TRUE_POWER, lrs, steps)))
    return paths


def run_cli(*argv):
    return subprocess.run([BUDGETLR, *map(str, argv)], capture_output=True, text=True, timeout=600)


def test_fit_then_predict_as_a_user_would(tmp_path, power_runs):
    fit_path, plot = tmp_path / "fit.json", tmp_path / "fit.png"
    done = run_cli(
        "plan", "fit", *power_runs, "--law", "power", "--out", fit_path, "--plot", plot, "--replicates", "3"
    )
    assert done.returncode == 0, done.stderr
    stored = json.loads(fit_path.read_text())
    assert stored["format"] == "budgetlr-fit" and stored["version"] == 1 and stored["law"] == "power"
    assert [stored["parameters"][k] for k in ("L0", "A", "alpha")] == pytest.approx(TRUE_POWER, rel=1e-3)
    assert len(stored["samples"]) == 3 and plot.stat().st_size > 1000
    assert "95% bootstrap interval" in done.stdout and "run linear: 39 points, PredE" in done.stdout
    assert (
        "fitting power: starts" in done.stderr and "fitting power: bootstrap" in done.stderr
    )  # progress bars
    curve = tmp_path / "curve.png"
    done = run_cli(
        "plan",
        "predict",
        fit_path,
        "--schedule",
        "cosine",
        "--steps",
        "4000",
        "--peak",
        "0.1",
        "--json",
        "--plot",
        curve,
    )
    assert done.returncode == 0, done.stderr
    predicted = json.loads(done.stdout)
    assert predicted["steps"][-1] == 3999 and len(predicted["steps"]) == len(predicted["loss"])
    assert predicted["loss"][-1] == pytest.approx(2.0 + 3.0 * 4000**-0.3, rel=1e-3)
    assert predicted["extrapolation"] == ["horizon 4000 steps lies past the longest fitted run (1951 steps)"]
    assert done.stderr.startswith("budgetlr: extrapolation: horizon 4000") and curve.stat().st_size > 1000
    done = run_cli("plan", "predict", fit_path, "--schedule", "cosine", "--budget", "64000 samples",
                   "--samples-per-step", "64", "--peak", "0.5")  # fmt: skip
    assert (
        "cosine over 1000 steps at peak 0.5: final loss" in done.stdout
        and "extrapolation: peak LR 0.5 lies outside the fitted runs' 0.1..0.1" in done.stdout
    )


def test_a_run_from_a_spec_and_a_loss_csv(tmp_path, capsys):
    lrs = np.linspace(0.1, 0.0001, 1000)  # budgetlr's "linear" at peak 0.1 steps 0..999
    from budgetlr.schedules import schedule

    lrs = schedule("linear", 1000).lr(np.arange(1000), 0.1)
    steps = np.arange(20, 1000, 20)
    losses = tmp_path / "losses.csv"
    losses.write_text(
        "step,loss\n"
        + "".join(
            f"{s},{v}\n"
            for s, v in zip(steps, predicted_loss("reduced", [2.0, 1.0, 0.5, 3.0], lrs, steps), strict=True)
        )
    )
    out = tmp_path / "fit.json"
    assert (
        main(
            [
                "plan",
                "fit",
                "--from-spec",
                str(losses),
                "linear",
                "1000",
                "0.1",
                "--law",
                "reduced",
                "--out",
                str(out),
                "--quiet",
                "--replicates",
                "0",
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["parameters"]["B"] == pytest.approx(3.0, rel=1e-3)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["plan", "fit", "--out", "{tmp}/f.json"], "plan fit needs at least one RUN"),
        (["plan", "fit", "{tmp}/missing.csv", "--out", "{tmp}/f.json"], "missing.csv is not a file"),
        (
            ["plan", "fit", "{tmp}/bad.csv", "--out", "{tmp}/f.json"],
            "bad.csv line 4: step 1 does not increase",
        ),
        (
            ["plan", "fit", "{tmp}/constant.csv", "--out", "{tmp}/f.json"],
            "mpl cannot tell the LR decay's effect",
        ),
        (["plan", "fit", "{tmp}/constant.csv", "--law", "x", "--out", "{tmp}/f.json"], "invalid choice: 'x'"),
        (
            [
                "plan",
                "fit",
                "--from-spec",
                "{tmp}/constant.csv",
                "cosine(",
                "10",
                "1",
                "--out",
                "{tmp}/f.json",
            ],
            "--from-spec",
        ),
        (
            ["plan", "predict", "{tmp}/bad.csv", "--schedule", "cosine", "--steps", "9", "--peak", "1"],
            "bad.csv: not a fit",
        ),
        (
            ["plan", "predict", "{tmp}/old.json", "--schedule", "cosine", "--steps", "9", "--peak", "1"],
            "version 0",
        ),
        (
            ["plan", "predict", "{tmp}/fit.json", "--schedule", "cosine(", "--steps", "9", "--peak", "1"],
            "cosine(",
        ),
        (
            ["plan", "predict", "{tmp}/fit.json", "--schedule", "cosine", "--steps", "0", "--peak", "1"],
            "--steps",
        ),
        (
            ["plan", "predict", "{tmp}/fit.json", "--schedule", "cosine", "--steps", "9", "--peak", "nan"],
            "--peak",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "bad.csv").write_text("step,lr,loss\n0,1,\n1,1,3\n1,1,2\n")
    (tmp_path / "constant.csv").write_text(
        "step,lr,loss\n0,1,\n" + "".join(f"{s},1,{3 - s / 100}\n" for s in range(1, 40))
    )
    fit = dict(POWER_FIT)
    (tmp_path / "fit.json").write_text(json.dumps(fit))
    (tmp_path / "old.json").write_text(json.dumps(fit | {"version": 0}))
    argv = [part.replace("{tmp}", str(tmp_path)) for part in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "f.json").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"law": "mpx"}, "unknown law 'mpx'"),
        ({"parameters": {"L0": 1.0, "A": 1.0}}, "power needs the parameters L0, A, alpha"),
        ({"parameters": {"L0": 1.0, "A": "x", "alpha": 0.5}}, "A must be a finite number"),
        ({"samples": [[1.0]]}, "each bootstrap sample needs 3 numbers"),
        ({"runs": []}, "the fit names no runs"),
        (
            {"runs": [{"name": "a", "total_steps": 0, "peak": 1.0, "points": 5, "pred_e": 0.0}]},
            "must be positive",
        ),
        ({"seed": "x"}, "field 'seed' is missing"),
    ],
)
def test_a_damaged_fit_file_is_refused_naming_the_field(tmp_path, change, message):
    from budgetlr.plan import load_fit

    fit = dict(POWER_FIT)
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(fit | change))
    with pytest.raises(ValueError, match=message):
        load_fit(path)


def with_warmup_rows(source: Path, target: Path, jump_at: int | None = None) -> Path:
    """The authors' CSV with the rows their README says to add: the warmup from LR 0 at step 0 to
    the peak at 2159, the step before a two-stage run's jump, and without the row at step 24000."""
    lines = source.read_text().splitlines()
    rows = [lines[0], "0,0,", "2159,0.0003,"]
    for line in lines[1:]:
        step = int(line.split(",")[0])
        if step == jump_at:
            rows.append(f"{step - 1},0.0003,")
        if step < 24000:
            rows.append(line)
    target.write_text("\n".join(rows) + "\n")
    return target


@pytest.mark.slow
def test_the_400m_training_runs_predict_the_held_out_final_losses_within_1_percent(tmp_path):
    runs = [
        with_warmup_rows(DATA / "400" / "cosine_24000.csv", tmp_path / "cosine_24000.csv"),
        with_warmup_rows(DATA / "400" / "constant_24000.csv", tmp_path / "constant_24000.csv"),
        with_warmup_rows(DATA / "400" / "wsdcon_9.csv", tmp_path / "wsdcon_9.csv", jump_at=8000),
    ]
    fit_path = tmp_path / "fit.json"
    done = run_cli("plan", "fit", *runs, "--law", "mpl", "--out", fit_path, "--replicates", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    observed = {
        "constant_72000": 2.7157,
        "cosine_72000": 2.6154,
        "wsdld_20000_24000": 2.7251,
    }  # their last rows
    for name, spec, steps in [
        ("constant_72000", "constant(warmup_steps=2160)", 72000),
        ("cosine_72000", "cosine(warmup_steps=2160, floor=0.1)", 72000),
        ("wsdld_20000_24000", "wsd(warmup_steps=2160, decay_steps=4000, shape=linear, floor=0.1)", 24000),
    ]:
        done = run_cli(
            "plan", "predict", fit_path, "--schedule", spec, "--steps", steps, "--peak", "3e-4", "--json"
        )
        assert done.returncode == 0, done.stderr
        final = json.loads(done.stdout)["final_loss"]
        assert abs(final - observed[name]) / observed[name] < 0.01, (name, final)
    # The design for their 24k budget, with its gain over their cosine (to 0.1 x peak).
    done = run_cli("plan", "design", fit_path, "--steps", "24000", "--peak", "3e-4", "--warmup-steps", "2160",
                   "--baseline", "cosine(floor=0.1)", "--json", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    design = json.loads(done.stdout)
    assert design["best"]["spec"].startswith("wsd(")
    # The runs end at their last logged step, 23936: a 24,000-step budget lies just past them.
    assert design["extrapolation"] == ["horizon 24000 steps lies past the longest fitted run (23937 steps)"]
    gain = design["gains"][0]
    assert gain["over"] == "cosine(warmup_steps=2160, floor=0.1)" and gain["gain"] > 0
    assert gain["interval"][0] < gain["interval"][1] and isinstance(gain["exceeds_interval"], bool)


REDUCED_FIT = {"format": "budgetlr-fit", "version": 1, "law": "reduced",
               "parameters": {"L0": 2.0, "A": 1.0, "alpha": 0.5, "B": 0.5}, "objective": 0.0,
               "runs": [{"name": "a", "total_steps": 1000, "peak": 0.1, "points": 9, "pred_e": 0.0}],
               "samples": [[2.0, 1.0, 0.5, 0.4], [2.0, 1.0, 0.5, 0.6]], "seed": 0, "seconds": 0.0}  # fmt: skip


def test_design_as_a_user_would(tmp_path):
    fit_path, plot = tmp_path / "fit.json", tmp_path / "candidates.png"
    fit_path.write_text(json.dumps(REDUCED_FIT))
    done = run_cli("plan", "design", fit_path, "--steps", "1000", "--peak", "0.1", "--families", "cosine", "linear",
                   "--plot", plot)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "best: cosine(floor=0.1): final loss 2.08978" in done.stdout
    assert "gain over cosine: +0.00157 (+0.07%)" in done.stdout and "exceeds the interval" in done.stdout
    assert plot.stat().st_size > 1000 and "designing: candidates" in done.stderr  # a progress bar
    done = run_cli("plan", "design", fit_path, "--budget", "2e6 tokens", "--tokens-per-step", "500",
                   "--peak", "0.1", "--json", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["total_steps"] == 4000 and len(result["candidates"]) == 57  # no power: no batch given
    assert result["skipped"] == [
        "power: needs the tokens per step and the batch (tokens_per_step=..., batch=...)"
    ]
    assert result["extrapolation"] == ["horizon 4000 steps lies past the longest fitted run (1000 steps)"]
    assert (
        done.stderr
        == "budgetlr: extrapolation: horizon 4000 steps lies past the longest fitted run (1000 steps)\n"
    )
    assert [gain["over"] for gain in result["gains"]] == ["cosine", "linear"]


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--budget", "3h"],
            "a budget of 10800 seconds cannot be translated into optimizer steps, which the laws count, without the seconds per step",
        ),
        (["--steps", "4001"], "a horizon of 4001 steps lies past 4x the longest fitted run (1000 steps)"),
        (["--steps", "10", "--budget", "10"], "not allowed with argument"),
        (
            ["--steps", "100", "--families", "power"],
            "no family to design from: power: needs the tokens per step",
        ),
        (["--steps", "100", "--warmup-steps", "200"], "warmup"),
    ],
)
def test_design_refuses_in_one_line(tmp_path, options, message):
    fit_path = tmp_path / "fit.json"
    fit_path.write_text(json.dumps(REDUCED_FIT))
    done = run_cli("plan", "design", fit_path, "--peak", "0.1", "--quiet", *options)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr


@pytest.mark.parametrize("command", ["fit", "lr"])
def test_two_runs_of_one_name_are_refused_in_one_line(tmp_path, power_runs, command):
    (tmp_path / "again").mkdir()
    copy = tmp_path / "again" / power_runs[0].name
    copy.write_text(power_runs[0].read_text())
    options = (
        ["--out", tmp_path / "fit.json"] if command == "fit" else ["--schedule", "cosine", "--steps", "100"]
    )
    done = run_cli("plan", command, power_runs[0], copy, *options)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "budgetlr: error: two runs share a name: give each run's CSV its own file name\n"
    assert not (tmp_path / "fit.json").exists()
