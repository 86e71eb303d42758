#!/usr/bin/env bash
# The fair study (docs/benchmark.md, "The fair study"), resumable across sittings:
#
#   benchmarks/fair_study.sh [OUT]            # default study-results/fair; about 7 h with one worker (WORKERS=2: two)
#   benchmarks/fair_study.sh --snapshot [OUT] # copy OUT's finished trials to docs/results/results.db
#   benchmarks/fair_study.sh --page [OUT]     # the same, and the page docs/results.md from them
#
# Every finished trial is stored, and a rerun skips it; stop a run with Ctrl-C, or with `kill PID`
# (SIGTERM) where it runs in the background (a background job ignores Ctrl-C's SIGINT). A sitting
# ends with --page (or --snapshot), which copies the database (trials and their curves as the
# planner reads them, without per-step gradient norms) to docs/results/results.db, the page's
# database; the next sitting's run starts from that copy when OUT holds no database yet.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGETLR=${BUDGETLR:-.venv/bin/budgetlr}
SNAPSHOT=${FAIR_SNAPSHOT:-docs/results/results.db}
FOLDER=$(dirname "$SNAPSHOT") # the page's folder: docs/results, and its page docs/results.md

if [[ ${1:-} == --snapshot || ${1:-} == --page ]]; then
  OUT=${2:-study-results/fair}
  mkdir -p "$FOLDER"
  python3 benchmarks/copy_database.py "$OUT/results.db" "$SNAPSHOT" grad_norms claims
  echo "copied $OUT/results.db to $SNAPSHOT"
  if [[ $1 == --page ]]; then
    "$BUDGETLR" results --suite fair --out "$FOLDER" --write "$FOLDER.md"
  fi
  exit 0
fi

OUT=${1:-study-results/fair}
if [[ ! -e $OUT/results.db && -e $SNAPSHOT ]]; then
  mkdir -p "$OUT"
  cp "$SNAPSHOT" "$OUT/results.db"
  echo "resuming from $SNAPSHOT"
fi
"$BUDGETLR" bench --suite fair --workers "${WORKERS:-1}" --out "$OUT" --no-report
