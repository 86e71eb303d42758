"""The user's path, end to end as docs/plan.md tells it: two short Lightning runs recorded
(constant and decayed LR), budgetlr plan fit, budgetlr plan design for the real budget, a run
with the designed schedule, and its final loss against the prediction and against cosine."""

import json
import subprocess
import sys
from pathlib import Path

import lightning
import pytest
import torch

from budgetlr.integrations.lightning import RecordRun, configure_optimizers

pytestmark = pytest.mark.slow

BUDGETLR = str(Path(sys.executable).parent / "budgetlr")
SHORT, REAL, PEAK, WARMUP = 400, 1200, 0.05, 20
SAMPLES, BATCH, NOISE = 4096, 64, 0.3


def data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(SAMPLES, 16, generator=generator)
    teacher = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    torch.manual_seed(1)
    for layer in teacher:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, std=0.7)
    with torch.no_grad():
        clean = teacher(x)
        y = (clean - clean.mean()) / clean.std() + NOISE * torch.randn(SAMPLES, 1, generator=generator)
    return x, y


class Regression(lightning.LightningModule):
    def __init__(self, spec, steps):
        super().__init__()
        self.spec, self.steps = spec, steps
        torch.manual_seed(2)
        self.net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=PEAK, momentum=0.9)
        return configure_optimizers(self, optimizer, self.spec, total_steps=self.steps)

    def train_dataloader(self):
        x, y = data()
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x, y),
            batch_size=BATCH,
            shuffle=True,
            generator=torch.Generator().manual_seed(3),
        )
        return loader


def train(spec, steps, record=None):
    """Trains ``spec`` for ``steps``; returns the final mean loss over the whole training set."""
    model = Regression(spec, steps)
    callbacks = [] if record is None else [RecordRun(record)]
    lightning.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_progress_bar=False,
                      enable_model_summary=False, enable_checkpointing=False, callbacks=callbacks,
                      log_every_n_steps=50).fit(model)  # fmt: skip
    x, y = data()
    with torch.no_grad():
        return torch.nn.functional.mse_loss(model.net(x), y).item()


def budgetlr(*argv):
    done = subprocess.run([BUDGETLR, *map(str, argv)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_record_fit_design_train_and_compare(tmp_path):
    torch.set_num_threads(1)
    warmup = f"warmup_steps={WARMUP}"
    train(f"constant({warmup})", SHORT, tmp_path / "constant.csv")
    train(f"cosine({warmup})", SHORT, tmp_path / "cosine.csv")
    fit = tmp_path / "fit.json"
    budgetlr("plan", "fit", tmp_path / "constant.csv", tmp_path / "cosine.csv", "--law", "mpl", "--out", fit,
             "--replicates", "4", "--quiet")  # fmt: skip
    design = json.loads(budgetlr("plan", "design", fit, "--steps", REAL, "--peak", PEAK, "--warmup-steps", WARMUP,
                                 "--json", "--quiet"))  # fmt: skip
    designed = train(design["best"]["spec"], REAL)
    cosine = train(f"cosine({warmup})", REAL)
    predicted_cosine = json.loads(budgetlr("plan", "predict", fit, "--schedule", f"cosine({warmup})", "--steps", REAL,
                                           "--peak", PEAK, "--json"))["final_loss"]  # fmt: skip
    predicted, gain = design["best"]["final_loss"], design["gains"][0]
    assert design["extrapolation"] == [
        f"horizon {REAL} steps lies past the longest fitted run ({SHORT} steps)"
    ]
    # Measured (docs/plan.md): wsd(decay=0.05, shape=cosine) ends at 0.129 and cosine at 0.163, a
    # real gain of 21%; the law predicted 0.168 and 0.182: it overstates the designed run's loss by
    # 30% and cosine's by 12%, so it predicts a gain (0.014, above its interval) smaller than the real one.
    assert design["best"]["spec"].startswith("wsd(") and gain["exceeds_interval"]
    assert designed < 0.9 * cosine
    assert designed < predicted < 1.4 * designed
    assert abs(predicted_cosine - cosine) / cosine < 0.15
