"""The project's own error for bad input: a spec, a value, a file or a database that cannot be used.

It subclasses ``ValueError``, so callers that catch ``ValueError`` keep working. The CLI reports
it in one line (exit 2); any other exception is a bug and keeps its traceback.
"""


class InvalidInput(ValueError):
    """Input budgetlr refuses, with a message that names the problem."""
