"""The run recorder: what BudgetScheduler(record=) writes, a killed run's file, resume, refusals."""

import io
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from budgetlr.errors import InvalidInput
from budgetlr.plan import read_run
from budgetlr.recording import RunRecorder
from budgetlr.torch import BudgetScheduler

SPEC, STEPS, PEAK = "cosine(warmup=0.1)", 60, 0.1


def train(path, steps, saved=None, stop=None, loss_every=1):
    """A linear regression trained with the scheduler recording to ``path``; returns the LRs the
    optimizer used and the losses computed, step by step, read by hand, and the state at ``stop``."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=PEAK)
    scheduler = BudgetScheduler(optimizer, SPEC, STEPS, record=RunRecorder(path, every=7))
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(1))
    used, losses, state = {}, {}, None
    for step in range(scheduler.last_epoch, steps):
        loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        used[step] = optimizer.param_groups[0]["lr"]
        optimizer.step()
        given = loss if step % loss_every == 0 else None
        losses[step] = None if given is None else loss.item()
        scheduler.step(loss=given)
        if step + 1 == stop:
            buffer = io.BytesIO()
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                },
                buffer,
            )
            buffer.seek(0)
            state = torch.load(buffer, weights_only=True)
    return used, losses, state


def rows(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "step,lr,loss"
    return [line.split(",") for line in lines[1:]]


def test_each_step_is_a_row_with_the_lr_the_optimizer_used_and_the_loss_given(tmp_path):
    path = tmp_path / "run.csv"
    used, losses, _ = train(path, STEPS, loss_every=3)
    written = rows(path)
    assert [int(step) for step, _, _ in written] == list(range(STEPS))  # flushed when finished
    assert [float(lr) for _, lr, _ in written] == [used[step] for step in range(STEPS)]
    assert [None if loss == "" else float(loss) for _, _, loss in written] == [
        losses[s] for s in range(STEPS)
    ]
    assert used[0] == pytest.approx(PEAK / 7)  # warmup (t + 1) / (W + 1) with W = 6
    run = read_run(path)
    assert run.total_steps == STEPS and run.steps.tolist() == list(range(0, STEPS, 3))
    np.testing.assert_array_equal(run.lrs, [used[step] for step in range(STEPS)])


def test_a_resumed_run_replaces_the_rows_after_its_checkpoint_and_equals_the_straight_run(tmp_path):
    straight = tmp_path / "straight.csv"
    train(straight, STEPS)
    resumed = tmp_path / "resumed.csv"
    _, _, saved = train(resumed, 50, stop=30)  # checkpoint at 30, trained on to 50, then stopped
    assert [int(row[0]) for row in rows(resumed)][-1] == 49
    train(resumed, STEPS, saved=saved)
    assert resumed.read_text() == straight.read_text()


def test_a_checkpoint_writes_the_rows_held_so_far(tmp_path):
    path = tmp_path / "run.csv"
    train(path, 12, stop=10)  # every=7: step 7's write, then the checkpoint's at 10
    assert [int(row[0]) for row in rows(path)][:10] == list(range(10))


KILLED = """
import os, sys, time, torch
from budgetlr.torch import BudgetScheduler
model = torch.nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = BudgetScheduler(optimizer, "linear", 10_000, record=sys.argv[1])
for step in range(10_000):
    loss = model(torch.ones(1, 2)).pow(2).sum() + 1
    optimizer.zero_grad(); loss.backward(); optimizer.step(); scheduler.step(loss=loss)
    if step == 120:
        print("ready", flush=True)
        time.sleep(60)
"""


def test_a_killed_run_leaves_a_file_that_reads_up_to_its_last_write(tmp_path):
    path = tmp_path / "killed.csv"
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED), str(path)], stdout=subprocess.PIPE, text=True
    )
    with process.stdout:
        assert process.stdout.readline().strip() == "ready"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    run = read_run(path)
    assert run.steps.tolist() == list(range(100))  # two writes of 50 rows; the rest was in memory
    assert run.lrs[0] == pytest.approx(0.1) and run.lrs[99] == pytest.approx(0.1 * (1 - 99 / 10_000))


def test_a_line_cut_short_is_dropped_when_the_run_resumes(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("step,lr,loss\n0,0.1,2.5\n1,0.1,2.4\n2,0.1,2.")
    recorder = RunRecorder(path, every=1)
    recorder.record(2, 0.1, 2.3)
    assert path.read_text() == "step,lr,loss\n0,0.1,2.5\n1,0.1,2.4\n2,0.1,2.3\n"


def test_a_file_that_is_not_a_recording_is_never_written_over(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("name,value\nkeep,1\n")
    recorder = RunRecorder(path)
    with pytest.raises(InvalidInput, match="not a run budgetlr recorded"):
        recorder.record(0, 0.1, 1.0)
    assert path.read_text() == "name,value\nkeep,1\n"


@pytest.mark.parametrize(
    "path, every, message",
    [(".", 50, "is a folder"), ("missing/run.csv", 50, "is not a folder"), ("run.csv", 0, "every must be")],
)
def test_bad_arguments_are_refused_in_one_line(tmp_path, monkeypatch, path, every, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInput, match=message):
        RunRecorder(path, every=every)


def test_steps_must_increase(tmp_path):
    recorder = RunRecorder(tmp_path / "run.csv")
    recorder.record(0, 0.1)
    with pytest.raises(InvalidInput, match="steps must increase"):
        recorder.record(0, 0.1)


class OnDevice(torch.Tensor):
    """A loss that says it lives on a GPU, where reading it alone would wait for the device."""

    @property
    def is_cpu(self):
        return False

    def item(self):
        raise AssertionError("a loss on a device was read on its own")


def test_losses_on_a_device_are_held_and_read_together_at_each_write(tmp_path):
    path = tmp_path / "run.csv"
    recorder = RunRecorder(path, every=3)
    for step in range(4):
        recorder.record(step, 0.1, torch.tensor(1.5 + step).as_subclass(OnDevice))
        if step < 2:
            assert path.read_text() == "step,lr,loss\n"
    assert path.read_text() == "step,lr,loss\n0,0.1,1.5\n1,0.1,2.5\n2,0.1,3.5\n"
    recorder.close()
    assert path.read_text().endswith("2,0.1,3.5\n3,0.1,4.5\n")


def test_a_loss_of_more_than_one_number_is_refused(tmp_path):
    recorder = RunRecorder(tmp_path / "run.csv", every=1)
    with pytest.raises(InvalidInput, match=r"one number, got a tensor of shape \(2,\)"):
        recorder.record(0, 0.1, torch.ones(2).as_subclass(OnDevice))
