#!/usr/bin/env bash
# The test command: installs what it needs into .venv, lints, checks the import layers and the
# type hints, then runs the test suite. `./test.sh -m "not slow"` is the fast loop.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh bench,ray,lightning,hf,jax,optuna,test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-logo
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
