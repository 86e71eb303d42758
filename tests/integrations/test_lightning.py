"""Lightning: a real Trainer.fit, checkpoint, resume; the LR sequence equals the uninterrupted run's."""

import lightning
import pytest
import torch

from budgetlr.integrations.lightning import configure_optimizers

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
