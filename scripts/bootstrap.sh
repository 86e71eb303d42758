#!/usr/bin/env bash
# Brings a virtual environment to one of the committed locks (scripts/lock.sh refreshes them),
# then installs budgetlr into it, editable, leaving its dependencies alone:
#   scripts/bootstrap.sh run     .venv holds locks/run.txt's versions (./run.sh)
#   scripts/bootstrap.sh test    .venv is exactly locks/test.txt (./test.sh)
#   scripts/bootstrap.sh floor   .venv-floor is exactly locks/floor.txt (./test.sh's floor pass)
# run only adds what is missing, so that it keeps the test tools of an .venv that ./test.sh built;
# the run lock takes the test lock's versions, so nothing is ever changed to another version.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
environment=${1:-run}
case $environment in
    run) venv=.venv command=(install -r) ;;
    test) venv=.venv command=(sync) ;;
    floor) venv=.venv-floor command=(sync) ;;
    *) echo "usage: scripts/bootstrap.sh [run|test|floor]" >&2 && exit 2 ;;
esac
"$python" scripts/check_locks.py
uv=$(scripts/uv.sh)
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$uv" pip "${command[@]}" "locks/$environment.txt" --quiet --python "$venv/bin/python" --require-hashes
"$uv" pip install --quiet --python "$venv/bin/python" --no-deps --no-build-isolation -e .
