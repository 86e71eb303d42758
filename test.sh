#!/usr/bin/env bash
# The test command. Brings .venv to the committed lock locks/test.txt (every extra), lints, checks
# the import layers and the type hints, and runs the test suite; then the floor pass, in its own
# .venv-floor built from locks/floor.txt, where every direct dependency is at the lowest version
# pyproject.toml allows: the core tests and the transformers tests run there again.
# The tests run on 2 processes (pytest-xdist), a test file each at a time, so that a file's
# module-wide fixtures (a sweep, a Ray head, .venv-core) are made once.
# `./test.sh -m "not slow"` is the fast loop. Both environments come from the locks only: when
# pyproject.toml's dependencies changed since, this fails at once, naming scripts/lock.sh.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-logo
.venv/bin/mypy
# The library (what pyproject.toml's import contracts call the library), strictly.
library=(__init__.py meters.py errors.py spec.py _extras.py files.py recording.py plotting.py torch.py optax.py preview.py
    schedules plan integrations adaptive)
.venv/bin/mypy --strict "${library[@]/#/src/budgetlr/}"
.venv/bin/python -m pytest -n 2 --dist loadfile "$@"

scripts/bootstrap.sh floor
floor() { .venv-floor/bin/python -m pytest -q -p no:cacheprovider "$@"; }
floor -m "not slow" -n 2 --dist loadfile
floor -k transformers tests/integrations/test_transformers.py tests/integrations/test_docs_examples.py
