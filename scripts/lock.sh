#!/usr/bin/env bash
# Refreshes the committed locks in locks/ from pyproject.toml: exact versions with hashes for
# every environment the project installs. Run it after changing a dependency or an extra; it keeps
# the versions already locked where they still fit, and `scripts/lock.sh --upgrade` moves every
# package to its newest release.
#   locks/run.txt    what ./run.sh installs: budgetlr[bench]
#   locks/core.txt   budgetlr with no extra, and the build backend that installs it as `pip install .`
#   locks/test.txt   what ./test.sh installs: every extra
#   locks/floor.txt  the floor environment: each direct dependency at the lowest version that
#                    pyproject.toml allows, so that its lower bounds are the tested floors
#   locks/uv.txt     the uv that installs them
# locks/constraints.txt holds torch at the CPU build in /opt/wheels, the folder pip's find-links
# names; uv does not read pip's configuration, so the folder is written into each lock.
set -euo pipefail
cd "$(dirname "$0")/.."
uv_version=0.13.8
wheels=/opt/wheels
uv=$(scripts/uv.sh)

compile() {  # OUTPUT [options of uv pip compile]
    local output=$1
    shift
    "$uv" pip compile --quiet --python-version 3.11 --generate-hashes --emit-find-links \
        --find-links "$wheels" --no-header -c locks/constraints.txt -o "$output" "$@"
}

compile locks/test.txt pyproject.toml --all-extras "$@"
# The run environment takes the test environment's versions: one is a subset of the other.
compile locks/run.txt pyproject.toml --extra bench -c locks/test.txt "$@"
grep -m1 -o '"setuptools[^"]*"' pyproject.toml | tr -d '"' |
    compile locks/core.txt pyproject.toml - -c locks/test.txt "$@"
# Resolved afresh each time: a lowered bound must reach the floor lock.
compile locks/floor.txt pyproject.toml --all-extras --resolution lowest-direct --upgrade
echo "uv==$uv_version" | compile locks/uv.txt - --no-emit-find-links
python3 scripts/check_locks.py --write
echo "locks/ refreshed: review with git diff locks/, then commit"
