"""Lightning: a real Trainer.fit, checkpoint, resume; the LR sequence equals the uninterrupted run's."""

import lightning
import numpy as np
import pytest
import torch

from budgetlr.integrations.lightning import configure_optimizers

#: Every test here trains a model, starts Ray or runs the CLI's sweeps.
pytestmark = pytest.mark.slow

SPEC = "uba(phi=0.5, warmup=0.1)"


class Model(lightning.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=0.01)
        return configure_optimizers(self, optimizer, SPEC)

    def train_dataloader(self):
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(64, 4, generator=generator)
        data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
        return torch.utils.data.DataLoader(data, batch_size=8)


class RecordLR(lightning.Callback):
    def __init__(self, stop_after_epoch=None):
        self.lrs, self.stop_after_epoch = [], stop_after_epoch

    def on_train_batch_start(self, trainer, *_):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_train_epoch_end(self, trainer, _):
        if trainer.current_epoch + 1 == self.stop_after_epoch:
            trainer.should_stop = True


def trainer(tmp_path, callbacks, **kwargs):
    return lightning.Trainer(max_epochs=4, accelerator="cpu", logger=False, enable_progress_bar=False,
                             enable_model_summary=False, default_root_dir=tmp_path, callbacks=callbacks, **kwargs)  # fmt: skip


def test_fit_checkpoint_and_resume_give_the_uninterrupted_lr_sequence(tmp_path):
    straight = RecordLR()
    trainer(tmp_path / "a", [straight], enable_checkpointing=False).fit(Model())
    assert len(straight.lrs) == 32  # 4 epochs x 8 batches: stepped per batch, not per epoch

    first = RecordLR(stop_after_epoch=2)
    checkpoints = lightning.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trainer(tmp_path / "b", [first, checkpoints]).fit(Model())
    resumed = RecordLR()
    trainer(tmp_path / "c", [resumed], enable_checkpointing=False).fit(
        Model(), ckpt_path=tmp_path / "ckpt" / "last.ckpt"
    )
    assert first.lrs + resumed.lrs == straight.lrs

    from budgetlr import schedule

    assert straight.lrs == pytest.approx(schedule(SPEC, 32).lr(range(32), 0.01).tolist(), rel=1e-12)


def test_the_budget_follows_max_steps():
    class Stepped(Model):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            out = configure_optimizers(self, optimizer, "cosine")
            self.budget = out["lr_scheduler"]["scheduler"].total_steps
            assert out["lr_scheduler"]["interval"] == "step"
            return out

    model = Stepped()
    lightning.Trainer(max_steps=20, accelerator="cpu", logger=False, enable_progress_bar=False,
                      enable_checkpointing=False, enable_model_summary=False).fit(model)  # fmt: skip
    assert model.budget == 20


class TimedModel(Model):
    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        out = configure_optimizers(self, optimizer, "cosine(warmup=0.05, floor=0.1)")
        self.scheduler = out["lr_scheduler"]["scheduler"]
        return out


class AtStart(lightning.Callback):
    def on_train_start(self, trainer, module):
        self.plan = (module.scheduler.last_epoch, module.scheduler.total_steps)


def assert_at_the_floor_when_lightning_stopped(scheduler):
    # The scheduler steps before Lightning's timer checks the time, so it has reached its planned
    # last step, the LR at the floor (0.1 x 0.1), unless the process stalled between the two for
    # longer than the time left (on a loaded machine): then Lightning stopped it one step before.
    if scheduler.finished:
        assert scheduler.get_last_lr() == pytest.approx([0.1 * 0.1], rel=1e-12)
    else:
        assert scheduler.total_steps - scheduler.last_epoch == 1


class StopAt(lightning.Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, *_):
        if trainer.global_step == self.step:
            trainer.should_stop = True


def timed_trainer(tmp_path, callbacks=()):
    return lightning.Trainer(max_time={"seconds": 3}, accelerator="cpu", logger=False, enable_progress_bar=False,
                             enable_checkpointing=False, enable_model_summary=False, default_root_dir=tmp_path,
                             callbacks=list(callbacks))  # fmt: skip


@pytest.mark.slow
def test_max_time_is_the_budget_and_the_lr_is_at_the_floor_when_the_timer_stops(tmp_path):
    model, timer = TimedModel(), timed_trainer(tmp_path)
    timer.fit(model)
    scheduler = model.scheduler
    assert str(scheduler.budget) == "3 seconds"
    assert next(c for c in timer.callbacks if type(c).__name__ == "Timer").time_elapsed() >= 3.0
    assert_at_the_floor_when_lightning_stopped(scheduler)
    assert scheduler.last_epoch == timer.global_step > 5  # stepped once per optimizer step


