#!/usr/bin/env bash
# How long `import budgetlr` and the light commands take to start, and which heavy modules they load,
# for the working tree and earlier revisions side by side, in one run (docs/architecture.md,
# "Import times"):
#
#   benchmarks/import_time.sh [REV ...]      # e.g. benchmarks/import_time.sh c58eeca ffb1253
#
# Each REV is checked out into a temporary worktree and run with .venv's Python (every extra
# installed), its src/ first on PYTHONPATH; "new" is the working tree. hyperfine (Debian's package)
# times each command over RUNS runs (default 20) after 3 warm-ups; `python -X importtime` tells which
# of torch, matplotlib and scipy each command loads.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$PWD/.venv/bin/python}
RUNS=${RUNS:-20}
# Compiled modules are cached (__pycache__), as on a user's machine: warm-ups write the caches.
unset PYTHONDONTWRITEBYTECODE
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"; git -C "$repo" worktree prune' EXIT
sources=()
for rev in "$@"; do
    git worktree add --quiet --detach "$work/rev-$rev" "$rev"
    sources+=("$rev=$work/rev-$rev/src")
done
sources+=("new=$PWD/src")
cd "$work"  # no budgetlr on the current folder's path: each run takes its own src/

# A fit file for `plan predict` (the old revisions have no planner: their runs fail, marked n/a).
cat > fit.json <<'JSON'
{"format": "budgetlr-fit", "version": 1, "law": "power", "parameters": {"L0": 1.0, "A": 1.0, "alpha": 0.5},
 "objective": 0.0, "runs": [{"name": "a", "total_steps": 10, "peak": 1.0, "points": 5, "pred_e": 0.0}],
 "samples": [], "seed": 0, "seconds": 0.0}
JSON
commands=(
    "import budgetlr=-c 'import budgetlr'"
    "budgetlr list=-m budgetlr list"
    "budgetlr show cosine --steps 100=-m budgetlr show cosine --steps 100"
    "budgetlr plan predict=-m budgetlr plan predict fit.json --schedule cosine --steps 1000 --peak 0.1"
)

echo "| command | revision | heavy modules loaded |"
echo "|---|---|---|"
for command in "${commands[@]}"; do
    name=${command%%=*}
    arguments=${command#*=}
    for source in "${sources[@]}"; do
        label=${source%%=*}
        if ! PYTHONPATH=${source#*=} eval "\"$PYTHON\" -X importtime $arguments" >/dev/null 2>importtime.log; then
            echo "| \`$name\` | $label | n/a (fails) |"
            continue
        fi
        heavy=$(grep -oE '\| +(torch|matplotlib|scipy)$' importtime.log | tr -d '| ' | sort -u | paste -sd, - || true)
        echo "| \`$name\` | $label | ${heavy:-none} |"
    done
done
echo

for command in "${commands[@]}"; do
    name=${command%%=*}
    arguments=${command#*=}
    runs=()
    names=()
    for source in "${sources[@]}"; do
        label=${source%%=*}
        PYTHONPATH=${source#*=} eval "\"$PYTHON\" $arguments" >/dev/null 2>&1 || continue
        runs+=("PYTHONPATH=${source#*=} $PYTHON $arguments")
        names+=(-n "$label")
    done
    echo "### \`$name\`"
    hyperfine --shell=bash --warmup 3 --runs "$RUNS" --style none --export-markdown table.md \
        "${names[@]}" "${runs[@]}" >/dev/null
    cat table.md
    echo
done
