#!/usr/bin/env bash
# The drift check, on purpose and apart from ./test.sh: resolves every extra to the newest
# releases that pyproject.toml allows today (torch held at the CPU build of 2.13.0, as in the
# locks), lists what moved since locks/test.txt, installs that unlocked environment into
# .venv-newest and runs the suite there. Arguments go to pytest (e.g. -m "not slow").
# What it found, each time it was run, is recorded in docs/dependencies.md.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=$(scripts/uv.sh)
newest=$(mktemp)
trap 'rm -f "$newest"' EXIT
"$uv" pip compile --quiet --python-version 3.11 --find-links /opt/wheels --emit-find-links --no-header \
    --no-annotate -c locks/constraints.txt pyproject.toml --all-extras -o "$newest"
pins() { grep -E '^[A-Za-z0-9]' "$1" | cut -d' ' -f1 | sort; }
moved=$(diff <(pins locks/test.txt) <(pins "$newest") | grep '^[<>]' || true)
echo "Moved since locks/test.txt (< locked, > newest):"
echo "${moved:-  nothing: the lock is the newest}"
[ -x .venv-newest/bin/python ] || python3 -m venv .venv-newest
"$uv" pip sync --quiet --python .venv-newest/bin/python "$newest"
"$uv" pip install --quiet --python .venv-newest/bin/python --no-deps --no-build-isolation -e .
.venv-newest/bin/python -m pytest -p no:cacheprovider "$@"
