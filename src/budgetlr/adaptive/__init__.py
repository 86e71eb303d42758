"""Adaptive methods, their maths: curvature estimates (:mod:`.curvature`) and UBA's phi from them
(:mod:`.phi`). What runs trials with them lives above: :mod:`budgetlr.bench.curvature` (a
workload's curvature), :mod:`budgetlr.study.refine` and :mod:`budgetlr.study.pbt`."""