@pytest.mark.slow
def test_max_time_resumes_the_saved_clock_and_plan(tmp_path):
    first_model, first = TimedModel(), timed_trainer(tmp_path / "a", [StopAt(10)])
    first.fit(first_model)
    saved = first_model.scheduler.state_dict()
    first.save_checkpoint(tmp_path / "stopped.ckpt")

    model, start = TimedModel(), AtStart()
    resumed = timed_trainer(tmp_path / "b", [start])
    resumed.fit(model, ckpt_path=tmp_path / "stopped.ckpt")
    # The resumed scheduler started from the checkpoint's plan and elapsed time, not afresh.
    assert saved["last_epoch"] == 10 and saved["meter"]["elapsed"] < 3.0
    assert start.plan == (10, saved["plan"]["total_steps"])
    assert model.scheduler.last_epoch == resumed.global_step > 10
    assert_at_the_floor_when_lightning_stopped(model.scheduler)
    assert next(c for c in resumed.callbacks if type(c).__name__ == "Timer").time_elapsed() >= 3.0


class Stream(torch.utils.data.IterableDataset):
    def __iter__(self):
        generator = torch.Generator().manual_seed(0)
        for _ in range(16):
            x = torch.randn(4, generator=generator)
            yield x, x.sum(0, keepdim=True)


@pytest.mark.parametrize(
    ("limits", "data"),
    [({"max_epochs": -1}, None), ({"max_epochs": 2}, torch.utils.data.DataLoader(Stream(), batch_size=4))],
)
def test_an_unknown_budget_is_refused_in_one_line_saying_how_to_give_one(limits, data):
    # max_epochs=-1 trains until stopped; an IterableDataset has no length: neither has a budget.
    fit = lightning.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                            enable_checkpointing=False, enable_model_summary=False, **limits)  # fmt: skip
    with pytest.raises(ValueError, match=r"needs a finite budget.*max_steps=N.*total_steps=N") as error:
        fit.fit(Model(), data)
    assert "\n" not in str(error.value)


class LoggedModel(Model):
    """Keeps each batch's loss as a float, an independent record of what was trained on."""

    def __init__(self):
        super().__init__()
        self.batch_losses = []

    def training_step(self, batch, index):
        loss = super().training_step(batch, index)
        self.batch_losses.append(loss.item())
        return loss


class LRBeforeStep(lightning.Callback):
    def __init__(self):
        self.lrs = []

    def on_before_optimizer_step(self, trainer, _, optimizer):
        self.lrs.append(optimizer.param_groups[0]["lr"])


def test_record_run_writes_each_optimizer_steps_lr_and_loss_and_resumes(tmp_path):
    from budgetlr.integrations.lightning import RecordRun

    model, lrs, path = LoggedModel(), LRBeforeStep(), tmp_path / "run.csv"
    trainer(tmp_path / "a", [RecordRun(path, every=3), lrs], enable_checkpointing=False,
            accumulate_grad_batches=2).fit(model)  # fmt: skip
    lines = path.read_text().splitlines()
    assert lines[0] == "step,lr,loss" and len(lines) == 1 + 16  # 4 epochs x 8 batches / 2
    steps, recorded_lrs, losses = zip(*(map(float, line.split(",")) for line in lines[1:]), strict=True)
    assert steps == tuple(range(16)) and list(recorded_lrs) == lrs.lrs
    # The step's loss is the mean of its two batches' losses.
    pairs = np.array(model.batch_losses).reshape(16, 2).mean(axis=1)
    np.testing.assert_allclose(losses, pairs, rtol=1e-6)

    # Stopped after 2 epochs (8 steps), resumed from the checkpoint of epoch 1: steps 4..7 redone.
    stopped = tmp_path / "resumed.csv"
    checkpoints = lightning.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=-1)
    trainer(tmp_path / "b", [RecordRun(stopped, every=3), RecordLR(stop_after_epoch=2), checkpoints],
            accumulate_grad_batches=2).fit(LoggedModel())  # fmt: skip
    assert len(stopped.read_text().splitlines()) == 1 + 8
    trainer(tmp_path / "c", [RecordRun(stopped, every=3)], accumulate_grad_batches=2).fit(
        LoggedModel(), ckpt_path=tmp_path / "ckpt" / "epoch=0-step=4.ckpt"
    )
    assert stopped.read_text() == path.read_text()
