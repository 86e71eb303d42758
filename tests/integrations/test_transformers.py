"""transformers: a tiny randomly initialised GPT-2 trained by the real Trainer, checkpointed and
resumed; the LR sequence equals the uninterrupted run's. Nothing is downloaded. test.sh runs this
file twice: with the newest transformers and with the lowest that the hf extra allows."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

from budgetlr import schedule
from budgetlr.integrations.transformers import (
    BudgetCallback,
    BudgetScheduleMixin,
    RecordRun,
    make_scheduler,
    training_steps,
)
from budgetlr.torch import BudgetScheduler

#: Every test here trains a model, starts Ray or runs the CLI's sweeps.
pytestmark = pytest.mark.slow

SPEC = "wsd(decay=0.25, shape=1-sqrt)"


def model():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=1, n_head=2))


def dataset(size=40):
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 64, (size, 16), generator=generator)
    return [{"input_ids": row, "labels": row} for row in tokens]


class RecordLR(TrainerCallback):
    def __init__(self):
        self.lrs = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(optimizer.param_groups[0]["lr"])


def train(out, resume=None, callbacks=(), **overrides):
    settings = dict(output_dir=str(out), num_train_epochs=6, per_device_train_batch_size=8, warmup_steps=3,
                    save_steps=12, logging_steps=100, report_to=[], use_cpu=True, seed=0, disable_tqdm=True)  # fmt: skip
    args = TrainingArguments(**{**settings, **overrides})
    network, data = model(), dataset()
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3)
    scheduler = make_scheduler(optimizer, SPEC, args, train_examples=len(data))
    recorder = RecordLR()
    trainer = Trainer(
        network, args, train_dataset=data, optimizers=(optimizer, scheduler), callbacks=[recorder, *callbacks]
    )
    trainer.train(resume_from_checkpoint=resume)
    return recorder.lrs, trainer, scheduler


def test_train_checkpoint_and_resume_give_the_uninterrupted_lr_sequence(tmp_path):
    straight, trainer, scheduler = train(tmp_path / "a")
    assert scheduler.total_steps == trainer.state.max_steps == 30  # 6 epochs x 5 batches
    expected = schedule("wsd(decay=0.25, shape=1-sqrt, warmup_steps=3)", 30).lr(range(30), 1e-3)
    assert straight == pytest.approx(expected.tolist(), rel=1e-12)

    # The run's checkpoint at step 12 is the state of a run interrupted there; resuming from it
    # in a fresh Trainer, model, optimizer and scheduler must give the rest of the sequence.
    resumed, _, _ = train(tmp_path / "a", resume=str(tmp_path / "a" / "checkpoint-12"))
    assert resumed == straight[12:]


def test_record_run_writes_every_steps_lr_and_the_logged_loss_and_resumes(tmp_path):
    path = tmp_path / "run.csv"
    lrs, trainer, _ = train(tmp_path / "a", callbacks=[RecordRun(path)], logging_steps=4)
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    assert [int(step) for step, _, _ in rows] == list(range(30))
    assert [float(lr) for _, lr, _ in rows] == lrs
    # The Trainer's own log history: the mean loss of steps 1..4 logged at step 4, in row 3.
    logged = {entry["step"] - 1: entry["loss"] for entry in trainer.state.log_history if "loss" in entry}
    assert sorted(logged) == [3, 7, 11, 15, 19, 23, 27]
    assert {int(step): float(loss) for step, _, loss in rows if loss} == logged

    resumed = tmp_path / "resumed.csv"
    resumed.write_text("".join(path.read_text().splitlines(keepends=True)[:21]))  # a run killed at step 20
    train(
        tmp_path / "a",
        resume=str(tmp_path / "a" / "checkpoint-12"),
        callbacks=[RecordRun(resumed)],
        logging_steps=4,
    )
    assert resumed.read_text() == path.read_text()


class Counted(Exception):
    pass


class CountSteps(Trainer):
    """Stops train() where the Trainer hands its step count to create_scheduler, before any step."""

    def create_scheduler(self, num_training_steps, optimizer=None):
        raise Counted(num_training_steps)


@pytest.mark.parametrize(
    ("overrides", "examples", "steps"),
    [
        ({"max_steps": 17}, None, 17),
        ({"num_train_epochs": 3}, 40, 15),
        ({"num_train_epochs": 2.5}, 41, 15),
        ({"num_train_epochs": 2, "gradient_accumulation_steps": 2}, 40, 6),
        ({"num_train_epochs": 1, "dataloader_drop_last": True}, 41, 5),
        # 9 batches of 4 in groups of 2: the partial last group is an update step (4 + 1 per epoch).
        ({"num_train_epochs": 3, "gradient_accumulation_steps": 2, "per_device_train_batch_size": 4}, 35, 15),
    ],
)
def test_training_steps_match_the_trainer(tmp_path, overrides, examples, steps):
    settings = {"per_device_train_batch_size": 8, **overrides}
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True, **settings)
    assert training_steps(args, examples) == steps
    if examples is not None:
        with pytest.raises(Counted) as counted:
            CountSteps(model(), args, train_dataset=dataset(examples)).train()
        assert counted.value.args == (steps,)


class BudgetTrainer(BudgetScheduleMixin, Trainer):
    pass


def test_the_mixin_schedules_the_trainers_own_optimizer_over_its_own_step_count(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=3, per_device_train_batch_size=4,
                             gradient_accumulation_steps=2, learning_rate=1e-3, weight_decay=0.1,
                             warmup_steps=2, report_to=[], use_cpu=True, disable_tqdm=True, save_strategy="no")  # fmt: skip
    recorder = RecordLR()
    trainer = BudgetTrainer(model(), args, train_dataset=dataset(35), callbacks=[recorder], schedule=SPEC)
    trainer.train()
    assert trainer.state.max_steps == trainer.lr_scheduler.total_steps == 15
    # The Trainer's own AdamW with its weight-decay groups (biases and LayerNorms without decay).
    assert sorted(group["weight_decay"] for group in trainer.optimizer.param_groups) == [0.0, 0.1]
    expected = schedule("wsd(decay=0.25, shape=1-sqrt, warmup_steps=2)", 15).lr(range(15), 1e-3)
    assert recorder.lrs == pytest.approx(expected.tolist(), rel=1e-12)


def test_a_warmup_in_both_the_spec_and_the_arguments_is_refused(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), warmup_steps=5, report_to=[], use_cpu=True)
    message = r"give the warmup once: the spec .*warmup=0.1.* has its own warmup and TrainingArguments has warmup_steps=5"
    with pytest.raises(ValueError, match=message):
        BudgetTrainer(model(), args, train_dataset=dataset(), schedule="cosine(warmup=0.1)")
    optimizer = torch.optim.AdamW(model().parameters(), lr=1e-3)
    with pytest.raises(ValueError, match=message):
        make_scheduler(optimizer, "cosine(warmup=0.1)", args, train_examples=40)


def test_epochs_without_a_dataset_size_is_an_error(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=1, report_to=[], use_cpu=True)
    with pytest.raises(ValueError, match="give train_examples"):
        training_steps(args)


def train_on_budget(out, budget, spec, callbacks=(), **overrides):
    settings = dict(output_dir=str(out), max_steps=10**6, per_device_train_batch_size=8, save_strategy="no",
                    logging_steps=10**6, report_to=[], use_cpu=True, seed=0, disable_tqdm=True)  # fmt: skip
    args = TrainingArguments(**{**settings, **overrides})
    network, data = model(), dataset()
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3)
    scheduler = BudgetScheduler(optimizer, spec, budget=budget)
    recorder = RecordLR()
    trainer = Trainer(network, args, train_dataset=data, optimizers=(optimizer, scheduler),
                      callbacks=[recorder, BudgetCallback(scheduler), *(c(scheduler) for c in callbacks)])  # fmt: skip
    trainer.train()
    return recorder.lrs, trainer, scheduler


@pytest.mark.slow
def test_a_token_budget_counts_the_trainers_tokens_and_stops_at_the_budget(tmp_path):
    # 8 rows of 16 tokens a step: 5120 tokens are 40 steps, the same curve as a 40-step budget.
    lrs, trainer, scheduler = train_on_budget(
        tmp_path, "5120 tokens", SPEC, include_num_input_tokens_seen=True
    )
    assert trainer.state.num_input_tokens_seen == 5120 and trainer.state.global_step == 40
    assert lrs == pytest.approx(schedule(SPEC, 40).lr(range(40), 1e-3).tolist(), rel=1e-12)
    assert scheduler.finished and scheduler.get_last_lr() == [0.0]


def test_a_token_budget_needs_the_trainer_to_count_tokens(tmp_path):
    with pytest.raises(ValueError, match=r"set TrainingArguments\(include_num_input_tokens_seen=True\)"):
        train_on_budget(tmp_path, "3840 tokens", SPEC)
    with pytest.raises(ValueError, match="the Trainer counts tokens, not samples"):
        BudgetCallback(
            BudgetScheduler(torch.optim.SGD(model().parameters(), lr=0.1), SPEC, budget="10 samples")
        )


class ElapsedAtStepEnd(TrainerCallback):
    def __init__(self, scheduler):
        self.scheduler, self.elapsed = scheduler, None

    def on_step_end(self, args, state, control, **kwargs):
        self.elapsed = self.scheduler.deadline.elapsed()


@pytest.mark.slow
def test_a_time_budget_stops_the_trainer_at_the_deadline_with_the_lr_at_the_floor(tmp_path):
    lrs, trainer, scheduler = train_on_budget(tmp_path, "4s", "cosine(floor=0.1)", [ElapsedAtStepEnd])
    # The last step ended within two steps of the deadline (how close in a long run:
    # benchmarks/time_budget.py).
    stopped_at = next(
        c for c in trainer.callback_handler.callbacks if isinstance(c, ElapsedAtStepEnd)
    ).elapsed
    assert abs(stopped_at - 4.0) <= 2 * max(scheduler.deadline.durations)
    assert scheduler.finished and trainer.state.global_step == scheduler.last_epoch >= 3
    assert lrs[0] == 1e-3 and scheduler.get_last_lr() == pytest.approx([1e-4], rel=1e-12)
