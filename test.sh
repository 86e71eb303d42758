#!/usr/bin/env bash
# The test command: installs what it needs into .venv, lints, then runs the test suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh bench,ray,lightning,hf,jax,optuna,test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
