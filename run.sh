#!/usr/bin/env bash
# Setup and run: installs budgetlr into .venv and runs the main job on its built-in defaults.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
mkdir -p budgetlr-results
.venv/bin/budgetlr show "uba(phi=0.5, warmup=0.05)" "cosine(warmup=0.05)" "linear(warmup=0.05)" \
    "rex(warmup=0.05)" "wsd(warmup=0.05, decay=0.2, shape=1-sqrt)" \
    --steps 1000 --plot budgetlr-results/schedules.png --csv budgetlr-results/schedules.csv
