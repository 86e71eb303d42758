"""transformers: a tiny randomly initialised GPT-2 trained by the real Trainer, checkpointed and
resumed; the LR sequence equals the uninterrupted run's. Nothing is downloaded. test.sh runs this
file twice: with the newest transformers and with the lowest that the hf extra allows."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

from budgetlr import schedule
from budgetlr.integrations.transformers import BudgetScheduleMixin, make_scheduler, training_steps

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


def train(out, resume=None, **overrides):
    settings = dict(output_dir=str(out), num_train_epochs=6, per_device_train_batch_size=8, warmup_steps=3,
                    save_steps=12, logging_steps=100, report_to=[], use_cpu=True, seed=0, disable_tqdm=True)  # fmt: skip
    args = TrainingArguments(**{**settings, **overrides})
    network, data = model(), dataset()
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3)
    scheduler = make_scheduler(optimizer, SPEC, args, train_examples=len(data))
    recorder = RecordLR()
    trainer = Trainer(
        network, args, train_dataset=data, optimizers=(optimizer, scheduler), callbacks=[recorder]
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
