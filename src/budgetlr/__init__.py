"""budgetlr: learning-rate schedules for budgeted training, measured."""

from budgetlr.schedules import FAMILIES, BoundSchedule, Schedule, parse, refine, schedule

__version__ = "0.2.0"

__all__ = ["FAMILIES", "BoundSchedule", "Schedule", "__version__", "parse", "refine", "schedule"]
