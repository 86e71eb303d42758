"""Every docstring example in the package runs as written (the library's and the application's)."""

import doctest
import importlib
import pkgutil

import pytest

import budgetlr

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(budgetlr.__path__, "budgetlr.")
    if info.name != "budgetlr.__main__"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0
