"""Pure schedule maths: one module per family, a registry and spec parsing. Imports no torch."""

from budgetlr.schedules import anytime, array, classic, infinite, onecycle, power, refined, rex, uba, wsd
from budgetlr.schedules.base import Schedule
from budgetlr.schedules.bound import BoundSchedule, schedule
from budgetlr.schedules.budget import Budget
from budgetlr.schedules.refined import refine
from budgetlr.schedules.registry import FAMILIES, keys_of, parse
from budgetlr.schedules.shapes import SHAPES
from budgetlr.spec import split_specs

__all__ = [
    "FAMILIES",
    "SHAPES",
    "BoundSchedule",
    "Budget",
    "Schedule",
    "anytime",
    "array",
    "classic",
    "infinite",
    "keys_of",
    "onecycle",
    "parse",
    "power",
    "refine",
    "refined",
    "rex",
    "schedule",
    "split_specs",
    "uba",
    "wsd",
]
