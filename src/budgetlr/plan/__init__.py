"""Plan a budget from your own runs: fit a loss-curve law to a few runs and predict any schedule's
curve (numpy and scipy: ``pip install 'budgetlr[plan]'``).

>>> import numpy as np
>>> from budgetlr.plan import LAWS, Run, fit
>>> lrs = np.concatenate([np.linspace(0, 1e-3, 100), np.full(900, 1e-3)])
>>> steps = np.arange(100, 1000, 50)
>>> truth = 2.0 + 0.5 * (steps + 1.0) ** -0.5
>>> result = fit([Run("demo", lrs, steps, truth)], law="power", replicates=0)
>>> round(result.parameters["L0"], 3), round(result.parameters["alpha"], 3)
(2.0, 0.5)
"""

from budgetlr._extras import require

require("scipy", "plan", "budgetlr.plan")
require("tqdm", "plan", "budgetlr.plan")

from budgetlr.plan.bound import TunedBound, tuned_bound  # noqa: E402
from budgetlr.plan.designing import FAMILIES, Candidate, Design, Gain, budget_steps, design  # noqa: E402
from budgetlr.plan.fitting import Fit, RunFit, fit  # noqa: E402
from budgetlr.plan.laws import LAWS, Law, law_named, predicted_loss  # noqa: E402
from budgetlr.plan.peaks import LawPeak, PeakLR, peak_lr  # noqa: E402
from budgetlr.plan.predict import Prediction, predict_lrs, predict_schedule  # noqa: E402
from budgetlr.plan.runs import Run, read_run, run_from_spec, write_run  # noqa: E402
from budgetlr.plan.storage import load_fit, save_fit  # noqa: E402

__all__ = [
    "FAMILIES",
    "LAWS",
    "Candidate",
    "Design",
    "Fit",
    "Gain",
    "Law",
    "LawPeak",
    "PeakLR",
    "Prediction",
    "Run",
    "RunFit",
    "TunedBound",
    "budget_steps",
    "design",
    "fit",
    "law_named",
    "load_fit",
    "peak_lr",
    "predict_lrs",
    "predict_schedule",
    "predicted_loss",
    "read_run",
    "run_from_spec",
    "save_fit",
    "tuned_bound",
    "write_run",
]
