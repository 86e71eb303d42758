"""Helpers for the trainers people use: Lightning, the transformers Trainer; see also
:mod:`budgetlr.optax` for JAX. Each needs its extra, and says so in one line when it is missing."""

from budgetlr._extras import MissingExtra, require

__all__ = ["MissingExtra", "require"]
