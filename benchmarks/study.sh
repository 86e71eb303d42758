#!/usr/bin/env bash
# The whole evidence study of docs/study.md, from nothing, in one command (about 2 h 45 min on two
# idle cores: 322 core-minutes of trials measured, then WSD-S and PBT; docs/benchmark.md, "The study's cost"):
#
#   benchmarks/study.sh [OUT]   # default study-results; a rerun resumes the sweep (WSD-S and PBT run again)
#
# The sweep may be stopped at any point and spread over several sittings: every finished trial is
# stored, and the next run skips it.
#
# 1. the study suite (budgetlr bench --suite study) and the runs at the peak LRs its power laws
# predict for the largest budget (budgetlr lr-transfer), 2. WSD branches and WSD-S on each of its workloads,
# 3. population based training at budget 0.25 on two workloads, 4. the results page and its plots,
# 5. a slim copy of the database (no per-step curves or gradient norms) next to the page.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-study-results}
BUDGETLR=${BUDGETLR:-.venv/bin/budgetlr}

"$BUDGETLR" bench --suite study --out "$OUT" --no-report
# the peak LR each schedule's power law (fitted on the 3 smaller budgets) predicts for the largest
"$BUDGETLR" lr-transfer --suite study --out "$OUT"
for workload in quadratic "quadratic(kappa=10000.0)" mnist1d-cnn; do
  "$BUDGETLR" wsd-s --workload "$workload" --seeds 0,1,2 --out "$OUT"
done
"$BUDGETLR" pbt --workload quadratic --budget-fraction 0.25 --population 8 --interval 25 --out "$OUT"
"$BUDGETLR" pbt --workload mnist1d-cnn --budget-fraction 0.25 --population 8 --interval 30 --out "$OUT"

mkdir -p docs/study
python3 benchmarks/copy_database.py "$OUT/results.db" docs/study/results.db curves grad_norms
cp "$OUT/wsd-s.json" docs/study/
"$BUDGETLR" results --out docs/study --write docs/study.md
