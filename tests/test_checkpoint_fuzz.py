"""A seeded fuzz of ``BudgetScheduler.load_state_dict``: every field of a checkpoint (its plan's and
its meter's included), replaced by each value of a wrong type or out of range, is refused in one
line with the scheduler and the optimizer's LRs unchanged, or loads and gives finite LRs within
[0, the checkpoint's base LR] for the rest of the run."""

import copy
import math
import random

import pytest
import torch

from budgetlr.torch import BudgetScheduler

PEAK = 0.1
SPEC = "cosine(warmup=0.1)"
BAD = [None, "x", "100", True, -1, -10, -3.0, 0, 0.0, math.nan, math.inf, -math.inf, 1e308, 100.0,
       10**12, [], {}, [1.0], "bogus"]  # fmt: skip


class Run:
    """A scheduler on one parameter under a budget in steps, tokens or seconds (a simulated clock)."""

    def __init__(self, kind):
        self.kind, self.now = kind, [0.0]
        self.optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=PEAK)
        options = {
            "steps": {"total_steps": 100},
            "tokens": {"budget": "10000 tokens", "per_step": 100},
            "seconds": {"budget": "100s", "clock": lambda: self.now[0]},
        }[kind]
        self.scheduler = BudgetScheduler(self.optimizer, SPEC, **options)

    def step(self):
        self.now[0] += 1.0
        self.optimizer.step()
        self.scheduler.step(**({"tokens": 100} if self.kind == "tokens" else {}))
        return self.optimizer.param_groups[0]["lr"]


def fields(state):
    """Every path into the checkpoint: its keys, its plan's and meter's, and the lists' first entries."""
    for key, value in state.items():
        yield (key,)
        if isinstance(value, dict):
            yield from ((key, inner) for inner in value)
            yield from (
                (key, inner, 0) for inner, entry in value.items() if isinstance(entry, list) and entry
            )
        elif isinstance(value, list) and value:
            yield (key, 0)


def replaced(state, path, value):
    state = copy.deepcopy(state)
    target = state
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return state


@pytest.mark.parametrize("kind", ["steps", "tokens", "seconds"])
def test_every_malformed_field_is_refused_in_one_line_or_loads_to_finite_lrs(kind):
    saved = Run(kind)
    for _ in range(30):
        saved.step()
    checkpoint = saved.scheduler.state_dict()
    cases = [(path, value) for path in fields(checkpoint) for value in BAD]
    random.Random(0).shuffle(cases)  # seeded: a failure names a reproducible case
    refused = 0
    for path, value in cases:
        run = Run(kind)
        for _ in range(10):
            run.step()
        before = copy.deepcopy(run.scheduler.state_dict()), [g["lr"] for g in run.optimizer.param_groups]
        try:
            run.scheduler.load_state_dict(replaced(checkpoint, path, value))
        except ValueError as error:
            refused += 1
            assert "\n" not in str(error), (path, value, str(error))
            after = run.scheduler.state_dict(), [g["lr"] for g in run.optimizer.param_groups]
            assert after == before, (path, value)
            continue
        peak = run.scheduler.base_lrs[0]  # a checkpoint's base LR is its run's peak
        lrs = [run.step() for _ in range(120)]
        assert all(math.isfinite(lr) and 0.0 <= lr <= peak * (1 + 1e-12) for lr in lrs), (path, value)
    assert refused > len(cases) // 2  # most wrong values are refused, not silently taken up


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("plan", "scale"), math.nan, r"plan\.scale must be a finite number >= 0"),
        (("plan", "scale"), -3.0, r"plan\.scale must be a finite number >= 0"),
        (("plan", "scale"), "x", r"plan\.scale must be a number"),
        (("plan", "cooldown_from"), -5.0, r"plan\.cooldown_from must be a finite number \[0, 1\]"),
        (("plan", "cooldown_shape"), "bogus", r"plan\.cooldown_shape 'bogus' is not one of"),
        (("plan", "total_steps"), 100.0, r"plan\.total_steps must be a whole number >= 1, got 100\.0"),
        (("plan", "total_steps"), "100", r"plan\.total_steps must be a whole number >= 1, got '100'"),
        (("plan", "anchor"), -10, r"plan\.anchor must be a whole number >= 0"),
        (("_last_lr",), ["0.1"], r"_last_lr must be finite numbers >= 0"),
    ],
)
def test_the_issues_cases_are_refused_naming_the_field(path, value, message):
    saved = Run("steps")
    saved.step()
    with pytest.raises(ValueError, match=message):
        Run("steps").scheduler.load_state_dict(replaced(saved.scheduler.state_dict(), path, value))


@pytest.mark.parametrize(
    ("kind", "field", "value", "message"),
    [
        ("tokens", "consumed", math.nan, r"meter\.consumed must be a finite number >= 0"),
        ("tokens", "consumed", -500, r"meter\.consumed must be a finite number >= 0"),
        ("tokens", "last", 0, r"meter\.last must be > 0"),
        ("seconds", "durations", [-1.0], r"meter\.durations must be a finite number >= 0"),
        ("seconds", "elapsed", -2.0, r"meter\.elapsed must be a finite number >= 0"),
    ],
)
def test_a_malformed_meter_is_refused_naming_the_field(kind, field, value, message):
    saved = Run(kind)
    saved.step()
    with pytest.raises(ValueError, match=message):
        Run(kind).scheduler.load_state_dict(replaced(saved.scheduler.state_dict(), ("meter", field), value))


@pytest.mark.parametrize("state", [None, 5, "state", [], {"meter": {}}])
def test_what_is_not_a_checkpoint_is_refused_in_one_line(state):
    with pytest.raises(ValueError, match="not a BudgetScheduler checkpoint"):
        Run("steps").scheduler.load_state_dict(state)
