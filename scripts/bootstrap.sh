#!/usr/bin/env bash
# Brings a virtual environment to one of the committed locks (scripts/lock.sh refreshes them),
# then installs budgetlr into it, editable, leaving its dependencies alone:
#   scripts/bootstrap.sh run     .venv holds locks/run.txt's versions (./run.sh)
#   scripts/bootstrap.sh test    .venv is exactly locks/test.txt (./test.sh)
#   scripts/bootstrap.sh floor   .venv-floor is exactly locks/floor.txt (./test.sh's floor pass)
#   scripts/bootstrap.sh core    .venv-core is exactly locks/core.txt, no extra, and budgetlr is
#                                installed as `pip install .` installs it, not editable
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
    core) venv=.venv-core command=(sync) ;;
    *) echo "usage: scripts/bootstrap.sh [run|test|floor|core]" >&2 && exit 2 ;;
esac
"$python" scripts/check_locks.py
uv=$(scripts/uv.sh)
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$uv" pip "${command[@]}" "locks/$environment.txt" --quiet --python "$venv/bin/python" --require-hashes
package=(-e .)
[ "$environment" != core ] || package=(--reinstall-package budgetlr .)
"$uv" pip install --quiet --python "$venv/bin/python" --no-deps --no-build-isolation "${package[@]}"
