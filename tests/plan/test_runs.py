import numpy as np
import pytest

from budgetlr.plan import Run, read_run, run_from_spec


def write(tmp_path, text, name="run.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_csv_run_interpolates_the_lr_between_rows_and_keeps_a_jump(tmp_path):
    path = write(tmp_path, "step,lr,loss\n0,0,\n4,0.4,3.0\n5,0.4,\n6,0.1,2.5\n8,0.1,2.4\n")
    run = read_run(path)
    assert run.name == "run"
    assert run.lrs == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.1, 0.1, 0.1])
    assert run.steps.tolist() == [4, 6, 8]
    assert run.losses.tolist() == [3.0, 2.5, 2.4]
    assert run.spread is None and run.peak == 0.4


def test_rows_after_the_last_loss_extend_the_run(tmp_path):
    run = read_run(write(tmp_path, "step,lr,loss,spread\n0,1,,\n2,1,3.0,0.01\n6,0.5,,\n"))
    assert run.total_steps == 7 and run.spread.tolist() == [0.01]
    assert run.lrs[2:] == pytest.approx([1.0, 0.875, 0.75, 0.625, 0.5])


def test_a_run_from_a_spec_takes_its_lr_from_the_schedule(tmp_path):
    path = write(tmp_path, "step,loss\n10,3.0\n99,2.0\n", "losses.csv")
    run = run_from_spec("linear", 100, 0.1, path)
    assert run.total_steps == 100
    assert run.lrs[[0, 50, 99]] == pytest.approx([0.1, 0.05, 0.001])
    with pytest.raises(ValueError, match=r"losses.csv line 3: step 99 lies past the 50-step schedule"):
        run_from_spec("linear", 50, 0.1, path)


def test_a_run_from_arrays_keeps_lrs_past_its_last_observed_step():
    run = Run("a", np.full(10, 0.1), [3, 5], [2.0, 1.5], spread=[0.1, 0.1])
    assert run.total_steps == 10


@pytest.mark.parametrize(
    "text, message",
    [
        ("step,lr,loss\n1,0.1,3.0\n", r"run.csv line 2: the LR must start at step 0"),
        ("step,lr,loss\n0,0.1,\n5,0.1,3\n4,0.1,2\n", r"run.csv line 4: step 4 does not increase"),
        ("step,lr,loss\n0,0.1,\n5,0.1,3\n5,0.1,2\n", r"run.csv line 4: step 5 does not increase"),
        ("step,lr,loss\n0,0.1,\n5,-0.1,3\n", r"run.csv line 3: lr must be finite and not negative"),
        ("step,lr,loss\n0,0.1,\n5,0.1,nan\n", r"run.csv line 3: loss must be finite"),
        ("step,lr,loss\n0,inf,\n5,0.1,3\n", r"run.csv line 2: lr must be finite"),
        ("step,lr,loss\n0,0.1,\n5,x,3\n", r"run.csv line 3: lr 'x' is not a number"),
        ("step,lr,loss\n0,0.1,\n5.5,0.1,3\n", r"run.csv line 3: step must be a whole number"),
        ("step,lr,loss\n0,0.1,\n5,,3\n", r"run.csv line 3: lr '' is not a number"),
        ("step,lr,loss\n0,0.1,\n5,0.1,0\n", r"run.csv line 3: loss must be positive"),
        ("step,loss\n0,3\n", r"run.csv line 1: the header needs step, lr, loss; missing lr"),
        ("step,lr,loss\n0,0.1,\n", r"run.csv: no row has a loss"),
        ("step,lr,loss\n", r"run.csv: no rows after the header"),
        ("step,lr,loss,spread\n0,0.1,,\n5,0.1,3,0.1\n6,0.1,3,\n", r"run.csv: give a spread on every row"),
    ],
)
def test_bad_files_are_refused_naming_the_file_and_line(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_run(write(tmp_path, text))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"lrs": [0.1] * 3, "steps": [1, 5], "losses": [2.0, 1.0]}, "needs the LR of every step 0..5"),
        ({"lrs": [0.1] * 9, "steps": [5, 1], "losses": [2.0, 1.0]}, "steps must increase"),
        ({"lrs": [0.1] * 9, "steps": [1, 5], "losses": [2.0]}, "one loss"),
        (
            {"lrs": [0.1] * 9, "steps": [1, 5], "losses": [2.0, -1.0]},
            "losses must be finite and not negative",
        ),
        ({"lrs": [0.0] * 9, "steps": [1, 5], "losses": [2.0, 1.0]}, "its LR is 0 at every step"),
        ({"lrs": [0.1] * 9, "steps": [1.5, 5], "losses": [2.0, 1.0]}, "whole numbers"),
    ],
)
def test_bad_arrays_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        Run("a", **arguments)
