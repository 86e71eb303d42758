#!/usr/bin/env bash
# Setup and run: installs budgetlr into .venv and runs the main job on its built-in defaults, the
# quick benchmark suite. Its report lands in budgetlr-results/.
# Rerunning resumes: finished trials are kept in budgetlr-results/results.db.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
.venv/bin/budgetlr bench "$@"
